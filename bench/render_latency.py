"""Server-side render time of the result page (/search) on the embedded engine.

Runs a few hundred worker-style queries through the real app in-process (TestClient,
query log on, as in production) over the real corpus, and prints p50/p95/p99 in ms for:

* ``page``: the whole /search request (search with facets, next steps, template, 繁/简 off)
* ``search``: ``SearchService.search(..., facets=True)`` alone, for the same queries
* ``page_trad``: the same page rendered in traditional characters
* ``filtered``: page 2 with a kind filter (facet links followed)

The target is page p95 ≤ 50 ms. Usage:
    .venv/bin/python bench/render_latency.py [--queries 300] [--data-dir DIR] [--warm-first] [--json]

At ×20 (the ×20 data directory of ``bench/http_load.py --data-root DIR``), without the semantic layer:
    LABOURKB_SEMANTIC=false .venv/bin/python bench/render_latency.py --data-dir DIR/data-sqlite-x20 --warm-first
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, summary_ms, worker_queries

TARGET_P95_MS = 50.0


def build(data_dir: Path):
    """Settings over ``data_dir``, ingesting the corpus first when its index is missing."""
    from ingest.pipeline import ingest
    from search_api.engines.sqlite import SqliteEngine
    from search_api.settings import Settings

    settings = Settings(data_dir=data_dir, corpus_dir=CORPUS, lexicon_dir=LEXICON, engine="sqlite")
    if not settings.index_path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = SqliteEngine(settings.index_path)
        ingest([CORPUS], engine, lexicon_dir=LEXICON)
        engine.close()
    return settings


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - t0)
    return out


def run(settings, queries: list[str], warm_first: bool = False) -> dict:
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    app = create_app(settings, warm_first=warm_first)
    with TestClient(app) as client:

        def page(params: dict):
            r = client.get("/search", params=params)
            assert r.status_code == 200, (params, r.status_code)

        for q in queries[:20]:  # warm the tokeniser and SQLite page cache, as a running server is
            page({"q": q})
        service = app.state.service
        return {
            "page": summary_ms(timed(lambda q: page({"q": q}), queries)),
            "search": summary_ms(timed(lambda q: service.search(q, facets=True, size=settings.page_size), queries)),
            "page_trad": summary_ms(timed(lambda q: page({"q": q, "script": "trad"}), queries)),
            "filtered": summary_ms(timed(lambda q: page({"q": q, "kind": "article", "page": "2"}), queries)),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, help="reuse this data directory (ingested when empty)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--warm-first",
        action="store_true",
        help="finish the start-up warm-up before the first request, as each `labourkb serve` worker does "
        "(else it runs in the background during the first queries)",
    )
    args = parser.parse_args(argv)
    queries = worker_queries(args.queries)
    with tempfile.TemporaryDirectory(prefix="labourkb-render-") as tmp:
        settings = build(args.data_dir or Path(tmp) / "data")
        results = run(settings, queries, args.warm_first)
    if args.json:
        print(json.dumps({"queries": len(queries), "target_p95_ms": TARGET_P95_MS, **results}, ensure_ascii=False))
    else:
        print(f"result page render over {len(queries)} worker queries (ms)")
        print(f"{'':10} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8}")
        for name, s in results.items():
            print(f"{name:10} {s['p50']:8.1f} {s['p95']:8.1f} {s['p99']:8.1f} {s['mean']:8.1f}")
        verdict = "meets" if results["page"]["p95"] <= TARGET_P95_MS else "MISSES"
        print(f"page p95 {results['page']['p95']:.1f} ms {verdict} the {TARGET_P95_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
