"""The embedded engine: SQLite FTS5 in one file under the data directory.

Tokens arrive space-joined from ``ingest.tokenise`` and FTS5's ``unicode61``
tokenizer only splits them on the spaces (a run of CJK characters is one token
to it). Each query term is matched as a quoted FTS5 string, so user text is
never FTS syntax. FTS5 can't weight individual terms, so each term is ranked on
its own with ``bm25()`` (column weights applied there) and the per-term scores,
each multiplied by the term's weight, are summed in Python: BM25 is a sum over
terms, so this is the weighted BM25 of the whole query.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ingest.model import Document
from search_api.db import transaction
from search_api.engines.base import (
    FIELD_WEIGHTS,
    EngineUnavailable,
    IndexOutdated,
    IndexReport,
    QueryError,
    Related,
    SearchEngine,
    SearchHit,
    SearchQuery,
    SearchResult,
    validate_query,
)
from search_api.engines.facets import FacetCache, query_key
from search_api.engines.fts import TermCache
from search_api.engines.ranking import CANDIDATES, Scorer, answering_many, negligible_terms, term_weights
from search_api.engines.sqlite_schema import (
    BROWSE_ORDER,
    COLUMNS,
    LIGHT_SQL,
    MULTI,
    SCHEMA,
    browse_facets,
    bump,
    delete_rowid,
    full_hits,
    id_hits,
    index_version,
    light_documents,
    write_documents,
)
from search_api.settings import Settings


class SqliteEngine(SearchEngine):
    name = "sqlite"

    def __init__(self, path: Path | str, field_weights: dict[str, float] | None = None):
        """An index in the SQLite file at ``path`` (created on first use)."""
        self.path = Path(path)
        self.weights = field_weights or FIELD_WEIGHTS
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cache: TermCache | None = None
        self._pointer_seen: tuple[tuple[int, int, int], Path] | None = None
        self._pointer_str = str(self.pointer)  # stat on every search: no Path built each time
        self.facet_cache = FacetCache()  # per (index version, analysed query)

    @classmethod
    def from_settings(cls, settings: Settings) -> SqliteEngine:
        return cls(settings.index_path)

    # -- connections -------------------------------------------------------
    def _connect(self, path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: a read never leaves a transaction open, so every search sees the latest
        # committed index (an open read transaction pins an old snapshot and blocks checkpoints);
        # writes take ``transaction`` explicitly.
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.executescript(SCHEMA)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(fts)")]
        if columns != list(FIELD_WEIGHTS):
            conn.close()
            raise IndexOutdated(f"{path}: fts columns {columns}, expected {list(FIELD_WEIGHTS)}")
        return conn

    @property
    def pointer(self) -> Path:
        """A small file naming the live index file; absent until the first rebuild."""
        return self.path.with_name(self.path.name + ".current")

    def live_path(self) -> Path:
        """The index file searches use now: ``path``, or the generation the pointer names.

        Asked on every search: the pointer is read again only when its file changed (a rebuild
        replaces it, so its inode changes); a stat costs a fraction of an open and a read."""
        try:
            st = os.stat(self._pointer_str)
        except FileNotFoundError:
            return self.path
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        seen = self._pointer_seen
        if seen is not None and seen[0] == stamp:
            return seen[1]
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return self.path
        live = self.path.with_name(name) if name else self.path
        self._pointer_seen = (stamp, live)
        return live

    @property
    def db(self) -> sqlite3.Connection:
        """A per-thread connection, reopened on the new generation after a ``rebuild``."""
        live = self.live_path()
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.live != live:
            if conn is not None:
                conn.close()
            try:
                conn = self._connect(live)
            except sqlite3.Error as e:
                raise EngineUnavailable(f"cannot open index {live}: {e}") from e
            self._local.conn, self._local.live = conn, live
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writing -----------------------------------------------------------
    def index_documents(self, docs: Iterable[Document]) -> IndexReport:
        report = IndexReport()
        with self._write_lock, transaction(self.db) as conn:
            write_documents(conn, docs, report)
            bump(conn)
        return report

    def delete(self, ids: Iterable[str]) -> int:
        n = 0
        with self._write_lock, transaction(self.db) as conn:
            for doc_id in ids:
                row = conn.execute("SELECT rowid FROM docs WHERE id = ?", (doc_id,)).fetchone()
                if row:
                    delete_rowid(conn, row[0])
                    n += 1
            bump(conn)
        return n

    def delete_by_source_path(self, source_path: str, keep: Iterable[str] = ()) -> int:
        keep = set(keep)
        n = 0
        with self._write_lock, transaction(self.db) as conn:
            for rowid, doc_id in conn.execute(
                "SELECT rowid, id FROM docs WHERE source_path = ?", (source_path,)
            ).fetchall():
                if doc_id not in keep:
                    delete_rowid(conn, rowid)
                    n += 1
            bump(conn)
        return n

    def refresh(self) -> None:
        """SQLite commits are visible at once; optimise the FTS segments after bulk loads."""
        with self._write_lock, transaction(self.db) as conn:
            conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")

    def rebuild(self, docs: Iterable[Document]) -> IndexReport:
        """Build a new generation file beside the live one, then switch the pointer to it.

        Each generation has its own name (and its own -wal/-shm), so a reader holding the
        old one keeps a consistent index and the next query opens the new one. Renaming
        a new file over a live WAL database would pair it with the old -wal/-shm files.
        """
        stamp = time.strftime("%Y%m%d%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
        new = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        report = IndexReport()
        conn = self._connect(new)
        try:
            with transaction(conn):
                write_documents(conn, docs, report)
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        with self._write_lock:
            previous = self.live_path()
            tmp = self.pointer.with_name(self.pointer.name + ".tmp")
            tmp.write_text(new.name, encoding="utf-8")
            os.replace(tmp, self.pointer)  # caches key on the live file too: they follow
            self._drop_generations(keep={new, previous})
        return report

    def _drop_generations(self, keep: set[Path]) -> None:
        """Delete older generations; the previous one stays for readers still on it."""
        for p in [self.path, *self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}")]:
            if p not in keep:
                for f in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
                    f.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------
    def _filter_sql(self, filters: dict[str, list[str]], with_match: bool) -> tuple[str, list[Any]]:
        """SQL conditions on ``docs d`` for ``filters``.

        ``with_match``: the query also has a full-text MATCH, which must drive the plan;
        a unary ``+`` keeps SQLite from starting at a docs index and then probing FTS5
        row by row (hundreds of times slower). Browsing has no MATCH and wants the indexes.
        """
        plus = "+" if with_match else ""
        clauses: list[str] = []
        params: list[Any] = []
        for field, values in filters.items():
            values = [str(v) for v in values if str(v)]
            if not values:
                continue
            marks = ", ".join("?" * len(values))
            if field in MULTI:
                clauses.append(f"{plus}d.rowid IN (SELECT rowid FROM doc_tags WHERE field = ? AND value IN ({marks}))")
                params += [field, *values]
            elif field in COLUMNS or field == "id":
                clauses.append(f"{plus}d.{field} IN ({marks})")
                params += values
            else:
                raise QueryError(f"不能按字段 {field!r} 筛选")
        return (" AND " + " AND ".join(clauses)) if clauses else "", params

    def search(self, query: SearchQuery) -> SearchResult:
        validate_query(query)
        try:
            return self._search(query)
        except sqlite3.OperationalError as e:
            raise EngineUnavailable(f"index error: {e}") from e

    def _search(self, query: SearchQuery) -> SearchResult:
        conn = self.db
        terms = [t for t in query.terms if t.text.strip()]
        if not terms:
            return self._browse(conn, query, *self._filter_sql(query.filters, with_match=False))
        where, params = self._filter_sql(query.filters, with_match=True)
        cache = self._cache_for(conn)
        limit = max(CANDIDATES, query.offset + query.size)
        weights = term_weights(query)
        skipped = negligible_terms(weights, cache.n_docs, lambda text: cache.df(conn, text))
        matches = []
        for text in weights:
            if text in skipped or cache.df(conn, text) == 0:
                continue
            matches.append((text, *cache.top(conn, text, limit, where, params, self._bm25_weights)))
        scorer = Scorer(query)
        priors = cache.priors(conn)
        keys, scores, share = scorer.score_many(
            matches,
            prior=lambda rowids: priors[rowids],
            values=lambda field, rowids: cache.field_values(conn, field, rowids.tolist()),
        )
        kept = answering_many(keys, scores)
        if not len(kept):
            return SearchResult(total=0, hits=[])
        page_at = kept[query.offset : query.offset + query.size]
        page = [(int(keys[i]), float(scores[i])) for i in page_at]
        facets = {}
        if query.facets:  # the same question on the same index: the counts of last time
            key = query_key(query, limit)
            facets = self.facet_cache.get(cache.version, key)
            if facets is None:
                facets = cache.facet_codes(conn).count(keys[kept])
                self.facet_cache.put(cache.version, key, facets)
        if query.ids_only:
            hits = id_hits(conn, page, cache.doc_ids(conn))
        else:
            hits = self._light_hits(conn, page) if query.light else full_hits(conn, page)
        for hit, i in zip(hits, page_at, strict=True):
            hit.coverage = float(share[i])
        return SearchResult(total=len(kept), hits=hits, facets=facets)

    def warm(self, texts: Iterable[str]) -> int:
        """Compute the cached candidates of common query terms ahead of the first search."""
        conn = self.db
        cache = self._cache_for(conn)
        n = 0
        for text in texts:
            if cache.df(conn, text):
                cache.top(conn, text, CANDIDATES, "", [], self._bm25_weights)
                n += 1
        cache.read_tables(conn)
        return n

    @property
    def _bm25_weights(self) -> str:
        return ", ".join(str(self.weights[f]) for f in FIELD_WEIGHTS)

    def generation(self) -> tuple[int, Path]:
        """The version row (every write of any process bumps it) and the live file (a rebuild)."""
        return index_version(self.db), self._local.live

    def _cache_for(self, conn: sqlite3.Connection) -> TermCache:
        """The shared per-index cache, dropped whenever any connection has written."""
        version = index_version(conn), self._local.live
        with self._cache_lock:
            if self._cache is None or self._cache.version != version:
                self._cache = TermCache(version, conn.execute("SELECT count(*) FROM docs").fetchone()[0])
            return self._cache

    def _light_docs(self, conn: sqlite3.Connection, rows: list[tuple]) -> dict[int, Document]:
        return light_documents(rows, self._cache_for(conn).facet_codes(conn).topics)

    def _light_hits(self, conn: sqlite3.Connection, page: list[tuple[int, float]]) -> list[SearchHit]:
        marks = ", ".join("?" * len(page))
        rows = conn.execute(f"{LIGHT_SQL} WHERE rowid IN ({marks})", [r for r, _ in page]).fetchall()
        docs = self._light_docs(conn, rows)
        return [SearchHit(id=docs[r].id, score=s, doc=docs[r]) for r, s in page if r in docs]

    def _browse(self, conn: sqlite3.Connection, query: SearchQuery, where: str, params: list[Any]) -> SearchResult:
        """No terms: the filtered set in authority order (used for browsing a kind or a law)."""
        if not where:
            return SearchResult(total=0, hits=[])
        total = conn.execute(f"SELECT count(*) FROM docs d WHERE 1=1{where}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT d.rowid, d.prior FROM docs d WHERE 1=1{where} ORDER BY {BROWSE_ORDER} LIMIT ? OFFSET ?",
            (*params, query.size, query.offset),
        ).fetchall()
        facets = browse_facets(conn, where, params) if query.facets else {}
        hits = self._light_hits(conn, rows) if query.light else full_hits(conn, rows)
        return SearchResult(total=total, hits=hits, facets=facets)

    def related_cases(self, article_ids: list[str], related: Related) -> list[SearchHit]:
        conn = self.db
        try:
            return self._cache_for(conn).citing_cases(conn).citing(article_ids, related)
        except sqlite3.OperationalError as e:
            raise EngineUnavailable(f"index error: {e}") from e

    def get(self, doc_id: str) -> Document | None:
        row = self.db.execute("SELECT data FROM docs WHERE id = ?", (doc_id,)).fetchone()
        return Document.from_dict(json.loads(row[0])) if row else None

    def get_many(self, ids: list[str], light: bool = False) -> list[Document]:
        if not ids:
            return []
        if light:
            marks = ", ".join("?" * len(ids))
            conn = self.db
            rows = conn.execute(f"{LIGHT_SQL} WHERE id IN ({marks})", ids).fetchall()
            by_id = {d.id: d for d in self._light_docs(conn, rows).values()}
            return [by_id[i] for i in ids if i in by_id]
        rows = self.db.execute(f"SELECT id, data FROM docs WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()
        found = {i: Document.from_dict(json.loads(d)) for i, d in rows}
        return [found[i] for i in ids if i in found]

    def ids_by_source_path(self, source_path: str) -> dict[str, str]:
        return dict(
            self.db.execute("SELECT id, content_hash FROM docs WHERE source_path = ?", (source_path,)).fetchall()
        )

    def all_documents(self) -> Iterator[Document]:
        last = 0
        while True:  # in pages, so a long walk holds no read transaction
            rows = self.db.execute("SELECT rowid, data FROM docs WHERE rowid > ? ORDER BY rowid LIMIT 1000", (last,))
            page = rows.fetchall()
            for _, data in page:
                yield Document.from_dict(json.loads(data))
            if len(page) < 1000:
                return
            last = page[-1][0]

    def count(self) -> int:  # counted once per index version (a health check every second stays O(1))
        return self._cache_for(self.db).n_docs

    def health(self) -> dict[str, Any]:
        try:
            return {"ok": True, "engine": self.name, "documents": self.count(), "path": str(self.live_path())}
        except (sqlite3.Error, EngineUnavailable) as e:
            return {"ok": False, "engine": self.name, "error": str(e)}
