"""Filling the vector cache (``search.vector_cache``; overview: ``search.semantic``): which of a
corpus's texts the cache lacks, and embedding those, loading the model only when something is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from search_api.search.embedder import Embedder, release_memory
from search_api.search.vector_cache import VectorCache, text_key


def scan_texts(
    texts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]], cache: VectorCache | None
) -> tuple[dict[str, list[bytes]], set[bytes], dict[bytes, str]]:
    """Read ``texts`` once: every document's text keys, the keys the cache has, and the texts it lacks."""
    keys: dict[str, list[bytes]] = {}
    text_of: dict[bytes, str] = {}  # texts to embed
    available: set[bytes] = set()
    pending: dict[bytes, str] = {}

    def settle() -> None:
        found = cache.present(list(pending)) if cache is not None else set()
        available.update(found)
        text_of.update((k, t) for k, t in pending.items() if k not in found)
        pending.clear()

    for doc_id, ts in texts.items() if isinstance(texts, Mapping) else texts:
        ks = [text_key(t) for t in ts]
        keys[doc_id] = ks
        for k, t in zip(ks, ts, strict=True):
            if k not in available and k not in text_of:
                pending.setdefault(k, t)
        if len(pending) >= 4096:
            settle()
    settle()
    return keys, available, text_of


def embed_missing(
    text_of: dict[bytes, str],
    embedder: Embedder | Callable[[], Embedder] | None,
    cache: VectorCache | None,
    available: set[bytes],
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 256,
) -> dict[bytes, np.ndarray]:
    """Embed ``text_of`` (loading the model only now), into the cache (their keys join
    ``available``) or, without a cache, into the mapping returned."""
    fresh: dict[bytes, np.ndarray] = {}
    missing = list(text_of)
    if not missing or embedder is None:
        return fresh
    emb = embedder if isinstance(embedder, Embedder) else embedder()
    missing.sort(key=lambda k: len(text_of[k]))  # similar lengths batch together
    try:
        for i in range(0, len(missing), chunk):
            part = missing[i : i + chunk]
            vecs = emb.embed_documents([text_of[k] for k in part])
            if cache is not None:
                cache.put_many(zip(part, vecs, strict=True))
                available.update(part)
            else:
                fresh.update(zip(part, vecs, strict=True))
            if progress:
                progress(min(i + chunk, len(missing)), len(missing))
    finally:
        release_memory()
    return fresh


def fill_cache(
    texts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
    embedder: Embedder | Callable[[], Embedder],
    cache: VectorCache,
) -> int:
    """Embed into the cache what it lacks of ``texts``, without building an index (what
    ``labourkb ingest`` does); the model is loaded only if something is missing. Returns how
    many texts were embedded."""
    _, available, text_of = scan_texts(texts, cache)
    embed_missing(text_of, embedder, cache, available)
    return len(text_of)
