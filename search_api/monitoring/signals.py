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
            # one statement per batch, not per search (each is ~0.1 ms of the worker's GIL)
            conn.execute(
                "INSERT INTO query_signals (query_id, unconfident) VALUES (:qid, :flag) "
                "ON CONFLICT (query_id) DO UPDATE SET unconfident = excluded.unconfident",
                [{"qid": rec["query_id"], "flag": int(bool(rec.get("_unconfident")))} for rec in queries],
            )
            _flag(conn, _refined(conn, queries), "refined")
    except Exception:  # a signal is worth less than the search that made it
        log.exception("query log: could not store the signals of %d searches", len(queries))


REFINED_CHUNK = 200  # searches per lookup statement (two parameters each: SQLite allows 32,766)


def _refined(conn: Conn, queries: list[dict[str, Any]]) -> list[str]:
    """The searches these refine: for each, the visitor's search just before it, within the window and
    worded differently — earlier in the log (seq), not merely as early (two searches can share a
    millisecond, and the journal stores them in one transaction). One statement per chunk of searches
    (a correlated subquery per search, as its own statement each cost the worker ~0.1 ms of its GIL)."""
    found: dict[str, None] = {}
    for i in range(0, len(queries), REFINED_CHUNK):
        chunk = queries[i : i + REFINED_CHUNK]
        values = ", ".join(f"(CAST(:q{n} AS TEXT), CAST(:s{n} AS TEXT))" for n in range(len(chunk)))
        params: dict[str, Any] = {}
        for n, rec in enumerate(chunk):
            params[f"q{n}"] = rec["query_id"]
            params[f"s{n}"] = iso(parse_iso(rec["timestamp"]) - REFINE_WINDOW)
        previous = conn.column(
            f"WITH batch (qid, since) AS (VALUES {values}) "
            "SELECT (SELECT p.query_id FROM queries p WHERE p.client_id = r.client_id"
            " AND p.timestamp >= b.since AND p.timestamp <= r.timestamp AND p.seq < r.seq"
            " AND p.query_id != r.query_id AND p.user_query != r.user_query"
            " ORDER BY p.timestamp DESC, p.seq DESC LIMIT 1) "
            "FROM batch b JOIN queries r ON r.query_id = b.qid",
            params,
        )
        found.update((q, None) for q in previous if q is not None)
    return list(found)


def _flag(conn: Conn, query_ids: str | list[str], column: str) -> None:
    ids = [query_ids] if isinstance(query_ids, str) else query_ids
    if ids:
        conn.execute(
            f"INSERT INTO query_signals (query_id, {column}) VALUES (:qid, 1) "
            f"ON CONFLICT (query_id) DO UPDATE SET {column} = 1",
            [{"qid": q} for q in ids],
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
