"""One Elasticsearch search in process, two code trees alternating: wall time per search, requests
per search, and whether both trees give the same results (issue 13).

Usage: .venv/bin/python bench/es_search.py [--before COMMIT] [--rounds 3] [--questions 413]

The corpus is ingested once (×1) into the node of ``scripts/elasticsearch.sh`` under the prefix
``es-search-bench`` (kept between runs; ``--reingest`` makes it again). ``--before`` (default HEAD)
is exported with ``git archive`` and run against the working tree, each round a fresh process for
each, in the order before, after, after, before, … Each process runs every distinct question of
``corpus/eval/*.jsonl`` as ``/api/search`` does (page 1, size 10, related cases, no facets, the
semantic layer off), then once more with facets on (as the result page), and times a second pass
of the API form. Results (ids, scores, coverage, totals, facets, related cases) are compared
between the trees exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PREFIX = "es-search-bench"


def child(root: Path, data: Path, out: Path, reingest: bool) -> None:
    sys.path.insert(0, str(root))
    import elastic_transport

    from bench.common import CORPUS, LEXICON
    from bench.http_load import worker_questions
    from bench.search_latency import settings_for
    from search_api.engines.elasticsearch import ElasticsearchEngine
    from search_api.search.service import SearchService

    url = subprocess.run(
        ["bash", str(REPO / "scripts/elasticsearch.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()
    settings = settings_for("elasticsearch", data, url, PREFIX)  # semantic layer and query log off
    engine = ElasticsearchEngine(settings)
    if reingest or not engine.count():
        from ingest.pipeline import ingest

        engine.drop_indices()
        ingest([CORPUS], engine, lexicon_dir=LEXICON)
        engine.refresh()
    import search_api

    assert Path(search_api.__file__).resolve().is_relative_to(root.resolve()), search_api.__file__
    service = SearchService(settings, engine)
    questions = worker_questions()
    requests = [0]
    original = elastic_transport.Transport.perform_request

    def counting(self, *a, **kw):
        requests[0] += 1
        return original(self, *a, **kw)

    elastic_transport.Transport.perform_request = counting
    results = {}
    calls = []
    search = engine.search

    def recording(query):
        r = search(query)
        if query.terms:  # the ranked searches: ids, coverage, total and facets exactly, scores apart
            calls.append([[(h.id, h.coverage) for h in r.hits], r.total, r.facets, [h.score for h in r.hits]])
        return r

    engine.search = recording
    for facets in (False, True):
        for q in questions:
            r = service.search(q, size=10, facets=facets).as_dict()
            r.pop("took_ms", None)
            results[f"{facets}:{q}"] = r
    results["engine"] = calls
    engine.search = search
    requests[0] = 0
    times = []
    for q in questions:
        t0 = time.perf_counter()
        service.search(q, size=10)
        times.append(time.perf_counter() - t0)
    ms = sorted(t * 1000 for t in times)
    out.write_text(
        json.dumps(
            {
                "p50": ms[len(ms) // 2],
                "mean": statistics.fmean(ms),
                "p95": ms[int(len(ms) * 0.95)],
                "requests": requests[0] / len(questions),
                "results": results,
            },
            ensure_ascii=False,
        )
    )


def compare(before: dict, after: dict) -> None:
    """Every search's answer the same (scores to 1e-12 relative: the summation order may differ)."""
    ranked_b, ranked_a = before.pop("engine"), after.pop("engine")
    worst = max(
        (
            abs(x - y) / abs(y)
            for a, b in zip(ranked_a, ranked_b, strict=True)
            for x, y in zip(a[3], b[3], strict=False)
            if y
        ),
        default=0.0,
    )
    same_ranking = sum(a[:3] == b[:3] for a, b in zip(ranked_a, ranked_b, strict=True))
    print(
        f"engine: {same_ranking} of {len(ranked_b)} ranked searches the same ids, coverage, totals and facets; "
        f"largest relative score difference {worst:.1e}"
    )

    def rounded(r: dict) -> dict:
        return {**r, "hits": [{**h, "score": round(h["score"], 3)} for h in r["hits"]]}

    same = [k for k in before if rounded(before[k]) == rounded(after.get(k, {}))]
    print(f"service: {len(same)} of {len(before)} answers the same (related cases, answer card, scores to 3 places)")
    if len(same) < len(before):
        print("  different:", [k for k in before if k not in set(same)][:5])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="HEAD")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reingest", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("ROOT", "DATA", "OUT"))
    args = ap.parse_args()
    if args.child:
        root, data, out = args.child
        child(Path(root), Path(data), Path(out), args.reingest)
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", args.before], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        trees = {"before": before, "after": REPO}
        data = Path(tmp) / "data"
        # the index, made or checked once (untimed); a fixed hash seed makes highlights comparable
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        setup = [sys.executable, __file__, "--child", str(REPO), str(data), str(Path(tmp) / "setup.json")]
        subprocess.run(setup + (["--reingest"] if args.reingest else []), check=True, env=env)
        order = [n for i in range(args.rounds) for n in (("before", "after") if i % 2 == 0 else ("after", "before"))]
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for name in order:
            out = Path(tmp) / f"{name}-{len(runs[name])}.json"
            cmd = [sys.executable, __file__, "--child", str(trees[name]), str(data), str(out)]
            subprocess.run(cmd, check=True, env={**env, "PYTHONPATH": str(trees[name])})
            runs[name].append(json.loads(out.read_text()))
            r = runs[name][-1]
            load = os.getloadavg()[0]
            print(
                f"{name:6} p50 {r['p50']:6.1f} ms  mean {r['mean']:6.1f}  p95 {r['p95']:6.1f}  "
                f"requests/search {r['requests']:.2f}  load {load:.1f}",
                flush=True,
            )
        compare(runs["before"][0]["results"], runs["after"][0]["results"])
        for stat in ("p50", "mean"):
            b = statistics.median(r[stat] for r in runs["before"])
            a = statistics.median(r[stat] for r in runs["after"])
            print(f"{stat}: before {b:.1f} ms, after {a:.1f} ms, after/before {a / b:.2f}")


if __name__ == "__main__":
    main()
