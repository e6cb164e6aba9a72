"""Both engines on the same corpus and queries, in one run: ingest throughput and /api/search
latency, at the corpus scaled ×1, ×10 and ×50, with Elasticsearch/SQLite ratios.

Usage: .venv/bin/python bench/engine_compare.py [--scales 1,10,50] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import scaled_corpus, worker_queries
from bench.ingest_throughput import source_bytes
from bench.search_latency import build_index, in_process_latency, settings_for


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,10,50")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    from search_api.engines import es_server
    from search_api.engines.elasticsearch import ElasticsearchEngine

    es_url = es_server.ensure_running()
    queries = worker_queries(args.queries)
    rows = []
    for scale in [int(s) for s in args.scales.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = scaled_corpus(Path(tmp) / "corpus", scale)
            mb = source_bytes(corpus) / 1e6
            for name in ("sqlite", "elasticsearch"):
                settings = settings_for(name, Path(tmp) / f"data-{name}", es_url, f"cmp-{os.getpid()}-{scale}")
                seconds = build_index(settings, corpus)
                lat = in_process_latency(settings, queries)["all"]
                row = {
                    "scale": scale,
                    "engine": name,
                    "docs_mb": round(mb, 1),
                    "ingest_s": round(seconds, 1),
                    "ingest_mb_s": round(mb / seconds, 2),
                    "p50_ms": lat["p50"],
                    "p99_ms": lat["p99"],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                if name == "elasticsearch":
                    ElasticsearchEngine(settings).drop_indices()
    print(
        "\nscale | ingest MB/s sqlite / es (ratio es/sqlite) | p50 ms sqlite / es (ratio) | p99 ms sqlite / es (ratio)"
    )
    for scale in sorted({r["scale"] for r in rows}):
        s, e = (next(r for r in rows if r["scale"] == scale and r["engine"] == n) for n in ("sqlite", "elasticsearch"))
        print(
            f"×{scale} | {s['ingest_mb_s']} / {e['ingest_mb_s']} ({e['ingest_mb_s'] / s['ingest_mb_s']:.2f}) | "
            f"{s['p50_ms']} / {e['p50_ms']} ({e['p50_ms'] / s['p50_ms']:.2f}) | "
            f"{s['p99_ms']} / {e['p99_ms']} ({e['p99_ms'] / s['p99_ms']:.2f})"
        )


if __name__ == "__main__":
    main()
