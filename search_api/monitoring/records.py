"""The query log's records: shaped on the search path, written to and read back from the store.

The query-log store (``db.log_database``: ``<data_dir>/querylog.sqlite3``, or the shared
PostgreSQL database) holds one row per search (``queries``), one per result click
(``events``), the warnings raised from them (``warnings``), their webhook deliveries
(``webhook_deliveries``) and those of the weekly report (``weekly_deliveries``); the tables
are made by the Alembic revisions ``querylog_*`` (``search_api/db/migrations``).
Records follow the query and event shapes of OpenSearch User Behavior Insights (UBI);
:func:`ubi_query` turns a stored query into the ``ubi_queries`` document the feed and the
Elasticsearch sink give out, with our own fields (tokens, filters, engine, total, took_ms,
failed, source, district, topics) inside ``query_attributes`` — see docs/monitoring-ubi.md.
Three stored fields are never shown: ``employers`` (names in the query), ``network_id``
(day-salted hash of the visitor's /24 or /64) and ``browser`` (coarse family such as
``chrome/mobile``) — what early warnings count.

Everything stored here is already redacted (:mod:`search_api.monitoring.redact`): the shaping
functions below are the only way a record reaches the store.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from search_api.db import Conn, iso
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

TopicsFor = Callable[[list[str], str], list[str]]
EmployersFor = Callable[[str], list[str]]


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
        "query_id": _plain(item["query_id"], 64),
        "client_id": make_client_id(secret, item["client_ip"], item["user_agent"], item["when"]),
        "timestamp": iso(item["when"]),
        "user_query": q_red,
        "query_response_hit_ids": [_plain(i, 200) for i in item["top_ids"]],
        "object_id_field": "id",
        "tokens": redact_tokens(item["tokens"], drop_digits=changed, removed=removed),
        "filters": redact_filters(item["filters"]),
        "engine": _plain(item["engine"], 32),
        "total": item["total"] if isinstance(item["total"], int) else None,
        "took_ms": None if item["took_ms"] is None else round(float(item["took_ms"]), 2),
        "failed": bool(item["failed"]),
        "source": _plain(item["source"], 16),
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
        "query_id": _plain(item["query_id"], 64),
        "client_id": client_id,
        "timestamp": iso(item["when"]),
        "message_type": "CLICK_THROUGH",
        "event_attributes": {
            "object": {"object_id": _plain(item["doc_id"], 200), "object_id_field": "id"},
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


def _plain(value: Any, limit: int) -> str:
    """An id or name as text, without NUL characters (PostgreSQL refuses them), at most ``limit`` long."""
    return str(value).replace("\x00", "")[:limit]


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:
        log.exception("query log: tagging failed")
        return default


# ---------------------------------------------------------------- writing and reading rows


_INSERT_QUERY = (
    "INSERT INTO queries (query_id, client_id, timestamp, user_query, tokens, filters, engine,"
    " total, hit_ids, took_ms, failed, source, district, topics, employers, network_id, browser)"
    " VALUES (:query_id, :client_id, :timestamp, :user_query, :tokens_json, :filters_json, :engine,"
    " :total, :hits_json, :took_ms, :failed, :source, :district, :topics_json, :employers_json,"
    " :network_id, :browser) ON CONFLICT DO NOTHING"
)
_INSERT_EVENT = (
    "INSERT INTO events (event_id, query_id, client_id, timestamp, action_name, object_id, position)"
    " VALUES (:event_id, :query_id, :client_id, :timestamp, :action_name, :object_id, :ordinal)"
    " ON CONFLICT DO NOTHING"
)


def insert(conn: Conn, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Store shaped records (inside the caller's transaction); a record already there is skipped,
    so storing the same records twice (a spool replayed again) stores them once."""
    if queries:
        conn.execute(_INSERT_QUERY, [_query_params(r) for r in queries])
    if events:
        conn.execute(_INSERT_EVENT, [_event_params(e) for e in events])


def delete_before(conn: Conn, cutoff: str) -> dict[str, int]:
    """Delete queries and events stamped before ``cutoff`` (and the signals of those searches);
    returns how many queries and events."""
    conn.execute(
        "DELETE FROM query_signals WHERE query_id IN (SELECT query_id FROM queries WHERE timestamp < :cutoff)",
        {"cutoff": cutoff},
    )
    nq = conn.execute("DELETE FROM queries WHERE timestamp < :cutoff", {"cutoff": cutoff}).rowcount
    ne = conn.execute("DELETE FROM events WHERE timestamp < :cutoff", {"cutoff": cutoff}).rowcount
    return {"queries": nq, "events": ne}


def row_to_record(row: Mapping[str, Any]) -> dict[str, Any]:
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
    return _without_nul(
        {
            **r,
            "tokens_json": _json(r["tokens"]),
            "filters_json": _json(r["filters"]),
            "hits_json": _json(r["query_response_hit_ids"]),
            "topics_json": _json(r["topics"]),
            "employers_json": _json(r["_employers"]),
            "failed": int(r["failed"]),
            "network_id": r.get("_network_id"),
            "browser": r.get("_browser"),
        }
    )


def _event_params(e: dict[str, Any]) -> dict[str, Any]:
    return _without_nul(
        {
            **e,
            "object_id": e["event_attributes"]["object"]["object_id"],
            "ordinal": e["event_attributes"]["position"]["ordinal"],
        }
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _without_nul(params: dict[str, Any]) -> dict[str, Any]:
    """Text values without NUL characters: PostgreSQL refuses them in text, a hostile query may
    carry one (redaction already removes them from the query text; this covers every column)."""
    return {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in params.items()}
