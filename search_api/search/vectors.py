"""Document vectors: the SQLite vector cache and the int8 vector index (overview: ``search.semantic``).

The int8 arithmetic itself (``quantise_rows``, the onnxruntime ``MatMulInteger`` scorer) is in
``search.embedder``, beside the other onnxruntime session.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from search_api.search.embedder import (
    DIM,
    Q_OFFSET,
    Q_RANGE,
    Embedder,
    _contiguous_int8,
    _int8_scorer,
    quantise_rows,
    release_memory,
)
from search_api.search.model import MODEL_ID

# score = own + EXTRA_WEIGHT · max(0, best extra text − own); 1.0 would be a plain max over texts.
EXTRA_WEIGHT = 0.5


# ---------------------------------------------------------------------------------------------
# The vector cache


def text_key(text: str, model_id: str = MODEL_ID) -> bytes:
    """The cache key of one document text: 16 bytes of SHA-256 over the model id and the text."""
    return hashlib.sha256(f"{model_id}\x00doc\x00{text}".encode()).digest()[:16]


class VectorCache:
    """Document vectors keyed by ``text_key``, in one SQLite file, stored as the index uses them:
    int8 with a per-vector scale (516 bytes each; 28 MB for the ×20 corpus on disk, 3 MB for ×1).

    Keyed by the exact text embedded (and the model), not by file: changing one article of a
    law re-embeds that article only, and a corpus that did not change embeds nothing. Safe to
    use from several threads (one connection under a lock); a damaged file is replaced.
    """

    CHUNK = 900  # keys per SELECT (SQLite's default variable limit is higher; this stays portable)
    SCAN_ABOVE = 5000  # more keys than this: scan the table instead of looking each up

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            for suffix in ("", "-wal", "-shm"):  # a cache: rebuilt from the model on demand
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors_i8 (key BLOB PRIMARY KEY, q BLOB NOT NULL, scale REAL NOT NULL)"
                " WITHOUT ROWID"
            )
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _select(self, columns: str, keys: Sequence[bytes]) -> Iterable[tuple]:
        """Rows of ``keys``: looked up when they are few, else one scan of the table (much faster
        than tens of thousands of look-ups when the cache holds just the corpus)."""
        if len(keys) > self.SCAN_ABOVE:
            wanted = set(keys)
            for row in self._db.execute(f"SELECT {columns} FROM vectors_i8"):
                if bytes(row[0]) in wanted:
                    yield row
            return
        for i in range(0, len(keys), self.CHUNK):
            chunk = list(keys[i : i + self.CHUNK])
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(f"SELECT {columns} FROM vectors_i8 WHERE key IN ({marks})", chunk)

    def present(self, keys: Sequence[bytes]) -> set[bytes]:
        """Which of ``keys`` have a vector."""
        with self._lock:
            return {bytes(k) for (k,) in self._select("key", keys)}

    def fill(self, columns: Mapping[bytes, Sequence[int]], rows: np.ndarray, scales: np.ndarray) -> set[bytes]:
        """Write the cached vector of each key into ``rows[i]``/``scales[i]`` for each ``i`` of
        ``columns[key]``; returns the keys found. Streams in blocks: no copy of all vectors."""
        found: set[bytes] = set()
        blobs: list[bytes] = []
        block_scales: list[float] = []
        targets: list[Sequence[int]] = []

        def flush() -> None:
            if not blobs:
                return
            vecs = np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(-1, DIM)
            counts = [len(t) for t in targets]
            dest = np.fromiter((i for t in targets for i in t), dtype=np.int64, count=sum(counts))
            src = np.repeat(np.arange(len(blobs)), counts)
            rows[dest] = vecs[src]
            scales[dest] = np.asarray(block_scales, dtype=np.float32)[src]
            blobs.clear()
            block_scales.clear()
            targets.clear()

        with self._lock:
            for key, q, scale in self._select("key, q, scale", list(columns)):
                if len(q) != DIM:
                    continue
                key = bytes(key)
                blobs.append(q)
                block_scales.append(scale)
                targets.append(columns[key])
                found.add(key)
                if len(blobs) == 8192:
                    flush()
            flush()
        return found

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors of ``keys`` that are cached, as float32 (for tools and tests)."""
        with self._lock:
            return {
                bytes(k): np.frombuffer(q, dtype=np.int8).astype(np.float32) * s
                for k, q, s in self._select("key, q, scale", keys)
                if len(q) == DIM
            }

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        """Store (key, float vector) pairs, quantised as the index holds them."""
        items = list(items)
        if not items:
            return
        q, scales = quantise_rows(np.stack([v for _, v in items]))
        rows = [(k, q[i].tobytes(), float(scales[i])) for i, (k, _) in enumerate(items)]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors_i8 VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM vectors_i8").fetchone()[0]

    def prune(self, keep: Iterable[bytes]) -> int:
        """Drop vectors of texts no longer in the corpus; returns how many were dropped."""
        keep = set(keep)
        with self._lock:
            stale = [bytes(k) for (k,) in self._db.execute("SELECT key FROM vectors_i8") if bytes(k) not in keep]
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM vectors_i8 WHERE key = ?", [(k,) for k in stale])
            self._db.execute("COMMIT")
        return len(stale)

    def close(self) -> None:
        with self._lock:
            self._db.close()


