"""Lawyers' cases in the app store: the ``cases``, ``case_versions`` and ``case_events`` tables.

Low level only: rows in, records out. The workflow rules (who may do what, in which
state) live in ``search_api.cases.workflow``, which runs each operation inside one
``CaseStore.transaction()`` and passes its connection to the writing methods here.

Every save is a new row in ``case_versions`` (the fields as JSON, with the citations
detected in them); ``case_events`` is the history shown on the case page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from search_api import db

CASE_STATES = ("draft", "submitted", "returned", "published", "withdrawn")

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
    # Ids come from URLs: beyond the column's range (32 bits on PostgreSQL, 64 on SQLite) the
    # database raises (a crash, not a miss).
    return 0 < n < 2**31


class CaseStore:
    """The case tables of the app store ``database`` (authors are rows of ``users``)."""

    def __init__(self, database: db.Database):
        self.database = database

    @contextmanager
    def transaction(self) -> Iterator[db.Conn]:
        """A write transaction: everything inside commits together or not at all, one at a time
        on every app server (a case's next version number is read and written inside it)."""
        with self.database.transaction() as conn:
            yield conn

    # ---- writing (inside a transaction) -----------------------------------------

    def insert_case(self, conn: db.Conn, author_id: int) -> int:
        """A new draft at version 1 (add the version with ``insert_version``); returns its id."""
        now = db.now_iso()
        return conn.scalar(
            "INSERT INTO cases (author_id, state, current_version, created_at, updated_at)"
            " VALUES (:author_id, 'draft', 1, :now, :now) RETURNING id",
            {"author_id": author_id, "now": now},
        )

    def insert_version(
        self, conn: db.Conn, case_id: int, number: int, author_id: int, data: dict, citations: list
    ) -> None:
        conn.execute(
            "INSERT INTO case_versions (case_id, number, author_id, created_at, data, citations)"
            " VALUES (:case_id, :number, :author_id, :created_at, :data, :citations)",
            {
                "case_id": case_id,
                "number": number,
                "author_id": author_id,
                "created_at": db.now_iso(),
                "data": json.dumps(data, ensure_ascii=False),  # JSON escapes control characters (NUL too)
                "citations": json.dumps(citations, ensure_ascii=False),
            },
        )

    def set_current(self, conn: db.Conn, case_id: int, number: int, state: str) -> None:
        """Make version ``number`` the current one, in ``state``."""
        conn.execute(
            "UPDATE cases SET current_version = :number, state = :state, updated_at = :now WHERE id = :id",
            {"number": number, "state": state, "now": db.now_iso(), "id": case_id},
        )

    def set_state(self, conn: db.Conn, case_id: int, state: str) -> None:
        conn.execute(
            "UPDATE cases SET state = :state, updated_at = :now WHERE id = :id",
            {"state": state, "now": db.now_iso(), "id": case_id},
        )

    def set_published(self, conn: db.Conn, case_id: int, number: int) -> str:
        """Record version ``number`` as the published one; returns the publication timestamp."""
        published_at = db.now_iso()
        conn.execute(
            "UPDATE cases SET published_version = :number, published_at = :at WHERE id = :id",
            {"number": number, "at": published_at, "id": case_id},
        )
        return published_at

    def clear_published(self, conn: db.Conn, case_id: int) -> None:
        """No version is published any more (the case was withdrawn)."""
        conn.execute("UPDATE cases SET published_version = NULL WHERE id = :id", {"id": case_id})

    def add_event(
        self, conn: db.Conn, case_id: int, version: int, user_id: int, action: str, comment: str = ""
    ) -> None:
        conn.execute(
            "INSERT INTO case_events (case_id, version, user_id, action, comment, created_at)"
            " VALUES (:case_id, :version, :user_id, :action, :comment, :now)",
            {
                "case_id": case_id,
                "version": version,
                "user_id": user_id,
                "action": action,
                "comment": comment.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
                "now": db.now_iso(),
            },
        )

    # ---- reading ------------------------------------------------------------------

    def get(self, case_id: int, conn: db.Conn | None = None) -> CaseRecord | None:
        """The case with its current version, or None."""
        if not _valid_id(case_id):
            return None
        if conn is None:
            with self.database.connect() as own:
                return self.get(case_id, own)
        row = conn.row(f"{_CASE_SELECT} WHERE c.id = :id", {"id": case_id})
        if row is None:
            return None
        record = _case_from_row(row)
        record.current = self.get_version(case_id, record.current_version, conn)
        return record

    def get_version(self, case_id: int, number: int, conn: db.Conn | None = None) -> CaseVersion | None:
        if not (_valid_id(case_id) and _valid_id(number)):
            return None
        if conn is None:
            with self.database.connect() as own:
                return self.get_version(case_id, number, own)
        row = conn.row(
            f"{_VERSION_SELECT} WHERE v.case_id = :id AND v.number = :number", {"id": case_id, "number": number}
        )
        return _version_from_row(row) if row else None

    def list(
        self, *, author_id: int | None = None, states: tuple[str, ...] = (), live: bool = False
    ) -> list[CaseRecord]:
        """Cases (with current versions), newest first, optionally by author and states; ``live``:
        only those with a published version in the index (``CaseRecord.live``)."""
        sql = f"{_CASE_SELECT} WHERE 1=1"
        params: dict[str, Any] = {}
        if live:
            sql += " AND c.published_version IS NOT NULL AND c.state != 'withdrawn'"
        if author_id is not None:
            sql += " AND c.author_id = :author_id"
            params["author_id"] = author_id
        if states:
            names = [f"state{i}" for i in range(len(states))]
            sql += f" AND c.state IN ({', '.join(':' + n for n in names)})"
            params.update(zip(names, states, strict=True))
        sql += " ORDER BY c.updated_at DESC, c.id DESC"
        with self.database.connect() as conn:
            records = [_case_from_row(r) for r in conn.rows(sql, params)]
            for record in records:
                record.current = self.get_version(record.id, record.current_version, conn)
        return records

    def list_versions(self, case_id: int) -> list[CaseVersion]:
        with self.database.connect() as conn:
            rows = conn.rows(f"{_VERSION_SELECT} WHERE v.case_id = :id ORDER BY v.number", {"id": case_id})
        return [_version_from_row(r) for r in rows]

    def list_events(self, case_id: int) -> list[dict[str, Any]]:
        """The history, oldest first: ``version``, ``user`` (a name), ``action``, ``comment``, ``created_at``."""
        with self.database.connect() as conn:
            rows = conn.rows(
                "SELECT e.*, u.username AS user FROM case_events e JOIN users u ON u.id = e.user_id"
                " WHERE e.case_id = :id ORDER BY e.id",
                {"id": case_id},
            )
        return [dict(r) for r in rows]


def _case_from_row(row: Mapping[str, Any]) -> CaseRecord:
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


def _version_from_row(row: Mapping[str, Any]) -> CaseVersion:
    return CaseVersion(
        case_id=row["case_id"],
        number=row["number"],
        author_id=row["author_id"],
        author=row["author"],
        created_at=row["created_at"],
        data=json.loads(row["data"]),
        citations=json.loads(row["citations"]),
    )
