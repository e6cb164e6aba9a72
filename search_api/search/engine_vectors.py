"""The semantic retriever over an engine that holds the vectors itself (Elasticsearch: ``engines.es_vectors``).

The model still runs here, for questions and for documents; the engine stores each document's
vectors and answers the nearest-neighbour search. ``sync`` brings the engine's vectors in line with
the documents: a document whose texts are unchanged (same ``texts_digest``) is not rewritten; texts
are looked up in the vector cache first, so only new text is embedded. ``EngineIndex`` gives the
engine the shape of ``search.vectors.VectorIndex`` (``search(vector, k)``), so ``SemanticRetriever``
serves both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from search_api.engines.base import SearchEngine
from search_api.search.embedder import Embedder, release_memory
from search_api.search.vector_cache import VectorCache, text_key
from search_api.search.vector_fill import embed_missing

BATCH = 256  # documents per round: vectors looked up (or embedded) and written together
# The engine's kNN does not weigh the everyday questions (search.distinct): it keeps the lift
# measured without those weights (the in-process index lifts search.vectors.EXTRA_WEIGHT).
ENGINE_EXTRA_WEIGHT = 0.5


def texts_digest(texts: Sequence[str]) -> str:
    """What a document's vectors were made from (model and texts), as stored beside them."""
    h = hashlib.sha256()
    for t in texts:
        h.update(text_key(t))
    return h.hexdigest()[:32]


class EngineIndex:
    """``search(vector, k)`` answered by the engine's kNN, scored as the in-process index is (questions unweighed)."""

    def __init__(self, engine: SearchEngine, extra_weight: float = ENGINE_EXTRA_WEIGHT):
        self.engine = engine
        self.extra_weight = extra_weight

    def search(self, query: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        return self.engine.nearest(np.asarray(query, dtype=np.float32).reshape(-1), k, self.extra_weight)


def _vectors(
    texts: Mapping[str, Sequence[str]], embedder: Embedder | Callable[[], Embedder], cache: VectorCache | None
) -> dict[bytes, np.ndarray]:
    """key → float vector of every text in ``texts``: from the cache, embedding (and caching) the
    rest; ``embedder`` may be a loader, called only when something is missing."""
    text_of = {text_key(t): t for ts in texts.values() for t in ts}
    found = cache.get_many(list(text_of)) if cache is not None else {}
    fresh = embed_missing({k: t for k, t in text_of.items() if k not in found}, embedder, None, set())
    if cache is not None and fresh:
        cache.put_many(fresh.items())
    found.update(fresh)
    return found


def sync(
    engine: SearchEngine,
    texts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
    embedder: Embedder | Callable[[], Embedder],
    cache: VectorCache | None,
    *,
    known: Mapping[str, str] | None = None,
) -> int:
    """Give every document of ``texts`` (doc_id → its own text, then its everyday questions; a
    mapping or a stream of pairs) its vectors in the engine, unless it has them for these very
    texts. ``known``: the engine's ``vector_keys()`` when the caller has them. Returns how many
    documents were written. A stream is read once, ``BATCH`` documents held at a time."""
    have = engine.vector_keys() if known is None else known
    written = 0
    part: dict[str, tuple[Sequence[str], str]] = {}  # doc_id → (its texts, their digest)

    def flush() -> int:
        vectors = _vectors({doc_id: ts for doc_id, (ts, _) in part.items()}, embedder, cache)
        items = []
        for doc_id, (ts, digest) in part.items():
            own = text_key(ts[0])
            asks = [vectors[k] for k in dict.fromkeys(text_key(t) for t in ts[1:]) if k != own]
            items.append((doc_id, digest, vectors[own], asks))
        part.clear()
        return engine.put_vectors(items)

    try:
        for doc_id, ts in texts.items() if isinstance(texts, Mapping) else texts:
            if ts and doc_id in have and have[doc_id] != (digest := texts_digest(ts)):
                part[doc_id] = (ts, digest)
                if len(part) >= BATCH:
                    written += flush()
        if part:
            written += flush()
    finally:
        release_memory()
    if written:
        engine.refresh()
    return written