# ---------------------------------------------------------------------------------------------
# The index


class VectorIndex:
    """The vectors of every indexed text, and the top-k documents by cosine.

    Layout: one column per document's own text, in document order, then one column per extra
    text (everyday questions), grouped by document. A document's score is its own text's
    cosine, lifted by ``extra_weight`` towards its best extra text when that is closer:
    ``own + extra_weight · max(0, best_extra − own)`` (1.0 would be a plain max).

    Memory: 520 bytes per text (int8 column + scale + offset) plus the id list — about 40 MB
    for the ×20 corpus (73,000 documents and 2,400 everyday questions).
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
    ):
        self.doc_ids = list(doc_ids)
        self.matrix_t = _contiguous_int8(matrix_t)  # [DIM, texts]
        self.scales = np.asarray(scales, dtype=np.float32)  # [texts]
        # removes the query's uint8 offset: Q_OFFSET · Σ column, in cosine units before the query scale
        colsum = np.zeros(self.rows, dtype=np.int32)
        for i in range(0, self.rows, 8192):
            colsum[i : i + 8192] = self.matrix_t[:, i : i + 8192].sum(axis=0, dtype=np.int32)
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
        self.extra_weight = float(extra_weight)
        self._scorer = _int8_scorer() if use_onnx and self.rows else None

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
        fresh: dict[bytes, np.ndarray] = {}
        missing = list(text_of)
        if missing and embedder is not None:
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
        text_of.clear()
        if cache is None:
            return cls.from_vectors(keys, fresh, **kw)
        return cls._assemble(keys, available, cache.fill, **kw)

    # -- facts

    @property
    def rows(self) -> int:
        """How many texts have a vector."""
        return self.matrix_t.shape[1]

    def __len__(self) -> int:
        return len(self.doc_ids)

    @property
    def nbytes(self) -> int:
        arrays = (self.matrix_t, self.scales, self._bias, self.extra_owner, self._extra_docs, self._extra_starts)
        return sum(a.nbytes for a in arrays) + sum(sys.getsizeof(d) + 8 for d in self.doc_ids)

    # -- search

    def _raw_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        """Scores proportional to the cosines (one positive factor for all), and that factor."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        top = float(np.abs(query).max()) or 1.0
        qq = np.rint(query * (Q_RANGE / top)).astype(np.int16)
        a = (qq + Q_OFFSET).astype(np.uint8)[None, :]
        y = self._scorer.run(None, {"A": a, "B": self.matrix_t})[0][0]
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
            out[i : i + block] = query @ self.matrix_t[:, i : i + block].astype(np.float32)
        return out * self.scales

    def _doc_scores(self, query: np.ndarray) -> tuple[np.ndarray, float]:
        if self._scorer is None:
            raw, factor = self.exact_row_scores(query), 1.0
        else:
            raw, factor = self._raw_scores(query)
        n = len(self.doc_ids)
        scores = raw[:n]
        if len(self.extra_owner):
            best = np.maximum.reduceat(raw[n:], self._extra_starts)
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
        scores, factor = self._doc_scores(query)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.doc_ids[i], float(scores[i] * factor)) for i in top]
