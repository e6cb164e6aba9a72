"""The coarse kNN pass (``search.coarse``) against the full int8 scan on a large index: for every
question of the evaluation sets, whether the top-k scores are the same, and the time of each,
alternating question by question (so both see the same machine load).

Usage: .venv/bin/python bench/knn_recall.py --data DIR [--scale 20] [--k 50]
``DIR``: a ``bench/search_latency.py --semantic --data DIR`` directory (the ×N index and its vectors).
Only aggregate counts are printed (no question of a blind set is shown).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, load_questions, summary_ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--k", type=int, default=50)
    args = ap.parse_args()
    from search_api.engines.sqlite import SqliteEngine
    from search_api.search.semantic import Embedder, VectorCache, VectorIndex, document_texts
    from search_api.settings import Settings

    data = args.data / f"x{args.scale}" / "data-sqlite-semantic"
    engine = SqliteEngine(data / "index.sqlite3")
    t0 = time.perf_counter()
    coarse = VectorIndex.build(document_texts(engine.all_documents()), None, VectorCache(data / "vectors.sqlite3"))
    built = time.perf_counter() - t0
    exact = VectorIndex(coarse.doc_ids, coarse.matrix_t, coarse.scales, coarse.extra_owner, coarse_above=10**9)
    questions = [q["q"] for p in sorted((REPO / "corpus" / "eval").glob("*.jsonl")) for q in load_questions(p)]
    vectors = Embedder.load(Settings().model_dir).embed_queries(questions)
    same = same10 = 0
    times: dict[str, list[float]] = {"exact": [], "coarse": []}
    for v in vectors:
        t0 = time.perf_counter()
        a = exact.search(v, args.k)
        t1 = time.perf_counter()
        b = coarse.search(v, args.k)
        times["exact"].append(t1 - t0)
        times["coarse"].append(time.perf_counter() - t1)
        same += [s for _, s in a] == [s for _, s in b]
        same10 += [s for _, s in a[:10]] == [s for _, s in b[:10]]
    print(
        json.dumps(
            {
                "texts": coarse.rows,
                "documents": len(coarse),
                "index_mb": round(coarse.nbytes / 2**20, 1),
                "build_s": round(built, 1),
                "questions": len(vectors),
                f"top{args.k}_scores_identical": same,
                "top10_scores_identical": same10,
                **{f"{name}_ms": summary_ms(ts) for name, ts in times.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
