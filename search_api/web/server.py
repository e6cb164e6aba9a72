"""Serving the app: one process, or several worker processes sharing a port.

Several workers are separate processes, each with its own listening socket on the same address
(``SO_REUSEPORT``: the kernel spreads new connections across the sockets that listen). Measured
here, uvicorn's own ``--workers`` (one socket shared by its children) split connections unevenly;
with a socket per process the kernel balances them.

Every accepted connection must have TCP_NODELAY: uvicorn writes a response's head and body in two
sends, and with Nagle's algorithm on, the body waits for the client's delayed ACK of the head —
~40 ms on every keep-alive request after the first. asyncio sets the option only on sockets whose
``proto`` is ``IPPROTO_TCP``, and an accepted socket inherits ``proto`` from its listener; a
listener made with ``socket(AF_INET, SOCK_STREAM)`` has ``proto`` 0, so the listener here names
TCP explicitly and carries TCP_NODELAY itself (Linux copies it to accepted sockets).

Each worker builds the app and finishes its start-up — the semantic layer loaded, the term caches
warmed — before its socket listens, so a worker (re)started under load takes traffic only when it
answers at full speed. The parent only supervises: it restarts a worker that died, stops them all
on SIGTERM/SIGINT, and the workers die with it (``PR_SET_PDEATHSIG``) if it is killed.

Shared state is what the processes already share safely: the SQLite files (WAL, one writer at a
time, readers never blocked) or Elasticsearch. Warnings are deduplicated by the database
(``INSERT OR IGNORE`` on their window), so N workers never raise one warning N times.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.connection import wait
from typing import Any

from search_api.settings import Settings

log = logging.getLogger("labourkb")

RESTART_DELAY = 1.0  # seconds before a dead worker is started again
STOP_GRACE = 20.0  # seconds a worker gets to finish its requests on stop


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening: the server listens once ready)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _uvicorn_server(settings: Settings, warm_first: bool) -> Any:
    import uvicorn

    from search_api.app import create_app
    from search_api.monitoring.access_log import AccessLog

    app = create_app(settings, warm_first=warm_first)
    # uvicorn's access log prints client addresses and query strings, and its proxy-header
    # handling would decide the client address: both off; deps.client_ip and
    # LABOURKB_TRUSTED_PROXIES decide it, LABOURKB_ACCESS_LOG logs routes only.
    config = uvicorn.Config(
        AccessLog(app) if settings.access_log else app,
        log_level="info",
        access_log=False,
        proxy_headers=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve_one(settings: Settings, host: str, port: int) -> None:
    """Serve in this process (one worker)."""
    server = _uvicorn_server(settings, warm_first=False)
    server.run(sockets=[listening_socket(host, port, reuse_port=False)])


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(settings: Settings, host: str, port: int, number: int) -> None:
    _die_with_parent()
    server = _uvicorn_server(settings, warm_first=True)
    server.run(sockets=[listening_socket(host, port, reuse_port=True)])


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run ``workers`` worker processes on ``host:port`` and supervise them until SIGTERM/SIGINT."""
    # Fail here, in the foreground, if the address is taken. Without SO_REUSEPORT: with it, a
    # second server of the same user would silently share the port with the first.
    listening_socket(host, port, reuse_port=False).close()
    ctx = multiprocessing.get_context("spawn")
    procs: dict[int, Any] = {}
    stopping = False

    def start(number: int) -> None:
        p = ctx.Process(target=_worker, args=(settings, host, port, number), name=f"labourkb-worker-{number}")
        p.start()
        procs[number] = p

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for p in procs.values():
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(1, workers + 1):
        start(number)
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    while not stopping:
        wait([p.sentinel for p in procs.values()], timeout=1.0)
        for number, p in list(procs.items()):
            if p.exitcode is not None and not stopping:
                log.warning("worker %d exited with %s; starting it again", number, p.exitcode)
                time.sleep(RESTART_DELAY)
                if not stopping:
                    start(number)
    deadline = time.monotonic() + STOP_GRACE
    for p in procs.values():
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
