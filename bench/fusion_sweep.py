"""How far the fusion of lexical and semantic scores can be tuned: one run, the development sets.

Ingests the corpus into a temporary SQLite index (the semantic layer on, vectors from
``data/bench-vectors``) and prints nDCG@10 on each development set — ``questions.jsonl`` and
``blind-1`` … ``blind-6``, all of them read or measured before — for variants of the fusion
(``search.fusion``), of the document priors (``ingest.segment.PRIORS``, re-ingested per variant)
and of a learned re-ranker: a pairwise logistic model over 18 features of each fused candidate,
trained with each set held out in turn (its nDCG is on the held-out set only). ``blind-7`` and
later sets are never read here: they are for the one honest measurement.

Usage: .venv/bin/python bench/fusion_sweep.py [--part fusion priors rerank]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, REPO, load_questions
from bench.relevance import VECTORS_DIR, ndcg

DEV_SETS = ("questions", "blind-1", "blind-2", "blind-3", "blind-4", "blind-5", "blind-6")
DOC_TYPES = ("judicial_interpretation", "administrative_regulation", "departmental_rule", "local_regulation")


def build(tmp: str, prior_factor: Callable[[object], float] | None = None):
    """A fresh SQLite index of the corpus; ``prior_factor(doc)`` scales each document's prior."""
    import ingest.pipeline as pipeline
    from search_api.engines.sqlite import SqliteEngine

    annotate = pipeline.annotate

    def scaled(docs, *args, **kwargs):
        annotate(docs, *args, **kwargs)
        for d in docs:
            d.prior = (d.prior or 1.0) * (prior_factor(d) if prior_factor else 1.0)

    pipeline.annotate = scaled
    try:
        engine = SqliteEngine(Path(tmp) / "sweep.sqlite3")
        pipeline.ingest([CORPUS], engine, lexicon_dir=LEXICON)
    finally:
        pipeline.annotate = annotate
    return engine


def service(engine, **settings):
    from search_api.search.service import SearchService
    from search_api.settings import Settings

    s = Settings(lexicon_dir=LEXICON, querylog_enabled=False, semantic=True, data_dir=VECTORS_DIR, **settings)
    svc = SearchService(s, engine)
    svc.semantic.start(background=False)
    if svc.semantic.retriever is None:
        raise SystemExit(f"semantic layer: {svc.semantic.status} (run `labourkb model fetch`)")
    return svc


def questions() -> dict[str, list[dict]]:
    return {s: load_questions(REPO / "corpus" / "eval" / f"{s}.jsonl") for s in DEV_SETS}


def report(label: str, per_set: dict[str, float]) -> None:
    values = [per_set[s] for s in DEV_SETS]
    print(f"{label:34} " + " ".join(f"{v:.3f}" for v in values) + f"   mean {np.mean(values):.4f}", flush=True)


def score(svc, qs: dict[str, list[dict]]) -> dict[str, float]:
    def rank(q: str) -> list[str]:
        return [h["id"] for h in svc.search(q, size=10, related=False).hits]

    return {s: float(np.mean([ndcg(rank(q["q"]), q["relevant"]) for q in rows])) for s, rows in qs.items()}


def fusion_part(qs) -> None:
    import search_api.search.fusion as fusion

    with tempfile.TemporaryDirectory() as tmp:
        engine = build(tmp)
        report("fusion as it is", score(service(engine), qs))
        for w in (0.4, 0.6):
            report(f"semantic weight {w}", score(service(engine, semantic_weight=w), qs))
        default = fusion.CASE_WEIGHT_FACTOR
        for f in (0.4, 0.8, 1.0):
            fusion.CASE_WEIGHT_FACTOR = f
            report(f"case weight factor {f}", score(service(engine), qs))
        fusion.CASE_WEIGHT_FACTOR = default
        svc = service(engine)
        index = svc.semantic.retriever.index
        for lift in (0.3, 0.7):  # how far an everyday question lifts its article (search.vectors.EXTRA_WEIGHT)
            default_lift, index.extra_weight = index.extra_weight, lift
            svc.semantic.retriever._cache.clear()
            report(f"everyday-question lift {lift}", score(svc, qs))
            index.extra_weight = default_lift
        svc.semantic.retriever._cache.clear()
        analyse = svc.analyse

        def with_expansions(q: str):
            a = analyse(q)
            extra = [t.text for t in sorted(a.terms, key=lambda t: -t.weight) if t.weight >= 0.9 and t.group >= 0]
            extra = [t for t in dict.fromkeys(extra) if len(t) > 1 and t not in a.semantic_text][:2]
            return dataclasses.replace(a, semantic_text=" ".join([a.semantic_text, *extra])) if extra else a

        svc.analyse = with_expansions
        report("model reads 2 thesaurus expansions", score(svc, qs))


def priors_part(qs) -> None:
    from ingest.segment import PRIORS

    variants: list[tuple[str, Callable[[object], float] | None]] = [("priors as they are", None)]
    for doc_type in DOC_TYPES:
        for to in (PRIORS[doc_type] - 0.05, PRIORS[doc_type] - 0.1):
            factor = to / PRIORS[doc_type]
            variants.append((f"{doc_type} {to:.2f}", lambda d, t=doc_type, f=factor: f if d.doc_type == t else 1.0))
    variants.append(("labor-law (1994) x0.9", lambda d: 0.9 if d.id.startswith("labor-law.") else 1.0))
    for label, factor in variants:
        with tempfile.TemporaryDirectory() as tmp:
            report(label, score(service(build(tmp, factor)), qs))


