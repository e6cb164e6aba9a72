"""A real ``labourkb serve`` in a subprocess, for tests that need the process boundary.

Used by the kill test (records must survive ``kill -9``) and the access-log test (what the
server prints). The server gets its own data directory and port; its output goes to files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

LABOURKB = Path(sys.executable).with_name("labourkb")
REPO = Path(__file__).resolve().parents[2]  # this checkout's code, whatever the venv was installed from


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``labourkb serve`` on 127.0.0.1 with ``LABOURKB_*`` settings from ``env``."""

    def __init__(
        self, workdir: Path, env: dict[str, str] | None = None, startup_timeout: float = 90.0, workers: int = 1
    ):
        self.workdir, self.env = workdir, env
        self.data_dir = workdir / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = workdir / "server.stdout"
        self.stderr_path = workdir / "server.stderr"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LABOURKB_")},
            "PYTHONPATH": str(REPO),
            "LABOURKB_DATA_DIR": str(self.data_dir),
            "LABOURKB_ENGINE": "sqlite",
            "LABOURKB_WARM_CACHE": "false",
            "LABOURKB_SECRET_KEY": "server-test-secret",
            **(env or {}),
        }
        workdir.mkdir(parents=True, exist_ok=True)
        self._out = self.stdout_path.open("wb")
        self._err = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [str(LABOURKB), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            cwd=workdir,
            env=full_env,
            stdout=self._out,
            stderr=self._err,
        )
        self._wait_ready(startup_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"labourkb serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"labourkb serve did not start in {timeout}s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self._close_files()

    def stop(self) -> None:
        """SIGTERM and wait for a clean exit."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._close_files()

    def _close_files(self) -> None:
        for fh in (self._out, self._err):
            if not fh.closed:
                fh.close()

    def output(self) -> str:
        """Everything the server printed so far, stdout then stderr."""
        for fh in (self._out, self._err):
            if not fh.closed:
                fh.flush()
        return self.stdout_path.read_text("utf-8", "replace") + self.stderr_path.read_text("utf-8", "replace")


class SearchLoad:
    """Clients asking ``/api/search`` in threads, one per server given, until stopped or their server
    is gone; ``answered`` holds the query id of every search that got its answer.

    ``stop_after``: the clients stop by themselves once that many answers arrived (``enough`` is set).
    """

    def __init__(self, servers: list[Server], question: Callable[[int, int], str], stop_after: int | None = None):
        self.answered: list[str] = []
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self._stop = threading.Event()
        self._question, self._stop_after = question, stop_after
        self._threads = [threading.Thread(target=self._client, args=(s, n), daemon=True) for n, s in enumerate(servers)]
        for t in self._threads:
            t.start()

    def _client(self, server: Server, n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            i = 0
            while not (self._stop.is_set() or self.enough.is_set()):
                i += 1
                try:
                    resp = http.get("/api/search", params={"q": self._question(n, i)})
                except httpx.HTTPError:
                    return  # the server is gone
                if resp.status_code == 200:
                    with self.lock:
                        self.answered.append(resp.json()["query_id"])
                        if self._stop_after is not None and len(self.answered) >= self._stop_after:
                            self.enough.set()

    def count(self) -> int:
        with self.lock:
            return len(self.answered)

    def stop(self) -> list[str]:
        """Stop the clients, wait for them, and return the answered query ids."""
        self._stop.set()
        for t in self._threads:
            t.join(15)
        with self.lock:
            return list(self.answered)
