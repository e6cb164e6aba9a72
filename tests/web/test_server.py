"""``labourkb serve --workers N``: separate processes on one port, warm before they listen,
supervised, and gone with their parent (search_api/web/server.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from search_api.app import create_app
from search_api.web.server import listening_socket
from tests.conftest import make_settings
from tests.monitoring.server import LABOURKB, Server


def children(pid: int) -> list[int]:
    """The worker processes of a server (its children running the app, not multiprocessing's tracker)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return sorted(out)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def server(tmp_path, corpus_index):
    srv = Server(
        tmp_path,
        env={
            "LABOURKB_SQLITE_PATH": str(corpus_index),
            "LABOURKB_SEMANTIC": "false",
            "LABOURKB_QUERYLOG_ENABLED": "false",
        },
        workers=2,
        startup_timeout=180,  # two processes importing and warming on a busy 2-core machine
    )
    yield srv
    srv.stop()


def test_two_workers_share_the_port_and_both_answer(server):
    workers = children(server.proc.pid)
    assert len(workers) == 2, server.output()
    before = {pid: cpu_ticks(pid) for pid in workers}
    for i in range(120):
        # a new connection each time: the kernel spreads connections over the workers' sockets
        with httpx.Client() as client:
            r = client.get(server.url + "/api/search", params={"q": f"加班费怎么算{i}"})
            assert r.status_code == 200
    used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    assert all(ticks > 0 for ticks in used.values()), used
    assert min(used.values()) >= max(used.values()) / 8, used  # neither worker sits idle


def test_accepted_connections_have_tcp_nodelay():
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, inherited from the
    listener: a listener made without it left Nagle's algorithm on for every connection."""

    async def accepted_nodelay() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        sock = listening_socket("127.0.0.1", 0, reuse_port=False)
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        try:
            port = sock.getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            value = await asyncio.wait_for(seen, 10)
            writer.close()
            return value
        finally:
            server.close()

    # in a thread of its own: a test run before this one may have left an event loop running here
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: asyncio.run(accepted_nodelay())).result(timeout=60) != 0


def test_keep_alive_requests_do_not_wait_for_delayed_acks(server):
    """One keep-alive connection, several requests in turn: with Nagle on, each response's body
    waited for the client's delayed ACK of its head (>= 40 ms, the kernel's minimum, every time)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    times = []
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        reader = conn.makefile("rb")
        for _ in range(8):
            t0 = time.perf_counter()
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert len(reader.read(length)) == length
            times.append(time.perf_counter() - t0)
    assert min(times[1:]) < 0.030, times  # the fastest answer after the first: no 40 ms stall


def test_a_dead_worker_is_replaced_and_the_site_keeps_answering(server):
    first, second = children(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = children(server.proc.pid)
        if len(now) == 2 and first not in now:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"worker not replaced: {children(server.proc.pid)}\n{server.output()}")
    assert second in now
    assert httpx.get(server.url + "/api/search", params={"q": "工伤认定"}).status_code == 200


def test_workers_die_with_their_parent(server):
    workers = children(server.proc.pid)
    server.kill()  # SIGKILL: the parent cannot tell them
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(alive(p) for p in workers)


def test_a_taken_port_is_a_clear_error(tmp_path, server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABOURKB_")}
    env["LABOURKB_DATA_DIR"] = str(tmp_path / "other")
    port = server.url.rsplit(":", 1)[1]
    done = subprocess.run(
        [str(LABOURKB), "serve", "--port", port, "--workers", "2"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert f"端口 {port} 已被占用" in done.stderr and "Traceback" not in done.stderr


def test_a_worker_starts_listening_only_when_warm(tmp_path, corpus_index):
    settings = make_settings(tmp_path / "data", sqlite_path=corpus_index, warm_cache=True, semantic=True)
    settings = settings.model_copy(update={"model_dir": tmp_path / "no-model"})  # the layer settles quickly
    app = create_app(settings, warm_first=True)
    from fastapi.testclient import TestClient

    with TestClient(app):
        # start-up is over: the layer has settled and the term caches hold the lexicon's words
        assert app.state.service.semantic.ready.is_set()
        assert app.state.service.semantic.status.startswith("unavailable")
        assert app.state.engine._cache is not None and len(app.state.engine._cache._top) > 100
