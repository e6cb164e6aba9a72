"""/api/search latency in-process over worker-style queries, on the corpus scaled ×N, and the
peak RSS of a real `labourkb serve` process answering them.

Usage: .venv/bin/python bench/search_latency.py [--scale 20] [--queries 300] [--engine sqlite|elasticsearch|both]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LEXICON, REPO, load_questions, scaled_corpus, summary_ms, worker_queries


def settings_for(engine: str, data: Path, es_url: str | None, prefix: str):
    from search_api.settings import Settings

    return Settings(
        data_dir=data,
        engine=engine,
        lexicon_dir=LEXICON,
        es_url=es_url or "http://127.0.0.1:9250",
        es_index_prefix=prefix,
        querylog_enabled=False,
        warm_cache=False,
    )


def build_index(settings, corpus: Path) -> float:
    from ingest.pipeline import ingest
    from search_api.engines import get_engine

    engine = get_engine(settings)
    t0 = time.perf_counter()
    ingest([corpus], engine, lexicon_dir=LEXICON)
    seconds = time.perf_counter() - t0
    engine.close()
    return seconds


def in_process_latency(settings, queries: list[str], warm_up: bool = False) -> dict:
    """Time /api/search in-process. ``warm_up`` first runs the start-up cache warm-up to completion."""
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    app = create_app(settings)
    with TestClient(app) as client:
        client.get("/api/search", params={"q": "工资"})  # open the index, load the dictionary
        if warm_up:
            app.state.service.warm_up()
        times = []
        for q in queries:
            t0 = time.perf_counter()
            r = client.get("/api/search", params={"q": q, "size": 10})
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, (q, r.status_code, r.text[:200])
    # The first pass over the distinct questions meets the per-term caches cold; the
    # variants after it (same content words, other filler) find their terms cached.
    first = min(len(load_questions()), len(times))
    return {"all": summary_ms(times), "cold_first_pass": summary_ms(times[:first]), "warm": summary_ms(times[first:])}


def in_fresh_process(settings, queries: list[str], warm_up: bool) -> dict:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(in_process_latency, (settings, queries, warm_up))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_peak_rss(settings, queries: list[str]) -> float:
    """Start `labourkb serve`, send the queries over HTTP, read VmHWM (peak RSS) of the process."""
    port = free_port()
    env = dict(
        os.environ,
        LABOURKB_DATA_DIR=str(settings.data_dir),
        LABOURKB_ENGINE=settings.engine,
        LABOURKB_ES_URL=settings.es_url,
        LABOURKB_ES_INDEX_PREFIX=settings.es_index_prefix,
        LABOURKB_QUERYLOG_ENABLED="true",
    )
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/labourkb"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        for q in queries:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/search?q={urllib.parse.quote(q)}", timeout=10).read()
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q={urllib.parse.quote(q)}", timeout=10).read()
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM"))) / 1024
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--engine", default="sqlite", choices=["sqlite", "elasticsearch", "both"])
    ap.add_argument("--no-rss", action="store_true")
    args = ap.parse_args()
    queries = worker_queries(args.queries)
    engines = ["sqlite", "elasticsearch"] if args.engine == "both" else [args.engine]
    es_url = None
    if "elasticsearch" in engines:
        from search_api.engines import es_server

        es_url = es_server.ensure_running()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = scaled_corpus(Path(tmp) / "corpus", args.scale)
        results = []
        for name in engines:
            prefix = f"bench-{os.getpid()}"
            settings = settings_for(name, Path(tmp) / f"data-{name}", es_url, prefix)
            row = {"engine": name, "scale": args.scale, "ingest_s": round(build_index(settings, corpus), 1)}
            # each configuration in a fresh process, as a fresh server would be
            row["api_search_ms"] = in_fresh_process(settings, queries, False)
            row["api_search_ms_after_warm_up"] = in_fresh_process(settings, queries, True)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            if not args.no_rss:
                row["server_peak_rss_mb"] = round(server_peak_rss(settings, queries[:100]), 1)
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            if name == "elasticsearch":
                from search_api.engines.elasticsearch import ElasticsearchEngine

                ElasticsearchEngine(settings).drop_indices()
        if len(results) == 2:
            a, b = results[0]["api_search_ms"]["all"], results[1]["api_search_ms"]["all"]
            print(f"ratio elasticsearch/sqlite p50: {b['p50'] / a['p50']:.2f}, p99: {b['p99'] / a['p99']:.2f}")


if __name__ == "__main__":
    main()
