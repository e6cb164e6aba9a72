"""FTS5 helpers for the SQLite engine: safe quoting and the per-term candidate cache."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from typing import Any

from search_api.engines.ranking import BOOST_FIELDS


def fts_quote(token: str) -> str:
    """A token as an FTS5 string literal: never parsed as an operator, column or prefix."""
    return '"' + token.replace('"', '""') + '"'


class TermCache:
    """Per-term ranked candidates, document frequencies and per-document ranking fields.

    A term's BM25 score in a document doesn't depend on the rest of the query, so
    each term's top candidates are computed once and reused by every query that
    contains it, until the index changes (``version``). Queries with filters are
    not cached: their candidates depend on the filter.
    """

    MAX_TERMS = 2000

    def __init__(self, version: tuple, n_docs: int):
        self.version = version
        self.n_docs = n_docs
        self._lock = threading.Lock()
        self._top: OrderedDict[tuple[str, int], list[tuple[int, float]]] = OrderedDict()
        self._df: dict[str, int] = {}
        self._fields: dict[int, tuple] | None = None
        self._facets: dict[int, tuple] | None = None

    def df(self, conn: sqlite3.Connection, text: str) -> int:
        n = self._df.get(text)
        if n is None:
            n = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (fts_quote(text),)).fetchone()[0]
            if len(self._df) > 50_000:
                self._df.clear()
            self._df[text] = n
        return n

    def top(
        self, conn: sqlite3.Connection, text: str, limit: int, where: str, params: list[Any], weights: str
    ) -> list[tuple[int, float]]:
        key = (text, limit)
        if not where:
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
        if not where:
            with self._lock:
                self._top[key] = rows
                while len(self._top) > self.MAX_TERMS:
                    self._top.popitem(last=False)
        return rows

    def doc_fields(self, conn: sqlite3.Connection) -> dict[int, tuple]:
        if self._fields is None:
            rows = conn.execute(f"SELECT rowid, prior, {', '.join(BOOST_FIELDS)} FROM docs").fetchall()
            self._fields = {r[0]: tuple(r[1:]) for r in rows}
        return self._fields

    def facet_values(self, conn: sqlite3.Connection) -> dict[int, tuple]:
        """Per document, its values of ``FACET_FIELDS`` (topics as a tuple), for counting facets
        over an answering set without another query. Strings are shared, so ×20 costs a few MB."""
        if self._facets is None:
            shared: dict[str, str] = {}
            topics: dict[int, list[str]] = {}
            for rowid, value in conn.execute("SELECT rowid, value FROM doc_tags WHERE field = 'topics'"):
                topics.setdefault(rowid, []).append(shared.setdefault(value, value))
            rows = conn.execute("SELECT rowid, kind, source_title, region FROM docs").fetchall()
            self._facets = {
                r[0]: (*(shared.setdefault(v, v) for v in r[1:]), tuple(topics.get(r[0], ()))) for r in rows
            }
        return self._facets
