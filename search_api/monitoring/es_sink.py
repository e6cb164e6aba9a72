"""Ship query-log records to Elasticsearch dated indices, with a local spool for outages.

Queries go to ``{prefix}-querylog-YYYY.MM.DD`` and click events to
``{prefix}-queryevents-YYYY.MM.DD`` (dated indices, because the stripped ES
distribution has no data-streams module), as OpenSearch UBI documents
(:func:`records.ubi_query`, :func:`records.ubi_event`; docs/monitoring-ubi.md). The index
templates map the UBI fields and put every dated index under the aliases
``{prefix}-ubi_queries`` and ``{prefix}-ubi_events``, so UBI tools can point at those.
Like every other output of the log, the query text is masked first: an employer name
below the warning threshold becomes ``[用人单位]`` (:class:`stats.Presenter`) before the
record is sent or spooled. Every document is written with ``op_type=create`` and
``_id = query_id`` (or ``event_id``), and the index follows from the record's own
timestamp, so a record sent twice is a 409 conflict, never a duplicate.

When Elasticsearch does not answer, the records are appended to
``<data_dir>/querylog-spool.jsonl`` (fsync'd; :class:`~search_api.monitoring.spool.Spool`)
and replayed before the next write once Elasticsearch is back, or by ``replay_spool()``. A
record leaves the spool only after Elasticsearch acknowledged it (201 or 409).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from elasticsearch import Elasticsearch

from search_api.db import log_database, utc_now
from search_api.engines.es_client import make_client as make_es_client
from search_api.monitoring.employer_list import recogniser_for
from search_api.monitoring.records import ubi_event, ubi_query
from search_api.monitoring.spool import Spool
from search_api.monitoring.stats import Presenter
from search_api.settings import Settings

log = logging.getLogger(__name__)

# After a failure, writes go straight to the spool for this long before ES is tried again,
# so an outage costs the writer thread one timeout, not one per batch.
RETRY_AFTER_S = 5.0

# The UBI ``ubi_queries`` fields as OpenSearch's UBI plugin maps them (user_query a keyword, so
# it aggregates), plus a ``text`` sub-field for full-text search and our own attributes.
_QUERY_PROPS = {
    "application": {"type": "keyword", "ignore_above": 100},
    "query_id": {"type": "keyword", "ignore_above": 100},
    "query_response_id": {"type": "keyword", "ignore_above": 100},
    "client_id": {"type": "keyword", "ignore_above": 100},
    "timestamp": {"type": "date"},
    "user_query": {"type": "keyword", "fields": {"text": {"type": "text", "analyzer": "standard"}}},
    "query_response_hit_ids": {"type": "keyword"},
    "object_id_field": {"type": "keyword"},
    "query_attributes": {
        "properties": {
            "tokens": {"type": "keyword"},
            "engine": {"type": "keyword"},
            "total": {"type": "integer"},
            "took_ms": {"type": "float"},
            "failed": {"type": "boolean"},
            "source": {"type": "keyword"},
            "district": {"type": "keyword"},
            "topics": {"type": "keyword"},
        }
    },
}
_EVENT_PROPS = {
    "application": {"type": "keyword", "ignore_above": 100},
    "action_name": {"type": "keyword", "ignore_above": 100},
    "event_id": {"type": "keyword"},
    "query_id": {"type": "keyword", "ignore_above": 100},
    "client_id": {"type": "keyword", "ignore_above": 100},
    "timestamp": {"type": "date"},
    "message_type": {"type": "keyword"},
    "event_attributes": {
        "properties": {
            "object": {"properties": {"object_id": {"type": "keyword"}, "object_id_field": {"type": "keyword"}}},
            "position": {"properties": {"ordinal": {"type": "integer"}}},
        }
    },
}
_STRINGS_AS_KEYWORDS = [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}]


def make_client(settings: Settings) -> Elasticsearch:
    """An Elasticsearch client with a short timeout: the log must fail fast, then spool."""
    return make_es_client(settings, timeout=3, retries=0)


class EsLogSink:
    """Writes UBI records to dated indices; owns the spool file. Thread-safe."""

    def __init__(self, settings: Settings, client: Elasticsearch | None = None):
        self.settings = settings
        self.prefix = settings.es_index_prefix
        self.spool = Spool(settings.data_dir / "querylog-spool.jsonl")
        self.spool_path = self.spool.path
        self.client = client or make_client(settings)
        self._lock = threading.RLock()
        self._templates_ok = False
        self._down_until = 0.0

    # -- names

    def index_for(self, kind: str, timestamp: str) -> str:
        """Dated index of a record: ``{prefix}-querylog-2024.05.01`` / ``{prefix}-queryevents-…``."""
        base = "querylog" if kind == "query" else "queryevents"
        return f"{self.prefix}-{base}-{timestamp[:10].replace('-', '.')}"

    # -- writing

    def shape(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Query records (internal shape) masked and as UBI documents, as they are sent and spooled."""
        if not queries:
            return []
        try:
            with log_database(self.settings).connect() as conn:
                presenter = Presenter(conn, recogniser_for(self.settings))
                return [ubi_query(presenter.mask(r)) for r in queries]
        except Exception:
            # never ship a name unmasked: without the recogniser, the query text is left out
            log.exception("query log: employer mask failed, sending queries without their text")
            return [ubi_query({**r, "user_query": "", "tokens": [], "filters": {}}) for r in queries]

    def write(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        """Send records, spooling whatever Elasticsearch did not acknowledge. Never raises."""
        items = [("query", r) for r in self.shape(queries)] + [("event", ubi_event(e)) for e in events]
        if not items:
            return
        with self._lock:
            if time.monotonic() < self._down_until:
                self._spool(items)
                return
            if self.spool.pending() and self.replay_spool() is None:
                self._spool(items)
                return
            failed = self._send(items)
            if failed:
                self._spool(failed)

    def replay_spool(self) -> int | None:
        """Send the spooled records; returns how many were delivered, None if ES is still down."""
        with self._lock, self.spool.claim() as claim:
            items = [(rec["kind"], rec["doc"]) for rec in claim.items if "kind" in rec and "doc" in rec]
            sent = 0
            left: list[tuple[str, dict[str, Any]]] = []
            for start in range(0, len(items), 500):
                chunk = items[start : start + 500]
                failed = self._send(chunk) if not left else chunk
                left.extend(failed)
                sent += len(chunk) - len(failed)
            claim.keep([{"kind": kind, "doc": doc} for kind, doc in left])
        return None if left and sent == 0 else sent

    def _send(self, items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        """Bulk-create ``items``; returns the ones that were not acknowledged."""
        try:
            self._ensure_templates()
            ops: list[dict[str, Any]] = []
            for kind, doc in items:
                doc_id = doc["query_id"] if kind == "query" else doc["event_id"]
                ops.append({"create": {"_index": self.index_for(kind, doc["timestamp"]), "_id": doc_id}})
                ops.append(doc)
            resp = self.client.bulk(operations=ops, refresh=False)
        except Exception as exc:
            log.warning("query log: Elasticsearch unavailable, spooling %d records (%s)", len(items), exc)
            self._down_until = time.monotonic() + RETRY_AFTER_S
            return items
        failed = []  # the bulk API answers one item per action, in order
        for item, result in zip(items, resp["items"], strict=True):
            status = result["create"].get("status", 500)
            if status not in (200, 201, 409):  # 409: already there from an earlier attempt
                failed.append(item)
        if failed:
            self._down_until = time.monotonic() + RETRY_AFTER_S
        return failed

    def _ensure_templates(self) -> None:
        if self._templates_ok:
            return
        settings = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
        for name, alias, props in (
            ("querylog", "ubi_queries", _QUERY_PROPS),
            ("queryevents", "ubi_events", _EVENT_PROPS),
        ):
            self.client.indices.put_index_template(
                name=f"{self.prefix}-{name}",
                index_patterns=[f"{self.prefix}-{name}-*"],
                template={
                    "aliases": {f"{self.prefix}-{alias}": {}},
                    "settings": settings,
                    "mappings": {"dynamic_templates": _STRINGS_AS_KEYWORDS, "properties": props},
                },
                meta={"description": "labourkb query log (OpenSearch UBI shape)"},
            )
        self._templates_ok = True

    # -- spool file

    def _spool(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        self.spool.append([{"kind": kind, "doc": doc} for kind, doc in items])

    def spooled(self) -> int:
        """Number of records waiting in the spool."""
        return self.spool.count()

    # -- retention

    def purge(self, older_than_days: int) -> int:
        """Delete dated indices older than the retention period; returns how many."""
        cutoff = (utc_now() - timedelta(days=older_than_days)).strftime("%Y.%m.%d")
        deleted = 0
        for base in ("querylog", "queryevents"):
            pattern = f"{self.prefix}-{base}-*"
            names = self.client.indices.get(index=pattern, expand_wildcards="open,closed").keys()
            for name in names:
                day = name.rsplit("-", 1)[-1]
                if len(day) == 10 and day < cutoff:
                    self.client.indices.delete(index=name)
                    deleted += 1
        return deleted

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass
