"""Ingest throughput over the whole corpus on one core: MB/s of source text and seconds per stage.

Usage: .venv/bin/python bench/ingest_throughput.py [--engine sqlite|elasticsearch|both] [--scale N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, scaled_corpus
from ingest.pipeline import ingest
from ingest.tokenise import get_tokeniser


def source_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.md") if p.name not in ("SOURCES.md", "README.md"))


def make_engine(name: str, tmp: Path):
    if name == "sqlite":
        from search_api.engines.sqlite import SqliteEngine

        return SqliteEngine(tmp / "bench.sqlite3")
    import uuid

    from search_api.engines import es_server
    from search_api.engines.elasticsearch import ElasticsearchEngine
    from search_api.settings import Settings

    url = es_server.ensure_running()
    return ElasticsearchEngine(
        Settings(engine="elasticsearch", es_url=url, es_index_prefix=f"bench-{uuid.uuid4().hex[:6]}")
    )


def run(engine_name: str, corpus: Path) -> dict:
    get_tokeniser(LEXICON)  # dictionary loading is start-up cost, not throughput
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(engine_name, Path(tmp))
        t0, c0 = time.perf_counter(), time.process_time()
        report = ingest([corpus], engine, lexicon_dir=LEXICON)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        if engine_name == "elasticsearch":
            engine.drop_indices()
        engine.close()
    mb = source_bytes(corpus) / 1e6
    return {
        "engine": engine_name,
        "source_mb": round(mb, 2),
        "documents": report.documents,
        "seconds": round(seconds, 2),
        "mb_per_s": round(mb / seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "mb_per_cpu_s": round(mb / cpu, 2),
        "docs_per_s": round(report.documents / seconds),
        "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
        "skipped": len(report.skipped),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="sqlite", choices=["sqlite", "elasticsearch", "both"])
    ap.add_argument("--scale", type=int, default=1)
    args = ap.parse_args()
    corpus = CORPUS
    tmpdir = None
    if args.scale > 1:
        tmpdir = tempfile.TemporaryDirectory()
        corpus = scaled_corpus(Path(tmpdir.name) / "corpus", args.scale)
    engines = ["sqlite", "elasticsearch"] if args.engine == "both" else [args.engine]
    results = [run(e, corpus) for e in engines]
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
    if len(results) == 2:
        print(f"ratio sqlite/elasticsearch MB/s: {results[0]['mb_per_s'] / results[1]['mb_per_s']:.2f}")


if __name__ == "__main__":
    main()
