"""Document vectors in Elasticsearch: the ``dense_vector`` fields, their upkeep and the kNN requests.

The application embeds (``search.semantic``); Elasticsearch stores the vectors and finds the
nearest. Every document carries its own text's vector (``vec``), one nested vector per everyday
question (``ask.vec``) and ``vec_key``, a digest of what was embedded, so a document whose texts did
not change is never rewritten. Re-indexing a document (its content changed) replaces it without
vectors; the next ``labourkb ingest`` (or the server's semantic layer at start-up) fills them in.

Scores are the ones the in-process index gives (``search.vectors.VectorIndex``): a document's own
cosine, lifted part of the way towards its best question, ``own + w · max(0, best − own)``. One
request finds the union of the documents nearest by their own text and by a question (both named
clauses, each score returned); a second, restricted to the union, fills in whichever of the two
scores the first left out, so the lift is computed from both for every candidate.

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
    "ask_n": {"type": "integer"},  # how many questions: a document without any needs no second look
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
    doc.update(vec_key=key, ask_n=len(asks))
    return action, json.dumps({"doc": doc}, separators=(",", ":"))


def _knn(field: str, vector: list[float], k: int, ids: Sequence[str] | None) -> dict[str, Any]:
    clause: dict[str, Any] = {
        "field": field,
        "query_vector": vector,
        "k": k,
        "num_candidates": max(k * CANDIDATE_FACTOR, 100),
    }
    if ids is not None:
        clause["filter"] = {"ids": {"values": list(ids)}}
    return {"knn": clause}


def nearest_body(vector: list[float], k: int, ids: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``_search`` body: documents nearest by their own text (clause ``own``) or by an everyday
    question (clause ``ask``, the best question of each document), each score returned by name.
    With ``ids``: only those documents, every one of them scored (the second request)."""
    k_each = len(ids) if ids is not None else k
    own = {**_knn("vec", vector, k_each, ids)}
    own["knn"]["_name"] = OWN
    ask = {
        "nested": {
            "path": "ask",
            "score_mode": "max",
            "_name": ASK,
            "query": _knn("ask.vec", vector, k_each, ids),
        }
    }
    return {
        "size": 2 * k_each,
        # ids from doc values, no stored field read: an ``_id`` decompresses the stored block holding
        # the ``_source`` (with the same change to light documents, the node's CPU per new question
        # 20–22 → 14.5–16 ms: docs/benchmarks.md, sessions 23–25)
        "stored_fields": ["_none_"],
        "docvalue_fields": ["id", "ask_n"],
        "filter_path": HIT_VALUES,
        "query": {"bool": {"should": [own, ask]}},
    }


def named_cosines(hits: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[dict[str, dict[str, float]], set[str]]:
    """``{doc_id: {"own": cos, "ask": cos}}`` from a response's ``(id, hit)`` pairs (a clause that did
    not match is absent), and the ids of documents that have everyday questions."""
    out: dict[str, dict[str, float]] = {}
    asking = set()
    for doc_id, h in hits:
        scores = h.get("matched_queries") or {}
        if isinstance(scores, list):  # named scores not asked for
            raise ValueError("named query scores missing: the request needs include_named_queries_score")
        out[doc_id] = {name: cosine(v) for name, v in scores.items() if name in (OWN, ASK)}
        if ((h.get("fields") or {}).get("ask_n") or [0])[0]:
            asking.add(doc_id)
    return out, asking


def _score(own: float, ask: float | None, extra_weight: float) -> float:
    return own + extra_weight * max(0.0, ask - own) if ask is not None else own


def incomplete(found: Mapping[str, Mapping[str, float]], asking: set[str], extra_weight: float, k: int) -> list[str]:
    """The documents whose missing score could still put them among the ``k`` best.

    A document missing from a clause's top k scores at most that clause's k-th score there (the
    score grows with both), and at least its known score; one whose best case cannot beat the
    k-th best worst case is left out, the rest are scored exactly by a second request.
    """
    floor = {c: min((s[c] for s in found.values() if c in s), default=-1.0) for c in (OWN, ASK)}
    low, high = {}, {}
    for doc_id, s in found.items():
        own, ask = s.get(OWN), s.get(ASK)
        if own is None:  # found by a question only
            low[doc_id] = _score(-1.0, ask, extra_weight)
            high[doc_id] = _score(min(floor[OWN], ask), ask, extra_weight)
        elif ask is None and doc_id in asking:
            low[doc_id] = own
            high[doc_id] = _score(own, floor[ASK], extra_weight)
        else:
            low[doc_id] = high[doc_id] = _score(own, ask, extra_weight)
    kth = sorted(low.values(), reverse=True)[min(k, len(low)) - 1] if low else -1.0
    return sorted(d for d in found if low[d] != high[d] and high[d] >= kth)


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
    """The ``k`` best ``(doc_id, score)`` by ``combine``'s score: one request (``nearest_body``), and a
    second for the documents whose missing score could still put them among the best
    (``incomplete``). ``search(body)``: the response's ``(id, hit)`` pairs."""
    found, asking = named_cosines(search(nearest_body(vector, k)))
    unsure = incomplete(found, asking, extra_weight, k)
    if unsure:
        for doc_id, scores in named_cosines(search(nearest_body(vector, k, unsure)))[0].items():
            found.setdefault(doc_id, {}).update(scores)
    return combine(found, extra_weight, k)
