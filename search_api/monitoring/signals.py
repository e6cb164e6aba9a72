"""How well each logged search was answered: the signals the gap report ranks by.

One row per search in ``query_signals`` of the query-log store, keyed by its ``query_id``:

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
from datetime import timedelta
from typing import Any

from search_api.db import Conn, Database, iso, parse_iso

log = logging.getLogger(__name__)

REFINE_WINDOW = timedelta(minutes=1)


def record_searches(database: Database, queries: list[dict[str, Any]]) -> None:
    """Signals of searches just stored: their own ``unconfident`` flag, and ``refined`` on the
    visitor's previous search when it was within a minute and worded differently. Never raises."""
    if not queries:
        return
    try:
        with database.transaction(lock=False) as conn:  # upserts: concurrent app servers agree
            for rec in queries:
                _record(conn, rec)
    except Exception:  # a signal is worth less than the search that made it
        log.exception("query log: could not store the signals of %d searches", len(queries))


def _record(conn: Conn, rec: dict[str, Any]) -> None:
    qid = rec["query_id"]
    conn.execute(
        "INSERT INTO query_signals (query_id, unconfident) VALUES (:qid, :flag) "
        "ON CONFLICT (query_id) DO UPDATE SET unconfident = excluded.unconfident",
        {"qid": qid, "flag": int(bool(rec.get("_unconfident")))},
    )
    # the visitor's search just before this one: earlier in the log (seq), not merely as early (two
    # searches can share a millisecond, and the journal stores them in one transaction)
    prev = conn.scalar(
        "SELECT query_id FROM queries WHERE client_id = :client AND timestamp >= :since AND timestamp <= :ts"
        " AND seq < (SELECT seq FROM queries WHERE query_id = :qid)"
        " AND query_id != :qid AND user_query != :text ORDER BY timestamp DESC, seq DESC LIMIT 1",
        {
            "client": rec["client_id"],
            "since": iso(parse_iso(rec["timestamp"]) - REFINE_WINDOW),
            "ts": rec["timestamp"],
            "qid": qid,
            "text": rec["user_query"],
        },
    )
    if prev is not None:
        _flag(conn, prev, "refined")


def _flag(conn: Conn, query_id: str, column: str) -> None:
    conn.execute(
        f"INSERT INTO query_signals (query_id, {column}) VALUES (:qid, 1) "
        f"ON CONFLICT (query_id) DO UPDATE SET {column} = 1",
        {"qid": query_id},
    )


def mark_help(database: Database, query_id: str) -> None:
    """A help request was sent after the search ``query_id`` (an id this site issued); never raises."""
    try:
        with database.transaction(lock=False) as conn:
            _flag(conn, query_id, "helped")
    except Exception:
        log.exception("query log: could not store a help signal")


def signals_of(conn: Conn, since: str, until: str) -> dict[str, dict[str, int]]:
    """``query_id`` → its four signals (``no_click`` included) for searches between the two timestamps."""
    rows = conn.rows(
        """SELECT q.query_id, COALESCE(s.unconfident, 0) AS unconfident, COALESCE(s.refined, 0) AS refined,
                  COALESCE(s.helped, 0) AS helped,
                  EXISTS (SELECT 1 FROM events e WHERE e.query_id = q.query_id AND e.action_name = 'click')
                  AS clicked
           FROM queries q LEFT JOIN query_signals s ON s.query_id = q.query_id
           WHERE q.timestamp >= :since AND q.timestamp <= :until AND q.failed = 0""",
        {"since": since, "until": until},
    )
    return {
        r["query_id"]: {
            "unconfident": int(r["unconfident"]),
            "refined": int(r["refined"]),
            "helped": int(r["helped"]),
            "no_click": int(not r["clicked"]),
        }
        for r in rows
    }
