"""The semantic retriever beside BM25: an embedding model, a vector cache and a vector index.

Three modules; every public name is importable from this one (see ``__all__``):

* ``Embedder`` (``search.embedder``) — BAAI bge-small-zh-v1.5 (int8 ONNX, fetched and pinned by
  ``search.model``), run with onnxruntime on the CPU and the HF ``tokenizers`` WordPiece
  tokenizer. bge's conventions: the [CLS] vector, L2-normalised; documents truncated at 512
  tokens. Queries and documents go through ``ingest.normalise`` first (traditional→simplified,
  full→half width), as the lexical side does. Any missing, corrupt or unloadable model file
  raises ``ModelUnavailable``.
* ``VectorCache`` (``search.vector_cache``) — an SQLite file of vectors keyed by (model, SHA-256 of
  the embedded text), so an unchanged corpus re-ingests without embedding anything.
* ``VectorIndex`` (``search.vectors``) — every text's vector as int8 with a per-text scale (520
  bytes a text), one or more texts per document (an article's own text, then its everyday
  questions). A document scores its own text's cosine, lifted part of the way
  (``EXTRA_WEIGHT``) towards its best everyday question when that one is closer (each question
  weighed by how distinctive it is, ``search.distinct``):
  question-to-question cosines run higher than question-to-article ones (same genre), so a
  plain max lets any article with everyday questions crowd out the rest (measured in
  bench/semantic.py). Top-k by cosine with an int8 matrix product (onnxruntime
  ``MatMulInteger``, ~3 ms for 73,000 vectors on one core; the kernel and ``quantise_rows`` are
  in ``search.embedder``; the numpy float path is the reference and the fallback).
* ``SemanticRetriever`` (here) — the two together: ``semantic_scores(question, k)`` →
  ``[(doc_id, cosine)]`` for the service to fuse with the lexical ranking. Also here:
  ``document_text`` and ``texts_by_document``, what is embedded for a document.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from search_api.search.embedder import (
    DIM,
    DOC_WORKERS,
    MAX_QUERY_CHARS,
    MAX_TOKENS,
    Q_OFFSET,
    Q_RANGE,
    QUERY_INSTRUCTION,
    USE_INSTRUCTION,
    Embedder,
    l2_normalise,
    quantise_rows,
    release_memory,
)
from search_api.search.model import ModelUnavailable
from search_api.search.vector_cache import VectorCache, text_key
from search_api.search.vector_fill import fill_cache
from search_api.search.vectors import EXTRA_WEIGHT, VectorIndex

__all__ = [
    "DIM",
    "DOC_WORKERS",
    "EXTRA_WEIGHT",
    "MAX_QUERY_CHARS",
    "MAX_TOKENS",
    "QUERY_INSTRUCTION",
    "Q_OFFSET",
    "Q_RANGE",
    "USE_INSTRUCTION",
    "Embedder",
    "ModelUnavailable",
    "SemanticRetriever",
    "VectorCache",
    "VectorIndex",
    "document_text",
    "document_texts",
    "fill_cache",
    "l2_normalise",
    "quantise_rows",
    "release_memory",
    "text_key",
    "texts_by_document",
]


# ---------------------------------------------------------------------------------------------
# What is embedded for a document


def document_text(doc: Any) -> str:
    """The text embedded for a document (an ``ingest.model.Document`` or anything with its fields).

    An article: its law's short title, then the article text (which starts with 第N条) — the
    law's name tells a local rule from a national one. A whole law: its title and opening lines.
    A case, policy or news page: its title and text. The model reads the first 512 tokens.
    """
    kind = getattr(doc, "kind", "")
    text = getattr(doc, "text", "") or ""
    title = getattr(doc, "title", "") or ""
    if kind == "article":
        return f"{getattr(doc, 'short_title', '') or getattr(doc, 'source_title', '')} {text}".strip()
    if text.startswith(title):
        return text[:2000]
    return f"{title}\n{text[:2000]}".strip()


def document_texts(docs: Iterable[Any]) -> Iterator[tuple[str, list[str]]]:
    """``(doc_id, [its own text, *its everyday questions])`` for a stream of documents, without
    holding them (what the semantic layer reads from ``engine.all_documents()``)."""
    for d in docs:
        yield d.id, [document_text(d), *(q for q in (getattr(d, "questions", None) or ()) if q and q.strip())]


def texts_by_document(docs: Iterable[Any], extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """``{doc_id: [its own text, *extra texts]}`` — ``extra`` maps an article id to its everyday
    questions (``ingest.everyday.questions_by_article``); ids not among ``docs`` are ignored."""
    out = {d.id: [document_text(d)] for d in docs}
    for doc_id, questions in (extra or {}).items():
        if doc_id in out:
            out[doc_id].extend(q for q in questions if q and q.strip())
    return out


# ---------------------------------------------------------------------------------------------
# The retriever


class SemanticRetriever:
    """An embedder and an index: what the search service holds when the model is available."""

    def __init__(self, embedder: Embedder, index: VectorIndex, *, query_cache: int = 512):
        self.embedder = embedder
        self.index = index
        self._cache_size = query_cache
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, question: str) -> np.ndarray:
        """The question's vector; the last ``query_cache`` questions are remembered (workers
        ask the same few things: a repeated question costs no model run)."""
        key = question.strip()
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self._cache.move_to_end(key)
                return vec
        vec = self.embedder.embed_queries([key])[0]
        if self._cache_size > 0:
            with self._lock:
                self._cache[key] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vec

    def semantic_scores(self, question: str, k: int = 50) -> list[tuple[str, float]]:
        """The ``k`` documents nearest to ``question`` as ``(doc_id, cosine)``, best first.

        Cosines of this model sit in a narrow band (≈0.3–0.8 for Chinese text): fuse after
        normalising them (see bench/semantic.py), not as raw scores. An empty question → [].
        """
        if not question or not question.strip():
            return []
        return self.index.search(self.embed_query(question), k)

    @classmethod
    def build(
        cls,
        model_dir: Path,
        texts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
        cache_path: Path | None = None,
        *,
        threads: int = 1,
    ) -> tuple[SemanticRetriever, dict[str, float]]:
        """Load the model and index ``texts``; returns the retriever and timings (seconds).
        Raises ``ModelUnavailable`` when the model cannot be loaded."""
        t0 = time.perf_counter()
        embedder = Embedder.load(model_dir, threads=threads)
        t1 = time.perf_counter()
        cache = VectorCache(cache_path) if cache_path else None
        try:
            index = VectorIndex.build(texts, embedder, cache)
        finally:
            if cache is not None:
                cache.close()
        t2 = time.perf_counter()
        return cls(embedder, index), {"load_s": t1 - t0, "index_s": t2 - t1}
