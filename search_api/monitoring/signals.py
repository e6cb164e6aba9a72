"""How well each logged search was answered: the signals the gap report ranks by.

One row per search in ``query_signals`` of the query-log file, keyed by its ``query_id``:

- ``unconfident``: the search had no confident answer (``SearchResponse.confident`` false);
- ``refined``: the same visitor (day-salted ``client_id``) searched again, with other words,
  within a minute — the first answer did not do;
- ``helped``: a help request (``/help``) was sent from this search's result page.

"No click" needs no column: a search without a ``click`` event in ``events`` had none.
Nothing personal is stored here: ids and three flags. The help request itself stays in the
help store; the query log learns only that one was sent.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import timedelta
from typing import Any

from search_api.db import iso, parse_iso, transaction

log = logging.getLogger(__name__)

REFINE_WINDOW = timedelta(minutes=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS query_signals (
    query_id TEXT PRIMARY KEY,
    unconfident INTEGER NOT NULL DEFAULT 0,
    refined INTEGER NOT NULL DEFAULT 0,
    helped INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queries_client_ts ON queries(client_id, timestamp);
"""


def ensure(conn: sqlite3.Connection) -> None:
    """Create the signals table (and the visitor index the re-query check uses) when missing."""
    conn.executescript(SCHEMA)


def record_searches(conn: sqlite3.Connection, queries: list[dict[str, Any]]) -> None:
    """Signals of searches just stored: their own ``unconfident`` flag, and ``refined`` on the
    visitor's previous search when it was within a minute and worded differently."""
    if not queries:
        return
    try:
        _record(conn, queries)
    except Exception:  # a signal is worth less than the search that made it
        log.exception("query log: could not store the signals of %d searches", len(queries))


def _record(conn: sqlite3.Connection, queries: list[dict[str, Any]]) -> None:
    with transaction(conn):
        for rec in queries:
            qid = rec["query_id"]
            conn.execute(
                "INSERT INTO query_signals (query_id, unconfident) VALUES (?, ?) "
                "ON CONFLICT(query_id) DO UPDATE SET unconfident = excluded.unconfident",
                (qid, int(bool(rec.get("_unconfident")))),
            )
            since = iso(parse_iso(rec["timestamp"]) - REFINE_WINDOW)
            prev = conn.execute(
                "SELECT query_id FROM queries WHERE client_id = ? AND timestamp >= ? AND timestamp <= ? "
                "AND query_id != ? AND user_query != ? ORDER BY timestamp DESC LIMIT 1",
                (rec["client_id"], since, rec["timestamp"], qid, rec["user_query"]),
            ).fetchone()
            if prev is not None:
                conn.execute(
                    "INSERT INTO query_signals (query_id, refined) VALUES (?, 1) "
                    "ON CONFLICT(query_id) DO UPDATE SET refined = 1",
                    (prev[0],),
                )


def mark_help(conn: sqlite3.Connection, query_id: str, lock: threading.Lock) -> None:
    """A help request was sent after the search ``query_id`` (an id this site issued); never raises."""
    try:
        with lock:
            conn.execute(
                "INSERT INTO query_signals (query_id, helped) VALUES (?, 1) "
                "ON CONFLICT(query_id) DO UPDATE SET helped = 1",
                (query_id,),
            )
    except Exception:
        log.exception("query log: could not store a help signal")


def signals_of(conn: sqlite3.Connection, since: str, until: str) -> dict[str, dict[str, int]]:
    """``query_id`` → its four signals (``no_click`` included) for searches between the two timestamps."""
    ensure(conn)
    rows = conn.execute(
        """SELECT q.query_id, COALESCE(s.unconfident, 0), COALESCE(s.refined, 0), COALESCE(s.helped, 0),
                  EXISTS (SELECT 1 FROM events e WHERE e.query_id = q.query_id AND e.action_name = 'click')
           FROM queries q LEFT JOIN query_signals s ON s.query_id = q.query_id
           WHERE q.timestamp >= ? AND q.timestamp <= ? AND q.failed = 0""",
        (since, until),
    )
    return {r[0]: {"unconfident": r[1], "refined": r[2], "helped": r[3], "no_click": int(not r[4])} for r in rows}
