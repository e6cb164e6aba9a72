"""The SQLite index file's tables and the writes to them (the engine in ``sqlite.py`` reads them).

``docs`` holds each document (its JSON and the keyword columns filters use), ``doc_tags`` the
multi-valued keyword fields, ``fts`` the FTS5 token fields (one column per ``FIELD_WEIGHTS``
field), ``meta`` the version every write bumps so caches in any process notice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ingest.model import Document
from search_api.engines.base import FIELD_WEIGHTS, IndexReport, SearchHit
from search_api.engines.facets import DocIds
from search_api.engines.ranking import FACET_SIZE

COLUMNS = ("kind", "doc_type", "source_id", "source_title", "region", "level", "source_path", "content_hash")
MULTI = ("cites", "topics")  # multi-valued keyword fields live in doc_tags
_UPDATE_DOC = f"UPDATE docs SET {', '.join(f'{c} = ?' for c in COLUMNS)}, prior = ?, data = ? WHERE rowid = ?"
_INSERT_DOC = f"INSERT INTO docs (id, {', '.join(COLUMNS)}, prior, data) VALUES (?{', ?' * len(COLUMNS)}, ?, ?)"
_INSERT_FTS = f"INSERT INTO fts (rowid, {', '.join(FIELD_WEIGHTS)}) VALUES (?{', ?' * len(FIELD_WEIGHTS)})"

SCHEMA = f"""
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    {", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in COLUMNS)},
    prior REAL NOT NULL DEFAULT 1.0,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_source_path ON docs(source_path);
CREATE INDEX IF NOT EXISTS docs_kind ON docs(kind, prior);
CREATE INDEX IF NOT EXISTS docs_source_id ON docs(source_id);
CREATE TABLE IF NOT EXISTS doc_tags (rowid INTEGER NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL);
-- bumped by every write, in its transaction: caches of any connection or process compare it
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('version', 0);
CREATE INDEX IF NOT EXISTS doc_tags_fv ON doc_tags(field, value);
CREATE INDEX IF NOT EXISTS doc_tags_rowid ON doc_tags(rowid);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    {", ".join(FIELD_WEIGHTS)}, tokenize = 'unicode61 remove_diacritics 0'
);
"""


def index_version(conn: sqlite3.Connection) -> int:
    """The version row: every write bumps it (``bump``)."""
    return conn.execute("SELECT v FROM meta WHERE k = 'version'").fetchone()[0]


def bump(conn: sqlite3.Connection) -> None:
    """Mark the index changed (inside the writing transaction)."""
    conn.execute("UPDATE meta SET v = v + 1 WHERE k = 'version'")


def write_documents(conn: sqlite3.Connection, docs: Iterable[Document], report: IndexReport) -> None:
    """Add or replace documents by id (inside the caller's transaction); failures go to ``report``."""
    for doc in docs:
        try:
            data = doc.as_dict()
            tokens = data.pop("tokens") or {}
            row = conn.execute("SELECT rowid FROM docs WHERE id = ?", (doc.id,)).fetchone()
            values = [str(data.get(c) or "") for c in COLUMNS]
            payload = json.dumps(data, ensure_ascii=False)
            if row:
                rowid = row[0]
                conn.execute(
                    _UPDATE_DOC,
                    (*values, float(doc.prior), payload, rowid),
                )
                conn.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
                conn.execute("DELETE FROM doc_tags WHERE rowid = ?", (rowid,))
            else:
                rowid = conn.execute(
                    _INSERT_DOC,
                    (doc.id, *values, float(doc.prior), payload),
                ).lastrowid
            conn.execute(
                _INSERT_FTS,
                (rowid, *(tokens.get(f, "") for f in FIELD_WEIGHTS)),
            )
            conn.executemany(
                "INSERT INTO doc_tags (rowid, field, value) VALUES (?, ?, ?)",
                [(rowid, f, str(v)) for f in MULTI for v in data.get(f) or []],
            )
            report.indexed += 1
        except (TypeError, ValueError, sqlite3.Error) as e:
            report.failed.append((doc.id, f"{type(e).__name__}: {e}"))


def delete_rowid(conn: sqlite3.Connection, rowid: int) -> None:
    conn.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
    conn.execute("DELETE FROM doc_tags WHERE rowid = ?", (rowid,))
    conn.execute("DELETE FROM docs WHERE rowid = ?", (rowid,))


# Browsing without terms (and the related cases, ``engines.sqlite_related``): best sources first,
# articles in their law's order; ``d`` is the docs table
BROWSE_ORDER = "d.prior DESC, d.source_id, CAST(json_extract(d.data, '$.article') AS INTEGER), d.id"

# Light documents (``SearchQuery.light``): the ranking, boost and facet fields, read from the columns
LIGHT_SQL = "SELECT rowid, id, kind, prior, doc_type, source_id, source_title, region, level FROM docs"


def light_documents(rows: list[tuple], topics_of: Callable[[int], Sequence[str]]) -> dict[int, Document]:
    """rowid → a light document from ``LIGHT_SQL`` rows; ``topics_of(rowid)`` gives its topics
    from the engine's cached facet codes."""
    out = {}
    for rowid, doc_id, kind, prior, doc_type, source_id, source_title, region, level in rows:
        topics = topics_of(rowid)
        out[rowid] = Document(
            id=doc_id,
            kind=kind,
            title="",
            text="",
            prior=prior,
            doc_type=doc_type,
            source_id=source_id,
            source_title=source_title,
            region=region,
            level=level,
            topics=list(topics),
        )
    return out


def browse_facets(conn: sqlite3.Connection, where: str, params: list[Any]) -> dict[str, dict[str, int]]:
    """Facet counts over a filtered set (browsing without terms), straight from the tables."""
    facets: dict[str, dict[str, int]] = {}
    for field in ("kind", "source_title", "region"):
        rows = conn.execute(
            f"SELECT d.{field}, count(*) FROM docs d WHERE d.{field} != ''{where} "
            f"GROUP BY d.{field} ORDER BY count(*) DESC LIMIT {FACET_SIZE}",
            params,
        ).fetchall()
        facets[field] = dict(rows)
    rows = conn.execute(
        "SELECT t.value, count(*) FROM doc_tags t JOIN docs d ON d.rowid = t.rowid "
        f"WHERE t.field = 'topics'{where} "
        f"GROUP BY t.value ORDER BY count(*) DESC LIMIT {FACET_SIZE}",
        params,
    ).fetchall()
    facets["topics"] = dict(rows)
    return facets


def full_hits(conn: sqlite3.Connection, page: list[tuple[int, float]]) -> list[SearchHit]:
    """``(rowid, score)`` pairs as hits carrying their whole stored documents, in that order."""
    if not page:
        return []
    rowids = [r for r, _ in page]
    data = dict(conn.execute(f"SELECT rowid, data FROM docs WHERE rowid IN ({', '.join('?' * len(rowids))})", rowids))
    hits = []
    for rowid, score in page:
        doc = Document.from_dict(json.loads(data[rowid]))
        hits.append(SearchHit(id=doc.id, score=score, doc=doc))
    return hits


def id_hits(conn: sqlite3.Connection, page: list[tuple[int, float]], known: DocIds) -> list[SearchHit]:
    """``(rowid, score)`` pairs as hits without documents (``SearchQuery.ids_only``), in that order;
    ids from ``known``, and from the index for a rowid it lacks."""
    ids = dict(zip([r for r, _ in page], known.get_many([r for r, _ in page]), strict=True))
    missing = [r for r, i in ids.items() if i is None]
    if missing:
        marks = ", ".join("?" * len(missing))
        ids.update(conn.execute(f"SELECT rowid, id FROM docs WHERE rowid IN ({marks})", missing))
    return [SearchHit(id=ids[r], score=s, doc=None) for r, s in page if ids[r] is not None]
