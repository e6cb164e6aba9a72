"""Lawyers' cases in the app store: the ``cases``, ``case_versions`` and ``case_events`` tables.

Low level only: rows in, records out. The workflow rules (who may do what, in which
state) live in ``search_api.cases.workflow``, which runs each operation inside one
``CaseStore.transaction()`` and passes its connection to the writing methods here.

Every save is a new row in ``case_versions`` (the fields as JSON, with the citations
detected in them); ``case_events`` is the history shown on the case page.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_api import db
from search_api.accounts import users

CASE_STATES = ("draft", "submitted", "returned", "published", "withdrawn")

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users(id),
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'returned', 'published', 'withdrawn')),
    current_version INTEGER NOT NULL,
    published_version INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX IF NOT EXISTS cases_state ON cases(state);
CREATE INDEX IF NOT EXISTS cases_author ON cases(author_id);
CREATE TABLE IF NOT EXISTS case_versions (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (case_id, number)
);
CREATE TABLE IF NOT EXISTS case_events (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
"""

_CASE_SELECT = "SELECT c.*, u.username AS author FROM cases c JOIN users u ON u.id = c.author_id"
_VERSION_SELECT = "SELECT v.*, u.username AS author FROM case_versions v JOIN users u ON u.id = v.author_id"


@dataclass
class CaseVersion:
    """One saved state of a case's fields (``data``) with its detected citations."""

    case_id: int
    number: int
    author_id: int
    author: str
    created_at: str
    data: dict[str, Any]
    citations: list[dict[str, Any]]


@dataclass
class CaseRecord:
    """A case's workflow row; ``current`` is its newest version."""

    id: int
    author_id: int
    author: str
    state: str
    current_version: int
    published_version: int | None
    created_at: str
    updated_at: str
    published_at: str | None
    current: CaseVersion | None = None

    @property
    def doc_id(self) -> str:
        return f"lawyer-case-{self.id}"

    @property
    def live(self) -> bool:
        """A version of it is published and searchable (a correction may be in the works on top of it)."""
        return self.published_version is not None and self.state != "withdrawn"


def _valid_id(n: int) -> bool:
    # Ids come from URLs; SQLite overflows (a crash, not a miss) beyond 64 bits.
    return 0 < n < 2**63


