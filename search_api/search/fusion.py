"""Lexical and semantic candidates fused into one ranking, in the application (on both engines).

The engine ranks lexically (BM25 per term, the shared formula, its answering set); the semantic
retriever (``search.semantic``) ranks by the cosine of the question to each document's own text
and everyday questions. Each side is min-max normalised — lexical over the pool the engine
returned, semantic over its top ``SEMANTIC_K`` (this model's cosines sit in a narrow band, so raw
cosines would not weigh alike across questions) — and summed with ``Settings.semantic_weight``.
A document only the semantic side found keeps its authority prior (a local rule stays after the national
one unless the question names the region). The fused answering set is the engine's answering set
(the engine already kept only what scores at least ``FLOOR_RATIO`` of its best: min-max put the
last of them at 0 lexically, and the fused floor used to cut answers the engine had found, a
lexical pool of one to four documents shrinking to its first) plus what only the semantic side
found at or above ``FLOOR_RATIO`` of the fused best. A worker's filters (a facet link followed:
``NARROWING`` fields) narrow that set after it is ranked, so a filtered page holds the documents the
link's count counted, in the unfiltered page's order. When the lexical side's best is a case, the
question tells a situation a case matches word for word, and the semantic side (which prefers the
article a case illustrates) weighs ``CASE_WEIGHT_FACTOR`` of its weight. Plain reciprocal-rank
fusion was measured to lose against this on the main set; weights are in docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ingest.model import Document
from search_api.engines.base import SearchHit
from search_api.engines.ranking import FLOOR_RATIO, count_facets

SEMANTIC_K = 50
# Below this cosine the nearest document is not about the question at all (nonsense,
# another subject): measured 0.37-0.54 for such inputs, from 0.69 for real questions.
NO_ANSWER_COSINE = 0.58
# A first hit this close to the question is a confident answer even if few words match.
CONFIDENT_COSINE = 0.74
FACET_FIELDS = ("kind", "source_title", "region", "topics")
# The semantic weight's share when the lexical side's best is a case (0.5 -> 0.3 at the default).
CASE_WEIGHT_FACTOR = 0.6
# Filters on these document fields (the facets' and the API's kind, law, region, topic) narrow the
# answering set of the question asked without them: a facet link's count is what the link shows.
# Other filters (``cites``, ``id``) select what is searched, in the engine.
NARROWING = ("kind", "doc_type", "source_id", "region", "level", "topics")


@dataclass
class Fused:
    hits: list[SearchHit]
    total: int
    facets: dict[str, dict[str, int]]
    best_cosine: float
    cosine: dict[str, float]


def split_filters(filters: Mapping[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``(the engine's filters, the narrowing ones)``: see ``NARROWING``."""
    engine = {k: v for k, v in filters.items() if k not in NARROWING}
    return engine, {k: v for k, v in filters.items() if k in NARROWING}


def narrowed(hits: list[SearchHit], narrow: Mapping[str, list[str]]) -> list[SearchHit]:
    """The hits whose (light) documents pass the narrowing filters, in their order."""
    return [h for h in hits if h.doc is not None and matches(h.doc, narrow)] if narrow else hits


def matches(doc: Document, filters: Mapping[str, list[str]]) -> bool:
    """Whether a semantic candidate passes the query's filters (as the engine applies them)."""
    for field, wanted in filters.items():
        value = getattr(doc, field, None)
        values = set(value) if isinstance(value, list) else {str(value or "")}
        if field == "id":
            values = {doc.id}
        if not values & set(wanted):
            return False
    return True


def fuse(
    lexical: list[SearchHit],
    semantic: list[tuple[str, float]],
    docs: Mapping[str, Document],
    *,
    weight: float,
    boosts: Mapping[str, Mapping[str, float]],
    filters: Mapping[str, list[str]],
    want_facets: bool,
    narrow: Mapping[str, list[str]] | None = None,
) -> Fused:
    """``lexical`` (the engine's answering set, best first) and ``semantic`` (``(id, cosine)``,
    best first) as one ranking. ``docs`` holds the documents of semantic-only candidates; a lexical
    hit needs its (light) document only when ``want_facets`` or ``narrow``, and the first one its
    ``kind``. ``filters`` are the engine's (``split_filters``): a semantic-only candidate must pass
    them as the lexical ones did; ``narrow`` keeps the fused set's documents that pass it."""
    cosine = dict(semantic)
    if lexical and lexical[0].doc is not None and lexical[0].doc.kind == "case":
        weight *= CASE_WEIGHT_FACTOR
    best_cos = semantic[0][1] if semantic else 0.0
    low = semantic[-1][1] if semantic else 0.0
    spread = (best_cos - low) or 1.0
    top_lex = lexical[0].score if lexical else 0.0
    low_lex = lexical[-1].score if len(lexical) > 1 else 0.0
    lex_spread = (top_lex - low_lex) or top_lex or 1.0
    by_id: dict[str, SearchHit] = {h.id: h for h in lexical}
    for doc_id, _ in semantic:
        if doc_id not in by_id and doc_id in docs and matches(docs[doc_id], filters):
            by_id[doc_id] = SearchHit(id=doc_id, score=0.0, doc=docs[doc_id], coverage=0.0)
    scored: list[tuple[float, str]] = []
    for doc_id, hit in by_id.items():
        lex = (hit.score - low_lex) / lex_spread if hit.score else 0.0
        sem = (cosine[doc_id] - low) / spread if doc_id in cosine else 0.0
        if hit.score == 0.0:  # found only by meaning: its authority still counts
            sem *= _prior(hit.doc, boosts)
        scored.append(((1 - weight) * lex + weight * sem, doc_id))
    scored.sort(key=lambda item: (-item[0], item[1]))
    floor = scored[0][0] * FLOOR_RATIO if scored else 0.0
    # the engine's answering set stays whole; the floor sorts out what only meaning found
    kept = [(s, i) for s, i in scored if (s >= floor and s > 0) or by_id[i].score > 0]
    hits = []
    for s, doc_id in kept:
        hit = by_id[doc_id]
        hits.append(SearchHit(id=doc_id, score=s, doc=hit.doc, coverage=hit.coverage))
    hits = narrowed(hits, narrow or {})
    facets = facets_of(h.doc for h in hits) if want_facets else {}
    return Fused(hits=hits, total=len(hits), facets=facets, best_cosine=best_cos, cosine=cosine)


def _prior(doc: Document, boosts: Mapping[str, Mapping[str, float]]) -> float:
    factor = float(doc.prior or 1.0)
    for field, by_value in boosts.items():
        factor *= by_value.get(str(getattr(doc, field, "") or ""), 1.0)
    return factor


def facets_of(docs: Iterable[Document]) -> dict[str, dict[str, int]]:
    return count_facets({f: getattr(d, f) or ("" if f != "topics" else ()) for f in FACET_FIELDS} for d in docs)
