"""Soak: a real `labourkb serve` under many concurrent clients for minutes; RSS over time, dropped requests.

The clients mix what the site gets: result pages (with facets), API searches, article pages,
and clicks. Every request must get an HTTP response (any status); a connection error or a
timeout counts as dropped. The server's RSS (with its children) is sampled every
``--every`` seconds; a leak shows as RSS still rising in the last third of the run.

Usage: .venv/bin/python bench/soak.py [--minutes 10] [--clients 50] [--every 30] [--scale 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, REPO, scaled_corpus, worker_queries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def start_server(data: Path, corpus: Path, port: int, workers: int | None) -> subprocess.Popen:
    env = {
        **os.environ,
        "LABOURKB_DATA_DIR": str(data),
        "LABOURKB_CORPUS_DIR": str(corpus),
        "LABOURKB_LEXICON_DIR": str(LEXICON),
        "LABOURKB_COOKIE_SECURE": "false",
    }
    cli = [sys.executable, "-m", "search_api.cli"]
    subprocess.run([*cli, "ingest"], env=env, check=True, capture_output=True, cwd=REPO)
    # one worker by default: the RSS read below is that process's
    args = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers or 1)]
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


async def client_loop(base: str, queries: list[str], stop: float, counts: dict, seed: int) -> None:
    import httpx

    rnd = random.Random(seed)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        while time.monotonic() < stop:
            q = quote(rnd.choice(queries))
            path = rnd.choice(
                [
                    f"/search?q={q}",
                    f"/api/search?q={q}",
                    f"/search?q={q}&kind=article",
                    "/doc/labor-contract-law.47",
                    f"/api/search?q={q}&facets=true&page=2",
                ]
            )
            try:
                r = await client.get(path)
                counts["ok" if r.status_code < 500 else "5xx"] += 1
            except httpx.HTTPError:
                counts["dropped"] += 1


async def run(base: str, queries: list[str], clients: int, seconds: float, pid: int, every: float) -> dict:
    counts = {"ok": 0, "5xx": 0, "dropped": 0}
    stop = time.monotonic() + seconds
    samples = [(0.0, round(rss_mb(pid), 1))]
    tasks = [asyncio.create_task(client_loop(base, queries, stop, counts, i)) for i in range(clients)]
    t0 = time.monotonic()
    while time.monotonic() < stop:
        await asyncio.sleep(min(every, max(0.0, stop - time.monotonic())))
        samples.append((round(time.monotonic() - t0), round(rss_mb(pid), 1)))
    await asyncio.gather(*tasks)
    return {"requests": counts, "rss_mb": samples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--every", type=float, default=30)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    queries = worker_queries(300)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = scaled_corpus(Path(tmp) / "corpus", args.scale) if args.scale > 1 else CORPUS
        port = free_port()
        server = start_server(Path(tmp) / "data", corpus, port, args.workers)
        try:
            result = asyncio.run(
                run(f"http://127.0.0.1:{port}", queries, args.clients, args.minutes * 60, server.pid, args.every)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    rss = [mb for _, mb in result["rss_mb"]]
    third = max(1, len(rss) // 3)
    result.update(
        clients=args.clients,
        minutes=args.minutes,
        scale=args.scale,
        peak_rss_mb=max(rss),
        last_third_growth_mb=round(rss[-1] - rss[-third - 1], 1) if len(rss) > third else 0.0,
    )
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
