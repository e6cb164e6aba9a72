"""The query-log file: its tables, and the records written to and read back from them.

``<data_dir>/querylog.sqlite3`` holds one row per search (``queries``), one per result
click (``events``), the warnings raised from them (``warnings``), their webhook
deliveries (``webhook_deliveries``) and those of the weekly report (``weekly_deliveries``).
Records follow the query and event shapes of OpenSearch User Behavior Insights (UBI);
:func:`ubi_query` turns a stored query into the ``ubi_queries`` document the feed and the
Elasticsearch sink give out, with our own fields (tokens, filters, engine, total, took_ms,
failed, source, district, topics) inside ``query_attributes`` — see docs/monitoring-ubi.md.
Three stored fields are never shown: ``employers`` (names in the query), ``network_id``
(day-salted hash of the visitor's /24 or /64) and ``browser`` (coarse family such as
``chrome/mobile``) — what early warnings count. Columns added after the first release are
added to an older file when it is opened.

Everything stored here is already redacted (:mod:`search_api.monitoring.redact`): the shaping
functions below are the only way a record reaches the file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from search_api.db import iso, open_db, transaction
from search_api.monitoring.redact import (
    clean_text,
    make_client_id,
    make_network_id,
    redact,
    redact_filters,
    redact_spans,
    redact_tokens,
    ua_family,
)

log = logging.getLogger(__name__)

APPLICATION = "labourkb"
MAX_TOKENS = 64
MAX_HIT_IDS = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    user_query TEXT NOT NULL,
    tokens TEXT NOT NULL,
    filters TEXT NOT NULL,
    engine TEXT NOT NULL,
    total INTEGER,
    hit_ids TEXT NOT NULL,
    took_ms REAL,
    failed INTEGER NOT NULL,
    source TEXT NOT NULL,
    district TEXT,
    topics TEXT NOT NULL,
    employers TEXT NOT NULL,
    network_id TEXT,
    browser TEXT
);
CREATE INDEX IF NOT EXISTS queries_ts ON queries(timestamp);
CREATE INDEX IF NOT EXISTS queries_district_ts ON queries(district, timestamp);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    query_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    action_name TEXT NOT NULL,
    object_id TEXT NOT NULL,
    position INTEGER
);
CREATE INDEX IF NOT EXISTS events_query ON events(query_id);
CREATE INDEX IF NOT EXISTS events_ts ON events(timestamp);
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    topics TEXT NOT NULL,
    visitors INTEGER NOT NULL,
    district TEXT,
    created_at TEXT NOT NULL,
    networks INTEGER,
    days INTEGER,
    browsers INTEGER,
    UNIQUE (kind, subject, window_start)
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    warning_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT,
    PRIMARY KEY (warning_id, url)
);
CREATE TABLE IF NOT EXISTS weekly_deliveries (
    week TEXT NOT NULL,
    url TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT,
    PRIMARY KEY (week, url)
);
"""

# Columns added after the first release: (table, column, type) added to older files on open.
_ADDED_COLUMNS = (
    ("queries", "network_id", "TEXT"),
    ("queries", "browser", "TEXT"),
    ("warnings", "networks", "INTEGER"),
    ("warnings", "days", "INTEGER"),
    ("warnings", "browsers", "INTEGER"),
)

TopicsFor = Callable[[list[str], str], list[str]]
EmployersFor = Callable[[str], list[str]]


def _migrate(conn: sqlite3.Connection) -> None:
    for table, column, sql_type in _ADDED_COLUMNS:
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise


def open_log(path: Path | str) -> sqlite3.Connection:
    """A connection to the query-log file (tables created on first use); close it yourself."""
    conn = open_db(path, SCHEMA)
    _migrate(conn)
    return conn


@contextmanager
def reading_log(path: Path | str) -> Iterator[sqlite3.Connection]:
    """:func:`open_log` for the length of a ``with`` block (WAL: readers never block the writer)."""
    conn = open_log(path)
    try:
        yield conn
    finally:
        conn.close()


# ---------------------------------------------------------------- shaping (on the search path)


