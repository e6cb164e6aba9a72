"""FTS5 helpers for the SQLite engine: safe quoting and the per-term candidate cache."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from search_api.engines.facets import DocIds, FacetCodes, last_rowid
from search_api.engines.ranking import BOOST_FIELDS
from search_api.engines.sqlite_related import CitingCases


def fts_quote(token: str) -> str:
    """A token as an FTS5 string literal: never parsed as an operator, column or prefix."""
    return '"' + token.replace('"', '""') + '"'


class TermCache:
    """Per-term ranked candidates, document frequencies and per-document ranking fields.

    A term's BM25 score in a document doesn't depend on the rest of the query, so
    each term's top candidates are computed once and reused by every query that
    contains it, until the index changes (``version``). A search filtered in the
    engine keeps its own candidates per term and filter: the next page, or the next
    question sharing the term under the same filter, reuses them. (The service sends
    no facet filter here: it narrows the unfiltered answering set, ``search.fusion``.)
    """

    # Bounds: candidates kept in all (each 16 bytes in numpy arrays: 6 MB at the bound) and
    # document frequencies remembered (least recently used go first).
    MAX_CANDIDATES = 400_000
    # and entries in all: a filter that matches nothing adds no candidates, yet its key is held
    # (a client asking with ever new filter values must not grow the cache without bound)
    MAX_ENTRIES = 10_000
    MAX_DF = 50_000

    def __init__(self, version: tuple, n_docs: int):
        self.version = version
        self.n_docs = n_docs
        self._lock = threading.Lock()
        self._top: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._held = 0  # candidates in ``_top``
        self._df: OrderedDict[str, int] = OrderedDict()
        self._fields: dict[str, tuple[np.ndarray, list[str]]] | None = None
        self._priors: np.ndarray | None = None
        self._facet_codes: FacetCodes | None = None
        self._citing: CitingCases | None = None
        self._ids: DocIds | None = None

    def df(self, conn: sqlite3.Connection, text: str) -> int:
        with self._lock:
            n = self._df.get(text)
            if n is not None:
                self._df.move_to_end(text)
                return n
        n = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (fts_quote(text),)).fetchone()[0]
        with self._lock:
            self._df[text] = n
            while len(self._df) > self.MAX_DF:
                self._df.popitem(last=False)
        return n

    def top(
        self, conn: sqlite3.Connection, text: str, limit: int, where: str, params: list[Any], weights: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rowids of the term's best ``limit`` documents that pass the filter (``where``, SQL
        conditions on ``docs d`` and their ``params``) and their BM25 scores (cached; the arrays are
        shared: read them, never write)."""
        key = (text, limit, where, *params) if where else (text, limit)
        with self._lock:
            hit = self._top.get(key)
            if hit is not None:
                self._top.move_to_end(key)
                return hit
        join = " JOIN docs d ON d.rowid = f.rowid" if where else ""
        rows = conn.execute(
            f"SELECT f.rowid, -bm25(fts, {weights}) AS s FROM fts f{join} "
            f"WHERE fts MATCH ?{where} ORDER BY s DESC LIMIT ?",
            (fts_quote(text), *params, limit),
        ).fetchall()
        packed = (
            np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows)),
        )
        with self._lock:
            if key not in self._top:
                self._top[key] = packed
                self._held += len(rows)
            while (self._held > self.MAX_CANDIDATES or len(self._top) > self.MAX_ENTRIES) and len(self._top) > 1:
                _, (old, _) = self._top.popitem(last=False)
                self._held -= len(old)
        return packed

    def boost_codes(self, conn: sqlite3.Connection) -> dict[str, tuple[np.ndarray, list[str]]]:
        """Per ``BOOST_FIELDS`` field, every document's value as a code indexed by rowid, and the
        values by code (code 0 is ""). At ×20 a few MB, where a dict of per-document tuples held 36."""
        if self._fields is None:
            size = last_rowid(conn) + 1
            fields = {f: (np.zeros(size, dtype=np.int32), [""]) for f in BOOST_FIELDS}
            code_of: dict[str, dict[str, int]] = {f: {"": 0} for f in BOOST_FIELDS}
            for rowid, *values in conn.execute(f"SELECT rowid, {', '.join(BOOST_FIELDS)} FROM docs"):
                if rowid >= size:  # written since the size was read: no value until the next cache
                    continue
                for field, value in zip(BOOST_FIELDS, values, strict=True):
                    codes, vocab = fields[field]
                    value = str(value or "")
                    c = code_of[field].get(value)
                    if c is None:
                        c = code_of[field][value] = len(vocab)
                        vocab.append(value)
                    codes[rowid] = c
            with self._lock:
                if self._fields is None:
                    self._fields = fields
        return self._fields

    def priors(self, conn: sqlite3.Connection) -> np.ndarray:
        """Every document's prior, indexed by rowid."""
        if self._priors is None:
            priors = np.ones(last_rowid(conn) + 1)
            for rowid, prior in conn.execute("SELECT rowid, prior FROM docs"):
                if rowid < len(priors):
                    priors[rowid] = 1.0 if prior is None else prior
            self._priors = priors
        return self._priors

    def field_values(self, conn: sqlite3.Connection, field: str, rowids: Sequence[int]) -> list[str]:
        """One boost field's values for ``rowids`` (``BOOST_FIELDS``; "" for a rowid not seen)."""
        codes, vocab = self.boost_codes(conn)[field]
        rowids = np.asarray(rowids, dtype=np.int64)
        found = np.zeros(len(rowids), dtype=np.int32)
        inside = rowids < len(codes)
        found[inside] = codes[rowids[inside]]
        return [vocab[c] for c in found.tolist()]

    def facet_codes(self, conn: sqlite3.Connection) -> FacetCodes:
        """The facet values as integer codes per rowid, for counting an answering set with numpy."""
        return self._once("_facet_codes", lambda: FacetCodes(conn))

    def read_tables(self, conn: sqlite3.Connection) -> None:
        """Read now the per-document tables a ranked search uses (a warm-up: else the first search does)."""
        for read in (self.priors, self.boost_codes, self.doc_ids, self.facet_codes):
            read(conn)

    def doc_ids(self, conn: sqlite3.Connection) -> DocIds:
        """Every document's id by rowid, read once per version."""
        return self._once("_ids", lambda: DocIds(conn))

    def citing_cases(self, conn: sqlite3.Connection) -> CitingCases:
        """The cases by the articles they cite (``engines.sqlite_related``), read once per version."""
        return self._once("_citing", lambda: CitingCases(conn))

    def _once(self, attr: str, build: Callable[[], Any]) -> Any:
        """``attr``, built by ``build`` on first use (outside the lock; the first one stored wins)."""
        if getattr(self, attr) is None:
            built = build()
            with self._lock:
                if getattr(self, attr) is None:
                    setattr(self, attr, built)
        return getattr(self, attr)
