"""The help-request tables of the app store, and the rows they give back.

Personal fields are stored only sealed (``sealed`` columns hold Fernet tokens, see
``search_api.help.sealing``); everything else here is what the desk sorts and counts by.
A ticket (the worker's status link) is stored as its SHA-256 digest only. Purging a
closed request drops every sealed value and the ticket but keeps the bare row (district,
topic, dates, outcome) so the union's figures stay whole.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_api import db
from search_api.accounts import users

SCHEMA = """
CREATE TABLE IF NOT EXISTS help_requests (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,          -- 崂山-2026-000123
    ticket_hash TEXT UNIQUE,                 -- the status link's digest; NULL once purged
    district TEXT NOT NULL,
    topic TEXT NOT NULL,
    is_dispute TEXT NOT NULL,
    call_time TEXT NOT NULL,
    publish_consent INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    sealed TEXT,                             -- name, phone, story … (Fernet); NULL once purged
    created_at TEXT NOT NULL,
    contact_due TEXT NOT NULL,               -- the day (Asia/Shanghai) by whose end the worker is called
    first_contact_at TEXT,
    closed_at TEXT,
    updated_at TEXT NOT NULL,
    lawyer_id INTEGER REFERENCES users(id),
    purged_at TEXT
);
CREATE INDEX IF NOT EXISTS help_requests_queue ON help_requests (district, state, created_at);
CREATE TABLE IF NOT EXISTS help_events (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES help_requests(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    actor_id INTEGER REFERENCES users(id),   -- NULL: the worker
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    outcome TEXT NOT NULL DEFAULT '',
    sealed_note TEXT                         -- a note or added information (Fernet); NULL once purged
);
CREATE INDEX IF NOT EXISTS help_events_request ON help_events (request_id, id);
CREATE TABLE IF NOT EXISTS help_answers (
    request_id INTEGER PRIMARY KEY REFERENCES help_requests(id) ON DELETE CASCADE,
    lawyer_id INTEGER NOT NULL REFERENCES users(id),
    sealed_body TEXT,                        -- the lawyer's Markdown (Fernet); NULL once purged
    citations TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- who saw a worker's phone number: kept after the request is purged (no personal data in it)
CREATE TABLE IF NOT EXISTS help_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL,
    reference TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS help_sequences (prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
-- submissions per client network (a keyed digest, never the address), for the hourly limit
CREATE TABLE IF NOT EXISTS help_submissions (network TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS help_submissions_network ON help_submissions (network, at);
CREATE TABLE IF NOT EXISTS qa_documents (
    id INTEGER PRIMARY KEY,
    request_id INTEGER REFERENCES help_requests(id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    topic TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,                     -- published | withdrawn
    reviewer_id INTEGER REFERENCES users(id),
    published_at TEXT NOT NULL
);
"""


@dataclass
class HelpRow:
    """One request as stored (personal fields still sealed)."""

    id: int
    reference: str
    district: str
    topic: str
    is_dispute: str
    call_time: str
    publish_consent: bool
    state: str
    outcome: str
    sealed: str | None
    created_at: str
    contact_due: str
    first_contact_at: str | None
    closed_at: str | None
    updated_at: str
    lawyer_id: int | None
    lawyer: str = ""
    purged_at: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> HelpRow:
        keys = row.keys()
        return cls(
            **{name: row[name] for name in cls.__dataclass_fields__ if name in keys and name != "publish_consent"},
            publish_consent=bool(row["publish_consent"]),
        )


_SELECT = (
    "SELECT r.*, COALESCE(u.display_name, '') AS lawyer FROM help_requests r LEFT JOIN users u ON u.id = r.lawyer_id"
)


class HelpStore:
    """SQL over the help tables of the app store at ``path``."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        with db.connect(self.path, users.SCHEMA + SCHEMA):
            pass

    def connect(self):
        return db.connect(self.path)

    def next_reference(self, conn: sqlite3.Connection, prefix: str) -> str:
        """``<prefix>-000123``: the next number of this district and year (inside a transaction)."""
        conn.execute(
            "INSERT INTO help_sequences (prefix, last) VALUES (?, 1)"
            " ON CONFLICT (prefix) DO UPDATE SET last = last + 1",
            (prefix,),
        )
        last = conn.execute("SELECT last FROM help_sequences WHERE prefix = ?", (prefix,)).fetchone()[0]
        return f"{prefix}-{last:06d}"

    def insert(self, conn: sqlite3.Connection, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = conn.execute(f"INSERT INTO help_requests ({columns}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid)

    def event(
        self,
        conn: sqlite3.Connection,
        request_id: int,
        action: str,
        actor_id: int | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        outcome: str = "",
        sealed_note: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO help_events (request_id, at, actor_id, action, from_state, to_state, outcome, sealed_note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (request_id, db.now_iso(), actor_id, action, from_state, to_state, outcome, sealed_note),
        )

    def get(self, request_id: int, conn: sqlite3.Connection | None = None) -> HelpRow | None:
        if not 0 < request_id < 2**63:
            return None
        if conn is None:
            with self.connect() as own:
                return self.get(request_id, own)
        row = conn.execute(_SELECT + " WHERE r.id = ?", (request_id,)).fetchone()
        return HelpRow.from_row(row) if row else None

    def by_ticket(self, ticket_hash: str) -> HelpRow | None:
        with self.connect() as conn:
            row = conn.execute(_SELECT + " WHERE r.ticket_hash = ?", (ticket_hash,)).fetchone()
        return HelpRow.from_row(row) if row else None

    def list(
        self,
        districts: tuple[str, ...] | None = None,
        states: tuple[str, ...] = (),
        lawyer_id: int | None = None,
        limit: int = 500,
    ) -> list[HelpRow]:
        """Requests, oldest first; ``districts`` None means every district."""
        where, params = ["r.purged_at IS NULL"], []
        if districts is not None:
            where.append(f"r.district IN ({','.join('?' for _ in districts) or 'NULL'})")
            params += list(districts)
        if states:
            where.append(f"r.state IN ({','.join('?' for _ in states)})")
            params += list(states)
        if lawyer_id is not None:
            where.append("r.lawyer_id = ?")
            params.append(lawyer_id)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY r.created_at, r.id LIMIT ?"
        with self.connect() as conn:
            return [HelpRow.from_row(r) for r in conn.execute(sql, [*params, limit])]

    def events(self, request_id: int) -> list[sqlite3.Row]:
        with self.connect() as conn:
            return conn.execute(
                "SELECT e.*, COALESCE(u.display_name, '') AS actor FROM help_events e"
                " LEFT JOIN users u ON u.id = e.actor_id WHERE e.request_id = ? ORDER BY e.id",
                (request_id,),
            ).fetchall()

    def answer(self, request_id: int) -> sqlite3.Row | None:
        with self.connect() as conn:
            return conn.execute(
                "SELECT a.*, u.display_name AS lawyer FROM help_answers a JOIN users u ON u.id = a.lawyer_id"
                " WHERE a.request_id = ?",
                (request_id,),
            ).fetchone()

    def publishable(self) -> list[sqlite3.Row]:
        """Answered requests whose worker agreed to publication and that are not published yet."""
        with self.connect() as conn:
            return conn.execute(
                "SELECT r.id, r.reference, r.topic, a.updated_at FROM help_requests r"
                " JOIN help_answers a ON a.request_id = r.id"
                " WHERE r.publish_consent = 1 AND r.purged_at IS NULL AND a.sealed_body IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM qa_documents q WHERE q.request_id = r.id AND q.state = 'published')"
                " ORDER BY a.updated_at"
            ).fetchall()

    def audit(self, conn: sqlite3.Connection, user: users.User, reference: str, action: str) -> None:
        conn.execute(
            "INSERT INTO help_audit (at, user_id, username, reference, action) VALUES (?, ?, ?, ?, ?)",
            (db.now_iso(), user.id, user.username, reference, action),
        )

    def audit_log(self, limit: int = 200) -> list[sqlite3.Row]:
        with self.connect() as conn:
            return conn.execute("SELECT * FROM help_audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def count_submissions(self, conn: sqlite3.Connection, network: str, since: float) -> int:
        return conn.execute(
            "SELECT count(*) FROM help_submissions WHERE network = ? AND at >= ?", (network, since)
        ).fetchone()[0]

    def purge(self, now_iso: str, cutoff_iso: str) -> dict[str, int]:
        """Drop the personal data of requests closed before ``cutoff_iso`` (sealed fields, notes,
        answers, the ticket), keeping the bare rows for the figures; and old submission counts."""
        with self.connect() as conn, db.transaction(conn):
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM help_requests WHERE state = 'closed' AND closed_at < ? AND purged_at IS NULL",
                    (cutoff_iso,),
                )
            ]
            marks = ",".join("?" for _ in ids) or "NULL"
            conn.execute(
                f"UPDATE help_requests SET sealed = NULL, ticket_hash = NULL, purged_at = ? WHERE id IN ({marks})",
                (now_iso, *ids),
            )
            conn.execute(f"UPDATE help_events SET sealed_note = NULL WHERE request_id IN ({marks})", ids)
            conn.execute(f"UPDATE help_answers SET sealed_body = NULL WHERE request_id IN ({marks})", ids)
            stale = conn.execute("DELETE FROM help_submissions WHERE at < ?", (time.time() - 3600,)).rowcount
        return {"help_requests_purged": len(ids), "help_submission_counts": stale}

    def reseal(self, reseal) -> int:
        """Every sealed value passed through ``reseal`` (key rotation), in one transaction."""
        columns = (("help_requests", "id", "sealed"), ("help_events", "id", "sealed_note"))
        columns += (("help_answers", "request_id", "sealed_body"),)
        count = 0
        with self.connect() as conn, db.transaction(conn):
            for table, key, column in columns:
                rows = conn.execute(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
                for row in rows:
                    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (reseal(row[1]), row[0]))
                count += len(rows)
        return count