def query_record(
    item: dict[str, Any], *, secret: bytes, max_chars: int, topics_for: TopicsFor, employers_for: EmployersFor
) -> dict[str, Any]:
    """A queued search (see ``QueryLog.log_search``) as the redacted UBI query record.

    ``_employers`` (names found in the redacted text), ``_network_id`` (the day-salted hash of the
    visitor's network) and ``_browser`` (the coarse browser family) are stored but never shown:
    only the warning monitor reads them.
    """
    q = item["q"] if isinstance(item["q"], str) else ""
    q_red, removed = redact_spans(q, max_chars)
    changed = q_red != clean_text(q)[:max_chars]
    topics = _safe(lambda: topics_for(item["tokens"], clean_text(q)), [])
    employers = _safe(lambda: employers_for(q_red), [])
    return {
        "application": APPLICATION,
        "query_id": str(item["query_id"])[:64],
        "client_id": make_client_id(secret, item["client_ip"], item["user_agent"], item["when"]),
        "timestamp": iso(item["when"]),
        "user_query": q_red,
        "query_response_hit_ids": [str(i)[:200] for i in item["top_ids"]],
        "object_id_field": "id",
        "tokens": redact_tokens(item["tokens"], drop_digits=changed, removed=removed),
        "filters": redact_filters(item["filters"]),
        "engine": str(item["engine"])[:32],
        "total": item["total"] if isinstance(item["total"], int) else None,
        "took_ms": None if item["took_ms"] is None else round(float(item["took_ms"]), 2),
        "failed": bool(item["failed"]),
        "source": str(item["source"])[:16],
        "district": redact(item["district"], 40) or None if item["district"] else None,
        "topics": list(topics),
        "_employers": list(employers),
        "_network_id": make_network_id(secret, item["client_ip"], item["when"]),
        "_browser": ua_family(item["user_agent"]),
    }


def click_record(item: dict[str, Any], *, secret: bytes) -> dict[str, Any]:
    """A queued click (see ``QueryLog.log_click``) as the UBI ``click`` event."""
    client_id = make_client_id(secret, item["client_ip"], item["user_agent"], item["when"])
    position = item["position"] if isinstance(item["position"], int) else None
    return {
        "application": APPLICATION,
        "action_name": "click",
        "event_id": uuid.uuid4().hex,
        "query_id": str(item["query_id"])[:64],
        "client_id": client_id,
        "timestamp": iso(item["when"]),
        "message_type": "CLICK_THROUGH",
        "event_attributes": {
            "object": {"object_id": str(item["doc_id"])[:200], "object_id_field": "id"},
            "position": {"ordinal": position},
        },
    }


# Our own fields of a query record: in the UBI document they sit inside ``query_attributes``.
QUERY_ATTRIBUTES = ("tokens", "filters", "engine", "total", "took_ms", "failed", "source", "district", "topics")
_RESPONSE_NS = uuid.UUID("5d0f5a3e-2b7c-4c61-9d1e-6a4c0b1f7e21")


def query_response_id(query_id: str) -> str:
    """The id of the one response a query got: derived from ``query_id``, so the feed and
    Elasticsearch give the same value without storing it."""
    return str(uuid.uuid5(_RESPONSE_NS, query_id))


def ubi_query(record: dict[str, Any]) -> dict[str, Any]:
    """A query record (as stored, or as :func:`row_to_record` reads it) as an OpenSearch UBI
    ``ubi_queries`` document: the UBI fields at the top, ours in ``query_attributes``."""
    return {
        "application": record.get("application", APPLICATION),
        "query_id": record["query_id"],
        "query_response_id": query_response_id(record["query_id"]),
        "client_id": record.get("client_id", ""),
        "timestamp": record["timestamp"],
        "user_query": record.get("user_query", ""),
        "query_response_hit_ids": record.get("query_response_hit_ids", []),
        "object_id_field": record.get("object_id_field", "id"),
        "query_attributes": {k: record[k] for k in QUERY_ATTRIBUTES if k in record},
    }


