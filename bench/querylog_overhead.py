"""Search throughput with the query log on vs off, in one run, on the same index.

Two apps share one SQLite index built from the real corpus: one logs every search
(query log + warning monitor, as in production), the other logs nothing. They answer
the same worker-style queries through ``/api/search`` in small alternating blocks (on,
off, on, off …) so machine noise hits both alike. Each record is committed to the log
file before the answer leaves (see ``search_api.monitoring.querylog``); an "on" block is
timed until the background thread has also run the warning monitor on its records, so no
logging work escapes the measurement. Wall-clock throughput and process CPU time per
search are both reported; on a busy shared machine trust the CPU figure. The budget is
≤ 5 % fewer searches per second with logging on.

Also reported, measured alone (``log_search``): microseconds per call on the caller's
thread (redaction, tagging and the committed insert), process CPU per record including the
background work, and what that CPU is as a share of one search's CPU — the same overhead
figure without the noise of two apps taking turns.

Usage: .venv/bin/python bench/querylog_overhead.py [--queries 300] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, worker_queries


def make_settings(data: Path, index: Path, logging_on: bool):
    from search_api.settings import Settings

    return Settings(
        data_dir=data,
        engine="sqlite",
        sqlite_path=index,
        lexicon_dir=LEXICON,
        querylog_enabled=logging_on,
        secret_key="bench",
    )


def build_index(index: Path) -> int:
    from ingest.pipeline import ingest
    from search_api.engines.sqlite import SqliteEngine

    engine = SqliteEngine(index)
    report = ingest([CORPUS], engine, lexicon_dir=LEXICON)
    engine.close()
    return report.documents


def timed_block(client, queries: list[str], querylog=None) -> tuple[float, float]:
    """(wall, CPU) seconds to answer ``queries``; with logging on, until the log has written them too.

    CPU time is the whole process (all threads, the writer included): on a shared machine
    it is far steadier than wall time, which other processes' load distorts.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    for q in queries:
        r = client.get("/api/search", params={"q": q, "size": 10})
        assert r.status_code == 200, (q, r.status_code, r.text[:200])
    if querylog is not None:
        querylog.flush()  # background work is charged to logging, not left to bleed into the next block
    return time.perf_counter() - t0, time.process_time() - c0


def call_cost(querylog, n: int = 20_000) -> dict:
    """Microseconds per ``log_search`` call on the caller's thread; CPU per record with the background work."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        querylog.log_search(
            q=f"老板拖欠工资怎么办{i}",
            tokens=["老板", "拖欠工资"],
            engine="sqlite",
            total=3,
            top_ids=["a.1", "b.2"],
            took_ms=5.0,
            client_ip=f"10.1.{i % 250}.1",
            user_agent="ua",
        )
    returned = time.perf_counter() - t0
    querylog.flush()
    done, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "calls": n,
        "us_per_call": round(returned / n * 1e6, 2),
        "cpu_us_per_record": round(cpu / n * 1e6, 2),
        "records_per_s": round(n / done),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--block", type=int, default=20, help="queries per alternating block")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from search_api.app import create_app

    with tempfile.TemporaryDirectory(prefix="labourkb-bench-") as tmp:
        tmp_path = Path(tmp)
        index = tmp_path / "index.sqlite3"
        docs = build_index(index)
        queries = worker_queries(args.queries)
        app_on = create_app(make_settings(tmp_path / "on", index, True))
        app_off = create_app(make_settings(tmp_path / "off", index, False))
        spent = {"on": 0.0, "off": 0.0}
        cpu = {"on": 0.0, "off": 0.0}
        with TestClient(app_on) as on, TestClient(app_off) as off:
            ql = app_on.state.querylog  # create_app attached the warning monitor, as in production
            for client in (on, off):  # warm caches
                timed_block(client, queries[:30])
            # Small alternating blocks: load from other processes hits both sides alike.
            for _ in range(args.rounds):
                for start in range(0, len(queries), args.block):
                    block = queries[start : start + args.block]
                    for side, client, log in (("on", on, ql), ("off", off, None)):
                        wall, used = timed_block(client, block, log)
                        spent[side] += wall
                        cpu[side] += used
            cost = call_cost(ql)
        n = args.rounds * len(queries)
        on_rate, off_rate = n / spent["on"], n / spent["off"]
        result = {
            "documents": docs,
            "searches_each": n,
            "block": args.block,
            "searches_per_s_logging_off": round(off_rate, 1),
            "searches_per_s_logging_on": round(on_rate, 1),
            "overhead_pct": round((1 - on_rate / off_rate) * 100, 2),
            "cpu_ms_per_search_off": round(cpu["off"] / n * 1000, 3),
            "cpu_ms_per_search_on": round(cpu["on"] / n * 1000, 3),
            "cpu_overhead_pct": round((cpu["on"] / cpu["off"] - 1) * 100, 2),
            "budget_pct": 5.0,
            "log_search": cost,
            "log_cpu_share_of_search_pct": round(cost["cpu_us_per_record"] / (cpu["off"] / n * 1e6) * 100, 2),
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
