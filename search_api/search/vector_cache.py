"""The vector cache: document vectors in one SQLite file, keyed by the text they embed (overview:
``search.semantic``)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from search_api.search.embedder import DIM, quantise_rows
from search_api.search.model import MODEL_ID


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

    def fill(self, columns: Mapping[bytes, Sequence[int]], rows: np.ndarray, scales: np.ndarray) -> int:
        """Write the cached vector of each key into ``rows[i]``/``scales[i]`` for each ``i`` of
        ``columns[key]``; returns how many keys were found. Streams in blocks: no copy of all
        vectors (nor a set of the keys found: at ×20, 9 MB of the start-up's peak)."""
        found = 0
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
                blobs.append(q)
                block_scales.append(scale)
                targets.append(columns[bytes(key)])
                found += 1
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