def ubi_event(event: dict[str, Any]) -> dict[str, Any]:
    """A click event as a UBI ``ubi_events`` document. It is one already, except that UBI wants
    an integer ``position.ordinal``: a click of unknown rank carries no ``position``."""
    if event.get("event_attributes", {}).get("position", {}).get("ordinal") is not None:
        return event
    attributes = {k: v for k, v in event.get("event_attributes", {}).items() if k != "position"}
    return {**event, "event_attributes": attributes}


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A query record without its internal (``_``-prefixed) fields, as shipped to Elasticsearch."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:
        log.exception("query log: tagging failed")
        return default


# ---------------------------------------------------------------- writing and reading rows


_INSERT_QUERY = (
    "INSERT OR IGNORE INTO queries (query_id, client_id, timestamp, user_query, tokens, filters, engine,"
    " total, hit_ids, took_ms, failed, source, district, topics, employers, network_id, browser)"
    " VALUES (:query_id, :client_id, :timestamp, :user_query, :tokens_json, :filters_json, :engine,"
    " :total, :hits_json, :took_ms, :failed, :source, :district, :topics_json, :employers_json,"
    " :network_id, :browser)"
)
_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (event_id, query_id, client_id, timestamp, action_name, object_id,"
    " position) VALUES (:event_id, :query_id, :client_id, :timestamp, :action_name, :object_id, :ordinal)"
)


def insert(conn: sqlite3.Connection, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Store shaped records in one transaction; a record already there is skipped."""
    if len(queries) + len(events) == 1:  # one statement is its own transaction (autocommit)
        if queries:
            conn.execute(_INSERT_QUERY, _query_params(queries[0]))
        else:
            conn.execute(_INSERT_EVENT, _event_params(events[0]))
        return
    if not queries and not events:
        return
    with transaction(conn):
        conn.executemany(_INSERT_QUERY, [_query_params(r) for r in queries])
        conn.executemany(_INSERT_EVENT, [_event_params(e) for e in events])


def delete_before(conn: sqlite3.Connection, cutoff: str) -> dict[str, int]:
    """Delete queries and events stamped before ``cutoff``; returns how many of each."""
    with transaction(conn):
        nq = conn.execute("DELETE FROM queries WHERE timestamp < ?", (cutoff,)).rowcount
        ne = conn.execute("DELETE FROM events WHERE timestamp < ?", (cutoff,)).rowcount
    return {"queries": nq, "events": ne}


def row_to_record(row: sqlite3.Row) -> dict[str, Any]:
    """A ``queries`` row as the UBI-shaped record the feed and the ES sink use."""
    return {
        "application": APPLICATION,
        "query_id": row["query_id"],
        "client_id": row["client_id"],
        "timestamp": row["timestamp"],
        "user_query": row["user_query"],
        "query_response_hit_ids": json.loads(row["hit_ids"]),
        "object_id_field": "id",
        "tokens": json.loads(row["tokens"]),
        "filters": json.loads(row["filters"]),
        "engine": row["engine"],
        "total": row["total"],
        "took_ms": row["took_ms"],
        "failed": bool(row["failed"]),
        "source": row["source"],
        "district": row["district"],
        "topics": json.loads(row["topics"]),
    }


def _query_params(r: dict[str, Any]) -> dict[str, Any]:
    return {
        **r,
        "tokens_json": json.dumps(r["tokens"], ensure_ascii=False),
        "filters_json": json.dumps(r["filters"], ensure_ascii=False),
        "hits_json": json.dumps(r["query_response_hit_ids"], ensure_ascii=False),
        "topics_json": json.dumps(r["topics"], ensure_ascii=False),
        "employers_json": json.dumps(r["_employers"], ensure_ascii=False),
        "failed": int(r["failed"]),
        "network_id": r.get("_network_id"),
        "browser": r.get("_browser"),
    }


def _event_params(e: dict[str, Any]) -> dict[str, Any]:
    return {
        **e,
        "object_id": e["event_attributes"]["object"]["object_id"],
        "ordinal": e["event_attributes"]["position"]["ordinal"],
    }
