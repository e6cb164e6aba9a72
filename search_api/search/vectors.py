"""Document vectors: the int8 vector index (overview: ``search.semantic``). Which texts lack a
vector and embedding them into the cache is ``search.vector_fill``.

The int8 arithmetic itself (``quantise_rows``, the onnxruntime ``MatMulInteger`` scorer) is in
``search.embedder``, beside the other onnxruntime session.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from search_api.search.coarse import CoarseIndex
from search_api.search.distinct import QUESTION_WEIGHT, question_offsets
from search_api.search.embedder import (
    DIM,
    Q_OFFSET,
    Q_RANGE,
    Embedder,
    _contiguous_int8,
    _int8_scorer,
    int8_matrix_scorer,
    quantise_rows,
    release_memory,
)
from search_api.search.vector_cache import VectorCache
from search_api.search.vector_fill import embed_missing, scan_texts

# score = own + EXTRA_WEIGHT · max(0, best extra text − own); 1.0 would be a plain max over texts.
# The extra texts' cosines are first weighed by their distinctiveness (search.distinct).
EXTRA_WEIGHT = 0.45
# Above this many texts a search scans a coarse projection first (``search.coarse``) and scores
# the documents of its best ``COARSE_ROWS`` texts (at least ``COARSE_PER_HIT`` per hit asked) exactly.
COARSE_ABOVE = 20_000
# 1,000 for the service's 50: on the ×20 index the top 10 of all 773 evaluation questions are the
# full scan's, the top 50 of 764 (2,000 kept all and cost ~1.2 ms more; bench/knn_recall.py).
COARSE_ROWS = 1_000
COARSE_PER_HIT = 20


class VectorIndex:
    """The vectors of every indexed text, and the top-k documents by cosine.

    Layout: one column per document's own text, in document order, then one column per extra
    text (everyday questions), grouped by document. A document's score is its own text's
    cosine, lifted by ``extra_weight`` towards its best extra text when that is closer:
    ``own + extra_weight · max(0, best_extra − own)`` (1.0 would be a plain max), each extra
    text's cosine less its offset (``search.distinct``: a generic question lifts less).

    Memory: 520 bytes per text (int8 column + scale + offset) plus the id list — about 40 MB
    for the ×20 corpus (73,000 documents and 2,400 everyday questions). Above ``coarse_above``
    texts the vectors are kept row by row (the layout ``_assemble`` builds, so no second copy)
    with a coarse projection beside them (+130 bytes a text), and a search scores exactly only
    the documents the projection puts first.
    """

    def __init__(
        self,
        doc_ids: list[str],
        matrix_t: np.ndarray,
        scales: np.ndarray,
        extra_owner: np.ndarray | None = None,
        *,
        use_onnx: bool = True,
        extra_weight: float = EXTRA_WEIGHT,
        coarse_above: int = COARSE_ABOVE,
        coarse_rows: int = COARSE_ROWS,
        question_weight: float = QUESTION_WEIGHT,
    ):
        self.doc_ids = list(doc_ids)
        m = np.asarray(matrix_t)
        self._vectors: np.ndarray | None = None  # [texts, DIM] when large, else None
        self._matrix_t: np.ndarray | None = None  # [DIM, texts] when small
        if use_onnx and m.shape[1] > coarse_above:
            self._vectors = m.T if m.dtype == np.int8 and m.T.flags.c_contiguous else np.ascontiguousarray(m.T, np.int8)
        else:
            self._matrix_t = _contiguous_int8(m)
        self.scales = np.asarray(scales, dtype=np.float32)  # [texts]
        # removes the query's uint8 offset: Q_OFFSET · Σ column, in cosine units before the query scale
        colsum = np.zeros(self.rows, dtype=np.int32)
        for i in range(0, self.rows, 8192):
            if self._vectors is not None:
                colsum[i : i + 8192] = self._vectors[i : i + 8192].sum(axis=1, dtype=np.int32)
            else:
                colsum[i : i + 8192] = self._matrix_t[:, i : i + 8192].sum(axis=0, dtype=np.int32)
        self._bias = (Q_OFFSET * colsum).astype(np.float32) * self.scales
        owner = np.zeros(0, dtype=np.int32) if extra_owner is None else np.asarray(extra_owner, dtype=np.int32)
        if self.rows != len(self.doc_ids) + len(owner):
            raise ValueError("one column per document, then one per extra text")
        if len(owner) and (np.any(np.diff(owner) < 0) or owner[0] < 0 or owner[-1] >= len(self.doc_ids)):
            raise ValueError("extra texts must be grouped by document, in document order")
        self.extra_owner = owner
        self._extra_docs, self._extra_starts = (
            np.unique(owner, return_index=True) if len(owner) else (owner, np.zeros(0, dtype=np.int64))
        )
        self._extra_ends = np.append(self._extra_starts[1:], len(owner)).astype(np.int64)
        self.extra_weight = float(extra_weight)
        self.extra_offset = question_offsets(self.matrix_t, self.scales, len(self.doc_ids), owner, question_weight)
        self.coarse_rows = coarse_rows
        self._coarse: CoarseIndex | None = None
        self._scorer = None  # the full int8 scan (small indexes)
        self._rows = np.zeros((0, DIM), dtype=np.int8)  # the rows a coarse search rescores, reused
        self._rows_lock = threading.Lock()
        if self._vectors is not None:
            coarse = CoarseIndex(self._vectors, self.scales)
            self._rescorer = _int8_scorer(rows_first=True)
            self._coarse = coarse if coarse.available and self._rescorer is not None else None
            self._owner = np.concatenate([np.arange(len(self.doc_ids), dtype=np.int32), owner])
        elif use_onnx and self.rows:
            self._scorer = int8_matrix_scorer(self._matrix_t)

    # -- building

    @classmethod
    def _assemble(
        cls,
        keys: Mapping[str, Sequence[bytes]],
        available: set[bytes] | Mapping[bytes, Any],
        fill: Callable[[Mapping[bytes, list[int]], np.ndarray, np.ndarray], Any],
        **kw,
    ) -> VectorIndex:
        """Lay out the texts whose key is ``available`` (own texts first, then extra texts by
        document) and let ``fill(columns, rows, scales)`` write their int8 vectors."""
        doc_ids: list[str] = []
        own: list[bytes] = []
        extra: list[bytes] = []
        owner: list[int] = []
        for doc_id, ks in keys.items():
            if not ks or ks[0] not in available:
                continue
            owner_index = len(doc_ids)
            doc_ids.append(doc_id)
            own.append(ks[0])
            for k in dict.fromkeys(ks[1:]):
                if k != ks[0] and k in available:
                    extra.append(k)
                    owner.append(owner_index)
        columns: dict[bytes, list[int]] = {}
        for i, k in enumerate(own + extra):
            columns.setdefault(k, []).append(i)
        rows = np.zeros((len(own) + len(extra), DIM), dtype=np.int8)
        scales = np.ones(len(rows), dtype=np.float32)
        fill(columns, rows, scales)
        del columns, own, extra
        release_memory()
        return cls(doc_ids, rows.T, scales, np.asarray(owner, dtype=np.int32), **kw)

    @staticmethod
    def _fill_from(vectors: Mapping[bytes, np.ndarray]):
        def fill(columns: Mapping[bytes, list[int]], rows: np.ndarray, scales: np.ndarray) -> None:
            todo = [k for k in columns if k in vectors]
            for i in range(0, len(todo), 4096):  # block-wise: no full float32 copy of the matrix
                block = todo[i : i + 4096]
                q, s = quantise_rows(np.stack([vectors[k] for k in block]))
                for j, k in enumerate(block):
                    rows[columns[k]] = q[j]
                    scales[columns[k]] = s[j]

        return fill

    @classmethod
    def from_vectors(
        cls, texts: Mapping[str, Sequence[bytes]], vectors: Mapping[bytes, np.ndarray], **kw
    ) -> VectorIndex:
        """``texts``: doc_id → keys of its texts (``text_key``), its own text first; ``vectors``:
        key → float vector. A document whose own text has no vector is left out, and so is an
        extra text without one."""
        return cls._assemble(texts, vectors, cls._fill_from(vectors), **kw)

    @classmethod
    def build(
        cls,
        texts: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
        embedder: Embedder | Callable[[], Embedder] | None,
        cache: VectorCache | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 256,
        **kw,
    ) -> VectorIndex:
        """The index of ``texts`` (doc_id → its own text, then its extra texts; a mapping or a
        stream of pairs), embedding only the texts the cache lacks, and storing those in it.

        ``embedder`` may be a callable that loads it, so a fully cached corpus never loads the
        model to build. Without an embedder, texts the cache lacks are left out: their
        documents are not found semantically until they are embedded. Memory: the index, plus
        transiently one more copy of its int8 matrix; a stream is read once and only the texts
        the cache lacks are held (×20: 73,000 documents without their texts in memory).
        """
        keys, available, text_of = scan_texts(texts, cache)
        fresh = embed_missing(text_of, embedder, cache, available, progress=progress, chunk=chunk)
        text_of.clear()
        release_memory()
        try:
            if cache is None:
                return cls.from_vectors(keys, fresh, **kw)
            return cls._assemble(keys, available, cache.fill, **kw)
        finally:
            release_memory()  # the layout's and the projection's transient buffers

    # -- facts

    @property
    def rows(self) -> int:
        """How many texts have a vector."""
        return len(self._vectors) if self._vectors is not None else self._matrix_t.shape[1]

    @property
    def matrix_t(self) -> np.ndarray:
        """The int8 vectors as columns, [DIM, texts] (a transposed view for a large index)."""
        return self._vectors.T if self._vectors is not None else self._matrix_t

    def __len__(self) -> int:
        return len(self.doc_ids)

    @property
    def nbytes(self) -> int:
        arrays = (self.matrix_t, self.scales, self._bias, self.extra_owner, self.extra_offset, self._extra_docs)
        arrays += (self._extra_starts,)
        coarse = self._coarse.nbytes + self._owner.nbytes if self._coarse is not None else 0
        return sum(a.nbytes for a in arrays) + coarse + sum(sys.getsizeof(d) + 8 for d in self.doc_ids)

    # -- search

    def _raw_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        """Scores proportional to the cosines (one positive factor for all), and that factor."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        top = float(np.abs(query).max()) or 1.0
        qq = np.rint(query * (Q_RANGE / top)).astype(np.int16)
        a = (qq + Q_OFFSET).astype(np.uint8)[None, :]
        y = self._scorer.run(None, {"A": a})[0][0]
        raw = y.astype(np.float32)
        raw *= self.scales
        raw -= self._bias
        return raw, top / Q_RANGE

    def row_scores(self, query: np.ndarray) -> np.ndarray:
        """The cosine of the (L2-normalised) query vector with every text, float32."""
        if self._scorer is None:
            return self.exact_row_scores(query)
        raw, factor = self._raw_scores(query)
        return raw * factor

    def exact_row_scores(self, query: np.ndarray, block: int = 4096) -> np.ndarray:
        """The reference and the fallback without onnxruntime: the int8 columns in float32,
        block by block (exact for the stored vectors, ~4× slower)."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        out = np.empty(self.rows, dtype=np.float32)
        for i in range(0, self.rows, block):
            if self._vectors is not None:
                out[i : i + block] = self._vectors[i : i + block].astype(np.float32) @ query
            else:
                out[i : i + block] = query @ self._matrix_t[:, i : i + block].astype(np.float32)
        return out * self.scales

    def _doc_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        if self._scorer is None:
            raw, factor = self.exact_row_scores(query), 1.0
        else:
            raw, factor = self._raw_scores(query)
        n = len(self.doc_ids)
        scores = raw[:n]
        if len(self.extra_owner):
            best = np.maximum.reduceat(raw[n:] - self.extra_offset / factor, self._extra_starts)
            lift = best - scores[self._extra_docs]
            np.maximum(lift, 0, out=lift)
            scores[self._extra_docs] += self.extra_weight * lift
        return scores, factor

    def doc_scores(self, query: np.ndarray) -> np.ndarray:
        """Every document's score (see the class), in ``doc_ids`` order."""
        scores, factor = self._doc_scores(query)
        return scores * factor

    def search(self, query: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best documents as ``(doc_id, cosine)``, best first."""
        if not self.doc_ids or k <= 0:
            return []
        if self._coarse is not None:
            return self._search_coarse(query, k)
        scores, factor = self._doc_scores(query)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.doc_ids[i], float(scores[i] * factor)) for i in top]

    def _search_coarse(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """``search`` on a large index: the documents of the coarse pass's best texts, each scored
        exactly on all its texts with the arithmetic of ``_raw_scores`` and ``_doc_scores`` (the
        same float32 scores), ties in document order."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        top = float(np.abs(query).max()) or 1.0
        a = (np.rint(query * (Q_RANGE / top)).astype(np.int16) + Q_OFFSET).astype(np.uint8)
        docs = np.unique(self._owner[self._coarse.candidates(query, max(self.coarse_rows, COARSE_PER_HIT * k))])
        # the extra texts of those documents, document by document
        at = np.searchsorted(self._extra_docs, docs)
        has = at < len(self._extra_docs)
        has[has] = self._extra_docs[at[has]] == docs[has]
        starts, ends = self._extra_starts[at[has]], self._extra_ends[at[has]]
        lengths = ends - starts
        firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        extra = len(self.doc_ids) + np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))
        texts = np.concatenate([docs, extra])
        # exact integer dot products (as the full scan's), so the same scores
        raw = self._rescore(texts, a)
        raw *= self.scales[texts]
        raw -= self._bias[texts]
        scores = raw[: len(docs)]
        factor = top / Q_RANGE
        if len(extra):
            best = np.maximum.reduceat(raw[len(docs) :] - self.extra_offset[extra - len(self.doc_ids)] / factor, firsts)
            lift = best - scores[has]
            np.maximum(lift, 0, out=lift)
            scores[has] += self.extra_weight * lift
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.doc_ids[docs[i]], float(scores[i] * factor)) for i in order]

    def _rescore(self, texts: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The exact integer dot products of ``texts`` with the uint8 ``query``, float32. Their rows are
        copied into one buffer kept for the next search: a fresh 1.5 MB array per search is mapped from
        the OS and faulted in page by page (``embedder.fix_mmap_threshold``), which made the copy 3-5x
        slower than the arithmetic on it."""
        with self._rows_lock:
            if len(self._rows) < len(texts):
                self._rows = np.empty((len(texts) + 512, DIM), dtype=np.int8)
            rows = self._rows[: len(texts)]
            np.take(self._vectors, texts, axis=0, out=rows)
            return self._rescorer.run(None, {"A": rows, "B": query[:, None]})[0][:, 0].astype(np.float32)
