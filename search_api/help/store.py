"""The help-request tables of the app store, and the rows they give back.

Personal fields are stored only sealed (``sealed`` columns hold Fernet tokens, see
``search_api.help.sealing``); everything else here is what the desk sorts and counts by.
A ticket (the worker's status link) is stored as its SHA-256 digest only. Purging a
closed request drops every sealed value and the ticket but keeps the bare row (district,
topic, dates, outcome) so the union's figures stay whole.

The tables (``help_requests``, ``help_events``, ``help_answers``, ``help_audit``,
``help_sequences``, ``help_submissions``, ``qa_documents``) are defined by the app store's
Alembic revisions. Writers take the store's write transaction (one writer at a time on
every app server), so reference numbers and the hourly submission count hold across servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import RowMapping

from search_api import db
from search_api.accounts import users

SUBMISSION_WINDOW = 3600.0  # seconds the hourly submission limit looks back


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
    def from_row(cls, row: RowMapping) -> HelpRow:
        keys = row.keys()
        return cls(
            **{name: row[name] for name in cls.__dataclass_fields__ if name in keys and name != "publish_consent"},
            publish_consent=bool(row["publish_consent"]),
        )


_SELECT = (
    "SELECT r.*, COALESCE(u.display_name, '') AS lawyer FROM help_requests r LEFT JOIN users u ON u.id = r.lawyer_id"
)


def in_list(column: str, name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """``column IN (:name0, :name1, …)`` and its parameters (an empty list matches nothing)."""
    params = {f"{name}{i}": value for i, value in enumerate(values)}
    return f"{column} IN ({', '.join(':' + key for key in params) or 'NULL'})", params


class HelpStore:
    """SQL over the help tables of the app store ``database``."""

    def __init__(self, database: db.Database):
        self.database = database

    def connect(self):
        """A read-only connection (``with store.connect() as conn``)."""
        return self.database.connect()

    def transaction(self):
        """A write transaction, serialised with the store's other writers on every server."""
        return self.database.transaction()

    # ---- writes, inside ``transaction()`` --------------------------------------------

    def admit_submission(self, conn: db.Conn, network: str, per_hour: int, now: float | None = None) -> bool:
        """Count a submission from ``network`` unless it already made ``per_hour`` in the last hour."""
        now = time.time() if now is None else now
        since = now - SUBMISSION_WINDOW
        count = conn.scalar(
            "SELECT COUNT(*) FROM help_submissions WHERE network = :network AND at >= :since",
            {"network": network, "since": since},
        )
        if count >= per_hour:
            return False
        conn.execute("DELETE FROM help_submissions WHERE at < :since", {"since": since})
        conn.execute(
            "INSERT INTO help_submissions (network, at) VALUES (:network, :at)", {"network": network, "at": now}
        )
        return True

    def next_reference(self, conn: db.Conn, prefix: str) -> str:
        """``<prefix>-000123``: the next number of this district and year."""
        last = conn.scalar(
            "INSERT INTO help_sequences (prefix, last) VALUES (:prefix, 1)"
            " ON CONFLICT (prefix) DO UPDATE SET last = help_sequences.last + 1 RETURNING last",
            {"prefix": prefix},
        )
        return f"{prefix}-{last:06d}"

    def insert(self, conn: db.Conn, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        return int(conn.scalar(f"INSERT INTO help_requests ({columns}) VALUES ({marks}) RETURNING id", values))

    def event(
        self,
        conn: db.Conn,
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
            " VALUES (:request_id, :at, :actor_id, :action, :from_state, :to_state, :outcome, :sealed_note)",
            {
                "request_id": request_id,
                "at": db.now_iso(),
                "actor_id": actor_id,
                "action": action,
                "from_state": from_state,
                "to_state": to_state,
                "outcome": outcome,
                "sealed_note": sealed_note,
            },
        )

    def touch(self, conn: db.Conn, request_id: int, now: str, lawyer_id: int | None = None) -> None:
        """Mark the request changed at ``now`` (and assign it to ``lawyer_id`` if given)."""
        conn.execute(
            "UPDATE help_requests SET updated_at = :now, lawyer_id = COALESCE(:lawyer_id, lawyer_id) WHERE id = :id",
            {"now": now, "lawyer_id": lawyer_id, "id": request_id},
        )

    def set_state(self, conn: db.Conn, request_id: int, state: str, outcome: str, now: str, contact: bool) -> None:
        """Move to ``state``; ``contact`` (a person acted) sets the first contact once; closing sets ``closed_at``."""
        conn.execute(
            "UPDATE help_requests SET state = :state, outcome = :outcome, updated_at = :now,"
            " first_contact_at = COALESCE(first_contact_at, :contacted), closed_at = COALESCE(:closed, closed_at)"
            " WHERE id = :id",
            {
                "state": state,
                "outcome": outcome,
                "now": now,
                "contacted": now if contact else None,
                "closed": now if state == "closed" else None,
                "id": request_id,
            },
        )

    def save_answer(
        self, conn: db.Conn, request_id: int, lawyer_id: int, sealed_body: str, citations: str, now: str
    ) -> None:
        """The lawyer's answer (one per request: saving again replaces it)."""
        conn.execute(
            "INSERT INTO help_answers (request_id, lawyer_id, sealed_body, citations, created_at, updated_at)"
            " VALUES (:request_id, :lawyer_id, :body, :citations, :now, :now) ON CONFLICT (request_id) DO UPDATE SET"
            " lawyer_id = excluded.lawyer_id, sealed_body = excluded.sealed_body,"
            " citations = excluded.citations, updated_at = excluded.updated_at",
            {"request_id": request_id, "lawyer_id": lawyer_id, "body": sealed_body, "citations": citations, "now": now},
        )
        self.touch(conn, request_id, now)

    def audit(self, conn: db.Conn, user: users.User, reference: str, action: str) -> None:
        conn.execute(
            "INSERT INTO help_audit (at, user_id, username, reference, action)"
            " VALUES (:at, :user_id, :username, :reference, :action)",
            {
                "at": db.now_iso(),
                "user_id": user.id,
                "username": user.username,
                "reference": reference,
                "action": action,
            },
        )

    def add_qa(self, conn: db.Conn, values: dict[str, Any]) -> RowMapping | None:
        """A published 问答, unless request ``values["request_id"]`` already has one (then None)."""
        if conn.scalar(
            "SELECT 1 FROM qa_documents WHERE request_id = :request_id AND state = 'published'",
            {"request_id": values["request_id"]},
        ):
            return None
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        qa_id = conn.scalar(
            f"INSERT INTO qa_documents ({columns}, state) VALUES ({marks}, 'published') RETURNING id", values
        )
        return conn.row("SELECT * FROM qa_documents WHERE id = :id", {"id": qa_id})

    # ---- reads -----------------------------------------------------------------------

    def get(self, request_id: int, conn: db.Conn | None = None) -> HelpRow | None:
        if not 0 < request_id < 2**63:
            return None
        if conn is None:
            with self.connect() as own:
                return self.get(request_id, own)
        row = conn.row(_SELECT + " WHERE r.id = :id", {"id": request_id})
        return HelpRow.from_row(row) if row else None

    def by_ticket(self, ticket_hash: str) -> HelpRow | None:
        with self.connect() as conn:
            row = conn.row(_SELECT + " WHERE r.ticket_hash = :ticket_hash", {"ticket_hash": ticket_hash})
        return HelpRow.from_row(row) if row else None

    def list(
        self,
        districts: tuple[str, ...] | None = None,
        states: tuple[str, ...] = (),
        lawyer_id: int | None = None,
        limit: int = 500,
    ) -> list[HelpRow]:
        """Requests, oldest first; ``districts`` None means every district."""
        where, params = ["r.purged_at IS NULL"], {"limit": limit}
        for column, name, values in (("r.district", "d", districts), ("r.state", "s", states or None)):
            if values is not None:
                sql, more = in_list(column, name, values)
                where.append(sql)
                params.update(more)
        if lawyer_id is not None:
            where.append("r.lawyer_id = :lawyer_id")
            params["lawyer_id"] = lawyer_id
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY r.created_at, r.id LIMIT :limit"
        with self.connect() as conn:
            return [HelpRow.from_row(r) for r in conn.rows(sql, params)]

    def events(self, request_id: int) -> list[RowMapping]:
        with self.connect() as conn:
            return conn.rows(
                "SELECT e.*, COALESCE(u.display_name, '') AS actor FROM help_events e"
                " LEFT JOIN users u ON u.id = e.actor_id WHERE e.request_id = :id ORDER BY e.id",
                {"id": request_id},
            )

    def answer(self, request_id: int) -> RowMapping | None:
        with self.connect() as conn:
            return conn.row(
                "SELECT a.*, u.display_name AS lawyer FROM help_answers a JOIN users u ON u.id = a.lawyer_id"
                " WHERE a.request_id = :id",
                {"id": request_id},
            )

    def publishable(self) -> list[RowMapping]:
        """Answered requests whose worker agreed to publication and that are not published yet."""
        with self.connect() as conn:
            return conn.rows(
                "SELECT r.id, r.reference, r.topic, a.updated_at FROM help_requests r"
                " JOIN help_answers a ON a.request_id = r.id"
                " WHERE r.publish_consent = 1 AND r.purged_at IS NULL AND a.sealed_body IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM qa_documents q WHERE q.request_id = r.id AND q.state = 'published')"
                " ORDER BY a.updated_at, r.id"
            )

    def published_qa(self) -> list[RowMapping]:
        with self.connect() as conn:
            return conn.rows("SELECT * FROM qa_documents WHERE state = 'published' ORDER BY id")

    def audit_log(self, limit: int = 200) -> list[RowMapping]:
        with self.connect() as conn:
            return conn.rows("SELECT * FROM help_audit ORDER BY id DESC LIMIT :limit", {"limit": limit})

    def figures_rows(
        self, since: str | None = None, until: str | None = None, districts: tuple[str, ...] | None = None
    ) -> list[RowMapping]:
        """What the figures count, of every request (purged ones too) created in ``[since, until)``."""
        where, params = ["1 = 1"], {}
        if since is not None:
            where.append("created_at >= :since")
            params["since"] = since
        if until is not None:
            where.append("created_at < :until")
            params["until"] = until
        if districts is not None:
            sql, more = in_list("district", "d", districts)
            where.append(sql)
            params.update(more)
        with self.connect() as conn:
            return conn.rows(
                "SELECT district, topic, is_dispute, state, outcome, created_at, contact_due, first_contact_at"
                f" FROM help_requests WHERE {' AND '.join(where)} ORDER BY id",
                params,
            )

    def feed(self, after_id: int, limit: int) -> list[RowMapping]:
        """Events after ``after_id`` with their request's columns (``sealed`` included), oldest first."""
        with self.connect() as conn:
            return conn.rows(
                "SELECT e.id, e.at, e.action, e.from_state, e.to_state, e.outcome, r.reference, r.district, r.topic,"
                " r.is_dispute, r.contact_due, r.sealed FROM help_events e JOIN help_requests r ON r.id = e.request_id"
                " WHERE e.id > :after ORDER BY e.id LIMIT :limit",
                {"after": max(0, after_id), "limit": limit},
            )

    # ---- upkeep ----------------------------------------------------------------------

    def purge(self, now_iso: str, cutoff_iso: str) -> dict[str, int]:
        """Drop the personal data of requests closed before ``cutoff_iso`` (sealed fields, notes,
        answers, the ticket), keeping the bare rows for the figures; and old submission counts."""
        with self.transaction() as conn:
            ids = conn.column(
                "SELECT id FROM help_requests WHERE state = 'closed' AND closed_at < :cutoff AND purged_at IS NULL",
                {"cutoff": cutoff_iso},
            )
            if ids:
                each = [{"id": i, "now": now_iso} for i in ids]
                conn.execute(
                    "UPDATE help_requests SET sealed = NULL, ticket_hash = NULL, purged_at = :now WHERE id = :id", each
                )
                conn.execute("UPDATE help_events SET sealed_note = NULL WHERE request_id = :id", each)
                conn.execute("UPDATE help_answers SET sealed_body = NULL WHERE request_id = :id", each)
            stale = conn.execute(
                "DELETE FROM help_submissions WHERE at < :since", {"since": time.time() - SUBMISSION_WINDOW}
            ).rowcount
        return {"help_requests_purged": len(ids), "help_submission_counts": stale}

    def reseal(self, reseal: Callable[[str], str]) -> int:
        """Every sealed value passed through ``reseal`` (key rotation), in one transaction."""
        columns = (("help_requests", "id", "sealed"), ("help_events", "id", "sealed_note"))
        columns += (("help_answers", "request_id", "sealed_body"),)
        count = 0
        with self.transaction() as conn:
            for table, key, column in columns:
                rows = conn.rows(f"SELECT {key} AS k, {column} AS v FROM {table} WHERE {column} IS NOT NULL")
                if rows:
                    conn.execute(
                        f"UPDATE {table} SET {column} = :v WHERE {key} = :k",
                        [{"k": r["k"], "v": reseal(r["v"])} for r in rows],
                    )
                count += len(rows)
        return count
