"""Query-log records answered searches after ``kill -9``: how many answered searches are lost?

A real ``labourkb serve`` (its own process, the embedded engine, the real corpus index) is
searched by several concurrent clients through ``/api/search``. The moment the N-th answer
has arrived the server gets SIGKILL — no shutdown, no flush — while more searches are in
flight. Then the query-log file is opened and every query id the clients received is looked
up. Goal: ``lost`` = 0 in every run (a search in flight at the kill may be stored without
its answer having arrived: ``unanswered_stored``, harmless).

Usage: .venv/bin/python bench/querylog_kill.py [--searches 200] [--clients 8] [--runs 5] [--index PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, REPO, worker_queries

LABOURKB = Path(sys.executable).with_name("labourkb")


def build_index(index: Path) -> int:
    from ingest.pipeline import ingest
    from search_api.engines.sqlite import SqliteEngine

    engine = SqliteEngine(index)
    report = ingest([CORPUS], engine, lexicon_dir=LEXICON)
    engine.close()
    return report.documents


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path, index: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LABOURKB_")},
        "PYTHONPATH": str(REPO),
        "LABOURKB_DATA_DIR": str(workdir / "data"),
        "LABOURKB_SQLITE_PATH": str(index),
        "LABOURKB_ENGINE": "sqlite",
        "LABOURKB_SECRET_KEY": "bench",
        "LABOURKB_ACCESS_LOG": "false",
    }
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(LABOURKB), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"labourkb serve exited: {(workdir / 'server.log').read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("labourkb serve did not start")


def one_run(workdir: Path, index: Path, searches: int, clients: int, queries: list[str]) -> dict:
    proc, url = start_server(workdir, index)
    answered: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            i = n
            while not enough.is_set():
                i += clients
                try:
                    resp = http.get("/api/search", params={"q": queries[i % len(queries)], "size": 10})
                except httpx.HTTPError:
                    return
                if resp.status_code == 200:
                    with lock:
                        answered.append(resp.json()["query_id"])
                        if len(answered) >= searches:
                            enough.set()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    enough.wait(600)
    proc.kill()  # SIGKILL, the moment the N-th answer is in
    proc.wait(30)
    took = time.perf_counter() - t0
    for t in threads:
        t.join(30)
    conn = sqlite3.connect(workdir / "data" / "querylog.sqlite3")
    try:
        stored = {r[0] for r in conn.execute("SELECT query_id FROM queries")}
    finally:
        conn.close()
    with lock:
        got = set(answered)
    return {
        "answered": len(got),
        "stored": len(stored),
        "lost": len(got - stored),
        "unanswered_stored": len(stored - got),
        "seconds": round(took, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--searches", type=int, default=200, help="answered searches before the kill")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--index", type=Path, help="an existing SQLite index (default: build one from the corpus)")
    args = ap.parse_args()
    queries = worker_queries(max(args.searches * 2, 300))
    with tempfile.TemporaryDirectory(prefix="labourkb-kill-") as tmp:
        tmp_path = Path(tmp)
        index = args.index
        if index is None:
            index = tmp_path / "index.sqlite3"
            build_index(index)
        runs = []
        for r in range(args.runs):
            workdir = tmp_path / f"run{r}"
            workdir.mkdir()
            runs.append(one_run(workdir, index, args.searches, args.clients, queries))
            print(json.dumps(runs[-1]), file=sys.stderr)
    print(
        json.dumps(
            {
                "searches_before_kill": args.searches,
                "clients": args.clients,
                "runs": runs,
                "answered": sum(r["answered"] for r in runs),
                "lost": sum(r["lost"] for r in runs),
                "goal_lost": 0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
