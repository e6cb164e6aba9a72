"""The semantic retriever over an engine that holds the vectors itself (Elasticsearch: ``engines.es_vectors``).

The model still runs here, for questions and for documents; the engine stores each document's
vectors and answers the nearest-neighbour search. ``sync`` brings the engine's vectors in line with
the documents: a document whose texts and question weights are unchanged (same ``vectors_digest``)
is not rewritten; texts are looked up in the vector cache first, so only new text is embedded. Each
everyday question goes to the engine with its weight (``search.distinct``: a generic question lifts
its article less), computed here over the whole corpus as the in-process index computes it, so both
engines rank by meaning alike. ``EngineIndex`` gives the
engine the shape of ``search.vectors.VectorIndex`` (``search(vector, k)``), so ``SemanticRetriever``
serves both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from search_api.engines.base import SearchEngine
from search_api.search.embedder import Embedder, release_memory
from search_api.search.vector_cache import VectorCache
from search_api.search.vector_fill import embed_missing, scan_texts
from search_api.search.vectors import EXTRA_WEIGHT, VectorIndex

BATCH = 256  # documents written per round (their vectors read from the cache together)
OFFSET_DIGITS = 4  # a question's offset as part of what its vectors were made from (finer is noise)


def vectors_digest(keys: Sequence[bytes], offsets: Sequence[float] = ()) -> str:
    """What a document's vectors were made from (model and texts, by their keys, and the weights of its
    everyday questions), as stored beside them: a document whose digest is unchanged is not rewritten."""
    h = hashlib.sha256(b"v2")
    for k in keys:
        h.update(k)
    h.update(",".join(f"{x:.{OFFSET_DIGITS}f}" for x in offsets).encode())
    return h.hexdigest()[:32]


class EngineIndex:
    """``search(vector, k)`` answered by the engine's kNN, scored as the in-process index is."""

    def __init__(self, engine: SearchEngine, extra_weight: float = EXTRA_WEIGHT):
        self.engine = engine
        self.extra_weight = extra_weight

    def search(self, query: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        return self.engine.nearest(np.asarray(query, dtype=np.float32).reshape(-1), k, self.extra_weight)


def sync(
    engine: SearchEngine,
    texts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
    embedder: Embedder | Callable[[], Embedder],
    cache: VectorCache | None,
    *,
    known: Mapping[str, str] | None = None,
    weigh_questions: bool = True,
) -> int:
    """Give every document of ``texts`` (doc_id → its own text, then its everyday questions; a
    mapping or a stream of pairs, read once) its vectors in the engine, unless it has them for these
    very texts and question weights. ``known``: the engine's ``vector_keys()`` when the caller has them.
    Returns how many documents were written.

    The question weights (``search.distinct``) compare every question with every other document's
    text, so ``texts`` must be the whole corpus; ``weigh_questions=False`` (documents added while
    serving) writes them unweighed, and the next full sync weighs them. Texts the cache lacks are
    embedded (the model loaded only then); memory: the corpus's int8 vectors for the moment (~40 MB
    at ×20), and the float vectors of ``BATCH`` documents being written."""
    have = engine.vector_keys() if known is None else known
    keys, available, text_of = scan_texts(texts, cache)
    vectors: VectorCache | dict[bytes, np.ndarray] = cache if cache is not None else {}
    try:
        fresh = embed_missing(text_of, embedder, cache, available)
        text_of.clear()
        if cache is None:
            vectors, available = fresh, set(fresh)
        keys = {d: ks for d, ks in keys.items() if ks and d in have and ks[0] in available}
        offsets = VectorIndex.question_offsets_by_document(keys, available, vectors) if weigh_questions else {}
        stale: list[tuple[str, str, list[bytes]]] = []
        for doc_id, ks in keys.items():
            asks = [k for k in dict.fromkeys(ks[1:]) if k != ks[0] and k in available]
            offs = offsets.get(doc_id, np.zeros(len(asks), dtype=np.float32))
            digest = vectors_digest([ks[0], *asks], [float(x) for x in offs])
            if have[doc_id] != digest:
                stale.append((doc_id, digest, [ks[0], *asks]))
        written = 0
        for i in range(0, len(stale), BATCH):
            part = stale[i : i + BATCH]
            wanted = [k for _, _, ks in part for k in ks]
            found = vectors.get_many(wanted) if isinstance(vectors, VectorCache) else vectors
            items = []
            for doc_id, digest, ks in part:
                offs = offsets.get(doc_id, np.zeros(len(ks) - 1, dtype=np.float32))
                items.append((doc_id, digest, found[ks[0]], [found[k] for k in ks[1:]], [float(x) for x in offs]))
            written += engine.put_vectors(items)
    finally:
        release_memory()
    if written:
        engine.refresh()
    return written
