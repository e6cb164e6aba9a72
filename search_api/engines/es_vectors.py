"""Document vectors in Elasticsearch: the ``dense_vector`` fields, their upkeep and the kNN requests.

The application embeds (``search.semantic``); Elasticsearch stores the vectors and finds the
nearest. Every document carries its own text's vector (``vec``), one nested vector per everyday
question (``ask.vec``) and ``vec_key``, a digest of what was embedded, so a document whose texts did
not change is never rewritten. Re-indexing a document (its content changed) replaces it without
vectors; the next ``labourkb ingest`` (or the server's semantic layer at start-up) fills them in.

Scores are the ones the in-process index gives (``search.vectors.VectorIndex``): a document's own
cosine, lifted part of the way towards its best question, ``own + w · max(0, best − own)``. One
request finds the union of the documents nearest by their own text and by a question (both named
clauses, each score returned). A clause scores only its own k nearest, so a document the other
clause found lacks one score, and it is taken at its bound (``fill_in_bounds``) rather than asked
for: a second request did that for 0.97 of the questions, at 2.5 ms of the node's CPU and 1.5 ms of
ours each, for the same rankings within an index build's noise (docs/benchmarks.md, session 28).

Core Elasticsearch only (the integ-test build has ``dense_vector`` and kNN, no scripts and no
``rrf``/``linear`` retrievers): the fusion with the lexical ranking stays in the application.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# bge-small-zh-v1.5's dimension (``search.embedder.DIM``; a test keeps the two equal). The mapping is
# made before any model is loaded, and engines import nothing from ``search``.
VECTOR_DIMS = 512

_DENSE = {
    "type": "dense_vector",
    "dims": VECTOR_DIMS,
    "index": True,
    "similarity": "cosine",
    # int8 scalar quantisation, as the in-process index holds its vectors (a quarter of float32's memory)
    "index_options": {"type": "int8_hnsw"},
}
VECTOR_PROPERTIES: dict[str, Any] = {
    "vec": _DENSE,
    "ask": {"type": "nested", "properties": {"vec": _DENSE}},
    "vec_key": {"type": "keyword"},
}
# vectors are searched, never shown: keep them out of the stored document
SOURCE_EXCLUDES = ["vec", "ask"]

# What a request's answer keeps (filter_path) when the hits' doc values and named scores are all it
# needs: the index name, _score, total and shards are a sixth of the bytes written and decoded.
HIT_VALUES = "hits.hits.fields,hits.hits.matched_queries"

OWN, ASK = "own", "ask"
CANDIDATE_FACTOR = 4  # HNSW candidates per shard for each of the k wanted


def cosine(score: float) -> float:
    """Elasticsearch's cosine ``_score`` is ``(1 + cos) / 2``."""
    return 2.0 * float(score) - 1.0


def update_action(doc_id: str, key: str, own: Sequence[float], asks: Sequence[Sequence[float]]) -> tuple[str, str]:
    """The bulk ``update`` lines that set a document's vectors (a partial update: no script)."""
    action = json.dumps({"update": {"_id": doc_id, "retry_on_conflict": 3}})
    doc = {"vec": [round(float(x), 6) for x in own], "ask": [{"vec": [round(float(x), 6) for x in a]} for a in asks]}
    doc["vec_key"] = key
    return action, json.dumps({"doc": doc}, separators=(",", ":"))


def _knn(field: str, vector: list[float], k: int) -> dict[str, Any]:
    return {"knn": {"field": field, "query_vector": vector, "k": k, "num_candidates": max(k * CANDIDATE_FACTOR, 100)}}


def nearest_body(vector: list[float], k: int) -> dict[str, Any]:
    """The ``_search`` body: documents nearest by their own text (clause ``own``) or by an everyday
    question (clause ``ask``, the best question of each document), each score returned by name."""
    own = _knn("vec", vector, k)
    own["knn"]["_name"] = OWN
    ask = {"nested": {"path": "ask", "score_mode": "max", "_name": ASK, "query": _knn("ask.vec", vector, k)}}
    return {
        "size": 2 * k,
        # ids from doc values, no stored field read: an ``_id`` decompresses the stored block holding
        # the ``_source`` (with the same change to light documents, the node's CPU per new question
        # 20–22 → 14.5–16 ms: docs/benchmarks.md, sessions 23–25)
        "stored_fields": ["_none_"],
        "docvalue_fields": ["id"],
        "filter_path": HIT_VALUES,
        "query": {"bool": {"should": [own, ask]}},
    }


def named_cosines(hits: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, dict[str, float]]:
    """``{doc_id: {"own": cos, "ask": cos}}`` from a response's ``(id, hit)`` pairs (a clause that did
    not match is absent)."""
    out: dict[str, dict[str, float]] = {}
    for doc_id, h in hits:
        scores = h.get("matched_queries") or {}
        if isinstance(scores, list):  # named scores not asked for
            raise ValueError("named query scores missing: the request needs include_named_queries_score")
        out[doc_id] = {name: cosine(v) for name, v in scores.items() if name in (OWN, ASK)}
    return out


def _score(own: float, ask: float | None, extra_weight: float) -> float:
    return own + extra_weight * max(0.0, ask - own) if ask is not None else own


def fill_in_bounds(found: Mapping[str, dict[str, float]]) -> None:
    """Give a document found by a question alone the best own score it can have: below the own
    clause's k-th, and never above its question's (``combine`` then lifts it from there). A document
    found by its own text alone stays unlifted: its questions are further than the ask clause's k-th."""
    floor = min((s[OWN] for s in found.values() if OWN in s), default=None)
    if floor is None:  # no own text found at all: each document scores by its question (``combine``)
        return
    for s in found.values():
        if OWN not in s and ASK in s:
            s[OWN] = min(floor, s[ASK])


def combine(found: Mapping[str, Mapping[str, float]], extra_weight: float, k: int) -> list[tuple[str, float]]:
    """The ``k`` best ``(doc_id, score)``, best first: own + w · max(0, ask − own); a document without
    its own text's vector scores by its question alone (as if its own equalled it)."""
    scored = []
    for doc_id, s in found.items():
        own, ask = s.get(OWN), s.get(ASK)
        if own is None and ask is None:
            continue
        scored.append((_score(ask if own is None else own, ask, extra_weight), doc_id))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [(doc_id, score) for score, doc_id in scored[:k]]


Hits = list[tuple[str, dict[str, Any]]]


def nearest_documents(
    search: Callable[[dict[str, Any]], Hits], vector: list[float], k: int, extra_weight: float
) -> list[tuple[str, float]]:
    """The ``k`` best ``(doc_id, score)`` by ``combine``'s score from one request (``nearest_body``),
    a missing clause score taken at its bound (``fill_in_bounds``). ``search(body)``: the response's
    ``(id, hit)`` pairs."""
    found = named_cosines(search(nearest_body(vector, k)))
    fill_in_bounds(found)
    return combine(found, extra_weight, k)
