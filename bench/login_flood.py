"""Login flood: what anonymous clients hammering POST /login cost a worker's search.

Starts a real `labourkb serve` (temporary data directory, the corpus ingested,
LABOURKB_COOKIE_SECURE=false), then measures the median latency of /api/search for worker
questions (one client, one keep-alive connection, requests one after another):

* with no flood;
* while 8, then 16 flood clients post /login with unknown names as fast as the server
  answers, ignoring Retry-After. Each flood client first GETs /login for the anonymous
  CSRF cookie and hidden field, so its posts pass the CSRF check and reach the login logic.

Two kinds of flood: ``one-address`` (every client from 127.0.0.1, as in issue 12) and
``many-addresses`` (each client from its own loopback address 127.0.<i>.<j>, so the
per-address limit applies to each separately and only the limit on all clients together
holds the hashing back). Flood clients run in their own processes.

Prints JSON: the medians, their ratio to the no-flood median (goal: ≤ 2), and how the
server answered the flood (status counts; 400 = a password was checked, 429 = refused
before hashing).

Usage: .venv/bin/python bench/login_flood.py [--searches 200] [--clients 8 16]
       [--floods one-address many-addresses]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, REPO, percentile, worker_queries

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, port: int, extra_env: dict[str, str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "LABOURKB_DATA_DIR": str(data),
        "LABOURKB_CORPUS_DIR": str(CORPUS),
        "LABOURKB_LEXICON_DIR": str(LEXICON),
        "LABOURKB_COOKIE_SECURE": "false",
        "LABOURKB_QUERYLOG_ENABLED": "false",
        **extra_env,
    }
    cli = [sys.executable, "-m", "search_api.cli"]
    subprocess.run([*cli, "ingest"], env=env, check=True, capture_output=True, cwd=REPO)
    proc = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


# ---- the flood --------------------------------------------------------------------------------


def search_latencies(port: int, queries: list[str]) -> list[float]:
    """Seconds per /api/search, one after another over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        conn.request("GET", f"/api/search?q={quote(q)}&size=10")
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t0)
        assert response.status == 200, response.status
    conn.close()
    return times


def latency(times: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(times) * 1000, 2), "p95_ms": round(percentile(times, 95) * 1000, 2)}


def measure(port: int, queries: list[str], clients: int, flood: str | None) -> dict:
    if not clients or flood is None:
        times = search_latencies(port, queries)
        return {
            "median_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(percentile(times, 95) * 1000, 2),
        }
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    sources = ["127.0.0.1" if flood == "one-address" else f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(clients)]
    # The flood runs for a head start plus however long the searches take.
    stop_at = ctx.Value("d", time.time() + 600)
    procs = [ctx.Process(target=flood_client, args=(port, src, stop_at, out), daemon=True) for src in sources]
    for p in procs:
        p.start()
    try:
        time.sleep(3.0)  # let the flood reach its steady state (buckets drained, queue full)
        t0 = time.time()
        times = search_latencies(port, queries)
        seconds = time.time() - t0
    finally:
        stop_at.value = time.time()
    counts: Counter = Counter()
    for _ in procs:
        counts.update(out.get(timeout=120))
    for p in procs:
        p.join(timeout=30)
    return {
        **latency(times),
        "search_seconds": round(seconds, 1),
        "login_answers": {str(k): v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))},
    }


def flood_client(port: int, source: str, stop_at, out) -> None:
    """One flood client (its own process): GET /login once, then POST unknown names until the
    shared ``stop_at`` (epoch seconds) passes; puts its status counts on ``out``."""
    counts: Counter = Counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode("utf-8")
    cookie = response.getheader("set-cookie", "").split(";", 1)[0]
    token = CSRF_FIELD.search(page).group(1)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    while time.time() < stop_at.value:
        body = urlencode({"csrf_token": token, "username": f"nobody-{uuid.uuid4().hex[:10]}", "password": "x" * 12})
        try:
            conn.request("POST", "/login", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            counts[response.status] += 1
        except (OSError, http.client.HTTPException):
            counts["error"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    out.put(dict(counts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--searches", type=int, default=200, help="searches per measurement")
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--floods", nargs="+", default=["one-address", "many-addresses"])
    ap.add_argument(
        "--env", action="append", default=[], help="extra NAME=VALUE for the server, e.g. LABOURKB_LOGIN_RATE_TOTAL=100"
    )
    args = ap.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    queries = worker_queries(args.searches)
    result: dict = {"searches": args.searches, "server_env": extra_env, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(Path(tmp) / "data", port, extra_env)
        try:
            search_latencies(port, queries)  # warm the caches: every phase then meets them alike
            base = measure(port, queries, 0, None)
            result["no_flood"] = base
            for flood in args.floods:
                for clients in args.clients:
                    m = measure(port, queries, clients, flood)
                    m["ratio"] = round(m["median_ms"] / base["median_ms"], 2)
                    result[f"{flood}_{clients}"] = m
            result["no_flood_after"] = measure(port, queries, 0, None)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["worst_ratio"] = max(v["ratio"] for v in result.values() if isinstance(v, dict) and "ratio" in v)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