class CaseStore:
    """The case tables of the app store at ``path`` (authors are rows of ``users``)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        with db.connect(self.path, users.SCHEMA + SCHEMA):
            pass

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        with db.connect(self.path) as conn, db.transaction(conn):
            yield conn

    # ---- writing (inside a transaction) -----------------------------------------

    def insert_case(self, conn: sqlite3.Connection, author_id: int) -> int:
        """A new draft at version 1 (add the version with ``insert_version``); returns its id."""
        now = db.now_iso()
        cur = conn.execute(
            "INSERT INTO cases (author_id, state, current_version, created_at, updated_at)"
            " VALUES (?, 'draft', 1, ?, ?)",
            (author_id, now, now),
        )
        return cur.lastrowid

    def insert_version(
        self, conn: sqlite3.Connection, case_id: int, number: int, author_id: int, data: dict, citations: list
    ) -> None:
        conn.execute(
            "INSERT INTO case_versions (case_id, number, author_id, created_at, data, citations)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                case_id,
                number,
                author_id,
                db.now_iso(),
                json.dumps(data, ensure_ascii=False),
                json.dumps(citations, ensure_ascii=False),
            ),
        )

    def set_current(self, conn: sqlite3.Connection, case_id: int, number: int, state: str) -> None:
        """Make version ``number`` the current one, in ``state``."""
        conn.execute(
            "UPDATE cases SET current_version = ?, state = ?, updated_at = ? WHERE id = ?",
            (number, state, db.now_iso(), case_id),
        )

    def set_state(self, conn: sqlite3.Connection, case_id: int, state: str) -> None:
        conn.execute("UPDATE cases SET state = ?, updated_at = ? WHERE id = ?", (state, db.now_iso(), case_id))

    def set_published(self, conn: sqlite3.Connection, case_id: int, number: int) -> str:
        """Record version ``number`` as the published one; returns the publication timestamp."""
        published_at = db.now_iso()
        conn.execute(
            "UPDATE cases SET published_version = ?, published_at = ? WHERE id = ?", (number, published_at, case_id)
        )
        return published_at

    def clear_published(self, conn: sqlite3.Connection, case_id: int) -> None:
        """No version is published any more (the case was withdrawn)."""
        conn.execute("UPDATE cases SET published_version = NULL WHERE id = ?", (case_id,))

    def add_event(
        self, conn: sqlite3.Connection, case_id: int, version: int, user_id: int, action: str, comment: str = ""
    ) -> None:
        conn.execute(
            "INSERT INTO case_events (case_id, version, user_id, action, comment, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, version, user_id, action, comment, db.now_iso()),
        )

    # ---- reading ------------------------------------------------------------------

    def get(self, case_id: int, conn: sqlite3.Connection | None = None) -> CaseRecord | None:
        """The case with its current version, or None."""
        if not _valid_id(case_id):
            return None
        if conn is None:
            with db.connect(self.path) as own:
                return self.get(case_id, own)
        row = conn.execute(f"{_CASE_SELECT} WHERE c.id = ?", (case_id,)).fetchone()
        if row is None:
            return None
        record = _case_from_row(row)
        record.current = self.get_version(case_id, record.current_version, conn)
        return record

    def get_version(self, case_id: int, number: int, conn: sqlite3.Connection | None = None) -> CaseVersion | None:
        if not (_valid_id(case_id) and _valid_id(number)):
            return None
        if conn is None:
            with db.connect(self.path) as own:
                return self.get_version(case_id, number, own)
        row = conn.execute(f"{_VERSION_SELECT} WHERE v.case_id = ? AND v.number = ?", (case_id, number)).fetchone()
        return _version_from_row(row) if row else None

    def list(
        self, *, author_id: int | None = None, states: tuple[str, ...] = (), live: bool = False
    ) -> list[CaseRecord]:
        """Cases (with current versions), newest first, optionally by author and states; ``live``:
        only those with a published version in the index (``CaseRecord.live``)."""
        sql = f"{_CASE_SELECT} WHERE 1=1"
        args: list[Any] = []
        if live:
            sql += " AND c.published_version IS NOT NULL AND c.state != 'withdrawn'"
        if author_id is not None:
            sql += " AND c.author_id = ?"
            args.append(author_id)
        if states:
            sql += f" AND c.state IN ({','.join('?' * len(states))})"
            args.extend(states)
        sql += " ORDER BY c.updated_at DESC, c.id DESC"
        with db.connect(self.path) as conn:
            records = [_case_from_row(r) for r in conn.execute(sql, args).fetchall()]
            for record in records:
                record.current = self.get_version(record.id, record.current_version, conn)
        return records

    def list_versions(self, case_id: int) -> list[CaseVersion]:
        with db.connect(self.path) as conn:
            rows = conn.execute(f"{_VERSION_SELECT} WHERE v.case_id = ? ORDER BY v.number", (case_id,)).fetchall()
        return [_version_from_row(r) for r in rows]

    def list_events(self, case_id: int) -> list[sqlite3.Row]:
        with db.connect(self.path) as conn:
            return conn.execute(
                "SELECT e.*, u.username AS user FROM case_events e JOIN users u ON u.id = e.user_id"
                " WHERE e.case_id = ? ORDER BY e.id",
                (case_id,),
            ).fetchall()


def _case_from_row(row: sqlite3.Row) -> CaseRecord:
    return CaseRecord(
        id=row["id"],
        author_id=row["author_id"],
        author=row["author"],
        state=row["state"],
        current_version=row["current_version"],
        published_version=row["published_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        published_at=row["published_at"],
    )


def _version_from_row(row: sqlite3.Row) -> CaseVersion:
    return CaseVersion(
        case_id=row["case_id"],
        number=row["number"],
        author_id=row["author_id"],
        author=row["author"],
        created_at=row["created_at"],
        data=json.loads(row["data"]),
        citations=json.loads(row["citations"]),
    )