# -- the learned re-ranker -----------------------------------------------------------------


def candidates(svc, q: str) -> list[tuple[str, list[float], float, bool]]:
    """Each fused candidate of ``q``: id, features, the fused score as served, found lexically."""
    import search_api.search.service as service_module
    from search_api.search import fusion

    seen: dict = {}

    def record(lexical, semantic, docs, **kw):
        seen.update(lexical=lexical, semantic=semantic, docs=docs, kw=kw)
        return fusion.fuse(lexical, semantic, docs, **kw)

    service_module.fuse = record
    try:
        svc.search(q, size=10, related=False)
    finally:
        service_module.fuse = fusion.fuse
    if not seen:
        return []
    lexical, semantic = seen["lexical"], seen["semantic"]
    fused = {h.id: h.score for h in fusion.fuse(lexical, semantic, seen["docs"], **seen["kw"]).hits}
    cosine = dict(semantic)
    best, low = (semantic[0][1], semantic[-1][1]) if semantic else (0.0, 0.0)
    spread = (best - low) or 1.0
    top = lexical[0].score if lexical else 0.0
    lex_low = lexical[-1].score if len(lexical) > 1 else 0.0
    lex_spread = (top - lex_low) or top or 1.0
    case_first = float(bool(lexical) and lexical[0].doc.kind == "case")
    sem_rank = {d: i for i, (d, _) in enumerate(semantic)}
    hits = {h.id: (h, i) for i, h in enumerate(lexical)}
    for d, _ in semantic:
        if d not in hits and d in seen["docs"]:
            hits[d] = (None, None)
    rows = []
    for d, (hit, rank) in hits.items():
        doc = hit.doc if hit else seen["docs"][d]
        lex = (hit.score - lex_low) / lex_spread if hit and hit.score else 0.0
        sem = (cosine[d] - low) / spread if d in cosine else 0.0
        prior = float(doc.prior or 1.0)
        features = [
            lex, sem, sem * case_first, lex * case_first, hit.coverage if hit else 0.0, float(hit is not None),
            float(d in cosine), 1 / (1 + rank) if rank is not None else 0.0,
            1 / (1 + sem_rank[d]) if d in sem_rank else 0.0, math.log(prior), float(doc.kind == "case"),
            float(doc.kind == "law"), *(float(doc.doc_type == t) for t in DOC_TYPES), (best - 0.65) * sem, case_first,
        ]  # fmt: skip
        rows.append((d, features, fused.get(d, -1.0), hit is not None))
    return rows


def train(pairs: list[np.ndarray], l2: float = 1e-3) -> np.ndarray:
    """Pairwise logistic regression (Newton steps): a better-graded candidate above a worse one."""
    x = np.vstack(pairs)
    w = np.zeros(x.shape[1])
    for _ in range(12):
        p = 1 / (1 + np.exp(x @ w))
        grad = -(x * p[:, None]).mean(axis=0) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x / len(x) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def rerank_part(qs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        svc = service(build(tmp))
        data = {s: [(q, candidates(svc, q["q"])) for q in rows] for s, rows in qs.items()}

    def pairs_of(sets) -> list[np.ndarray]:
        out = []
        for s in sets:
            for q, rows in data[s]:
                x = np.array([f for _, f, _, _ in rows])
                g = np.array([q["relevant"].get(d, 0) for d, _, _, _ in rows])
                out += [x[a] - x[g < g[a]] for a in np.flatnonzero(g > 0) if (g < g[a]).any()]
        return out

    def ndcg_of(s: str, w: np.ndarray | None, kept_only: bool) -> float:
        values = []
        for q, rows in data[s]:
            rows = [r for r in rows if not kept_only or r[2] >= 0]
            key = (lambda r: -float(np.dot(w, r[1]))) if w is not None else (lambda r: -r[2])
            values.append(ndcg([d for d, *_ in sorted(rows, key=lambda r: (key(r), r[0]))], q["relevant"]))
        return float(np.mean(values))

    served, free, kept = {}, {}, {}
    for s in DEV_SETS:
        w = train(pairs_of([t for t in DEV_SETS if t != s]))
        served[s], free[s], kept[s] = ndcg_of(s, None, True), ndcg_of(s, w, False), ndcg_of(s, w, True)
    report("fused order as served", served)
    report("re-ranker, any candidate (held out)", free)
    report("re-ranker, answering set (held out)", kept)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", nargs="+", default=["fusion", "priors", "rerank"], choices=["fusion", "priors", "rerank"])
    args = ap.parse_args()
    qs = questions()
    names = (s.replace("questions", "main").replace("blind-", "b") for s in DEV_SETS)
    print(f"{'nDCG@10 on':34} " + " ".join(f"{n:>5}" for n in names))
    for part in args.part:
        {"fusion": fusion_part, "priors": priors_part, "rerank": rerank_part}[part](qs)


if __name__ == "__main__":
    main()
