"""The privacy-safe query log: one record per search, one event per result click.

Records follow the query and event shapes of OpenSearch User Behavior Insights (UBI):
``query_id``, ``client_id``, ``timestamp``, ``user_query``, ``query_response_hit_ids``
for queries; ``action_name="click"`` with ``event_attributes.position.ordinal`` for
clicks. Our own fields (tokens, filters, engine, total, took_ms, failed, source,
district, topics) sit beside them.

Privacy: the query is redacted (:mod:`search_api.monitoring.redact`) before it is written; the
visitor is a ``client_id`` = HMAC-SHA256 of IP + coarse browser family under a salt that
changes every day, so one visitor cannot be followed across days. Raw IPs and user
agents only pass through memory.

Cost: ``log_search`` only puts a tuple on a queue. A background thread redacts, tags
and writes in batches to the local SQLite file ``<data_dir>/querylog.sqlite3``, which is
always written (feed, dashboard and warnings read it). With the Elasticsearch engine the
same records also go to dated indices (``search_api.monitoring.es_sink``), spooled locally while
Elasticsearch is down. Logging never raises into the search path.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from search_api.monitoring.redact import clean_text, make_client_id, redact, redact_filters, redact_tokens

log = logging.getLogger(__name__)

APPLICATION = "labourkb"
MAX_TOKENS = 64
MAX_HIT_IDS = 20
LINGER_S = 0.05
_FLUSH: tuple[str, dict[str, Any]] = ("flush", {})

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
    employers TEXT NOT NULL
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
"""


# ---------------------------------------------------------------- site secret


def load_secret(settings: Any) -> bytes:
    """The site secret: ``settings.secret_key``, else ``<data_dir>/secret.key`` (created once, mode 0600)."""
    if getattr(settings, "secret_key", None):
        return settings.secret_key.encode("utf-8")
    path = Path(settings.data_dir) / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_text(encoding="ascii").strip().encode("ascii")


def iso(ts: datetime) -> str:
    """Fixed-width UTC ISO 8601 with milliseconds; sorts as text."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- SQLite store


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the query-log file (WAL, schema created on first use)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


# ---------------------------------------------------------------- the log


class QueryLog:
    """Log searches and clicks without slowing searches down.

    Build one per app with ``QueryLog(settings)``; call :meth:`close` on shutdown
    (it flushes). ``topics_for`` and ``employers_for`` default to the project lexicon
    and :func:`search_api.monitoring.alerts.extract_employers`; tests may pass their own.
    """

    def __init__(
        self,
        settings: Any,
        *,
        topics_for: Callable[[list[str], str], list[str]] | None = None,
        employers_for: Callable[[str], list[str]] | None = None,
        es_sink: Any = None,
        queue_size: int = 10_000,
    ):
        self.settings = settings
        self.enabled = bool(getattr(settings, "querylog_enabled", True))
        self.path = Path(settings.data_dir) / "querylog.sqlite3"
        self.max_chars = int(getattr(settings, "max_query_chars", 200))
        self._secret = load_secret(settings)
        self._topics_for = topics_for or _lexicon_topics(settings)
        self._employers_for = employers_for or _default_employers(settings)
        self.es_sink = es_sink
        if es_sink is None and getattr(settings, "engine", "sqlite") == "elasticsearch":
            from search_api.monitoring.es_sink import EsLogSink

            self.es_sink = EsLogSink(settings)
        self.listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self.dropped = 0
        self._closed = False
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=queue_size)
        self._conn = connect(self.path)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="querylog-writer", daemon=True)
        self._thread.start()

    # -- called on the search path: cheap and never raising

    def log_search(
        self,
        *,
        q: str,
        tokens: Iterable[str] = (),
        filters: dict[str, Any] | None = None,
        engine: str = "",
        total: int | None = None,
        top_ids: Iterable[str] = (),
        took_ms: float | None = None,
        failed: bool = False,
        source: str = "site",
        district: str | None = None,
        client_ip: str | None = None,
        user_agent: str | None = None,
        query_id: str | None = None,
    ) -> str:
        """Queue one search record; returns its ``query_id`` (for click links)."""
        query_id = query_id or uuid.uuid4().hex
        if not self.enabled or self._closed:
            return query_id
        try:
            item = dict(
                q=q,
                tokens=list(tokens)[:MAX_TOKENS],
                filters=filters or {},
                engine=engine,
                total=total,
                top_ids=list(top_ids)[:MAX_HIT_IDS],
                took_ms=took_ms,
                failed=failed,
                source=source,
                district=district,
                client_ip=client_ip,
                user_agent=user_agent,
                query_id=query_id,
                when=utcnow(),
            )
            self._queue.put_nowait(("query", item))
        except queue.Full:
            self.dropped += 1
        except Exception:
            log.exception("query log: could not queue a search")
        return query_id

    def log_click(
        self,
        *,
        query_id: str,
        doc_id: str,
        position: int | None,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        """Queue one UBI ``click`` event on result ``doc_id`` at rank ``position`` (1-based)."""
        if not self.enabled or self._closed:
            return
        try:
            item = dict(
                query_id=query_id,
                doc_id=doc_id,
                position=position,
                client_ip=client_ip,
                user_agent=user_agent,
                when=utcnow(),
            )
            self._queue.put_nowait(("click", item))
        except queue.Full:
            self.dropped += 1
        except Exception:
            log.exception("query log: could not queue a click")

    # -- lifecycle

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is written (tests, shutdown)."""
        try:
            self._queue.put_nowait(_FLUSH)  # ends the writer's linger at once
        except queue.Full:
            pass
        if timeout is None:
            self._queue.join()
            return
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        done.wait(timeout)

    def close(self) -> None:
        """Flush and stop the writer thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        if self.es_sink is not None:
            self.es_sink.close()
        self._conn.close()

    # -- writer thread

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            # Linger briefly so a busy site writes one transaction per batch, not per search:
            # fewer commits and fewer thread wake-ups competing with searches for the GIL.
            deadline = time.monotonic() + LINGER_S
            while batch[-1] is not None and batch[-1] is not _FLUSH and len(batch) < 500:
                remaining = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is None for item in batch)
            try:
                self._write([item for item in batch if item is not None])
            except Exception:
                log.exception("query log: batch of %d lost", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _write(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        queries, events = [], []
        for kind, item in batch:
            # One malformed item must not cost the rest of the batch.
            try:
                if kind == "query":
                    queries.append(self._query_record(item))
                elif kind == "click":
                    events.append(self._click_record(item))
            except Exception:
                log.exception("query log: dropped a malformed %s record", kind)
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO queries (query_id, client_id, timestamp, user_query, tokens, filters, engine,"
                " total, hit_ids, took_ms, failed, source, district, topics, employers)"
                " VALUES (:query_id, :client_id, :timestamp, :user_query, :tokens_json, :filters_json, :engine,"
                " :total, :hits_json, :took_ms, :failed, :source, :district, :topics_json, :employers_json)",
                [_sql_params(r) for r in queries],
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO events (event_id, query_id, client_id, timestamp, action_name, object_id,"
                " position) VALUES (:event_id, :query_id, :client_id, :timestamp, :action_name, :object_id, :ordinal)",
                [_event_params(e) for e in events],
            )
        if self.es_sink is not None:
            public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in queries]
            self.es_sink.write(public, events)
        for listener in self.listeners:
            try:
                listener(queries)
            except Exception:
                log.exception("query log listener failed")

    def _query_record(self, item: dict[str, Any]) -> dict[str, Any]:
        q = item["q"] if isinstance(item["q"], str) else ""
        q_red = redact(q, self.max_chars)
        changed = q_red != clean_text(q)[: self.max_chars]
        topics = _safe(lambda: self._topics_for(item["tokens"], clean_text(q)), [])
        employers = _safe(lambda: self._employers_for(q_red), [])
        return {
            "application": APPLICATION,
            "query_id": str(item["query_id"])[:64],
            "client_id": make_client_id(self._secret, item["client_ip"], item["user_agent"], item["when"]),
            "timestamp": iso(item["when"]),
            "user_query": q_red,
            "query_response_hit_ids": [str(i)[:200] for i in item["top_ids"]],
            "object_id_field": "id",
            "tokens": redact_tokens(item["tokens"], drop_digits=changed),
            "filters": redact_filters(item["filters"]),
            "engine": str(item["engine"])[:32],
            "total": item["total"] if isinstance(item["total"], int) else None,
            "took_ms": None if item["took_ms"] is None else round(float(item["took_ms"]), 2),
            "failed": bool(item["failed"]),
            "source": str(item["source"])[:16],
            "district": redact(item["district"], 40) or None if item["district"] else None,
            "topics": list(topics),
            "_employers": list(employers),
        }

    def _click_record(self, item: dict[str, Any]) -> dict[str, Any]:
        client_id = make_client_id(self._secret, item["client_ip"], item["user_agent"], item["when"])
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

    # -- maintenance

    def purge(self, older_than_days: int | None = None) -> dict[str, int]:
        """Delete records older than the retention period; returns counts per store."""
        days = int(older_than_days if older_than_days is not None else self.settings.retention_days)
        cutoff = iso(utcnow() - timedelta(days=days))
        with self._lock, self._conn:
            nq = self._conn.execute("DELETE FROM queries WHERE timestamp < ?", (cutoff,)).rowcount
            ne = self._conn.execute("DELETE FROM events WHERE timestamp < ?", (cutoff,)).rowcount
        counts = {"queries": nq, "events": ne}
        if self.es_sink is not None:
            counts["es_indices"] = self.es_sink.purge(days)
        return counts

    def replay_spool(self) -> int:
        """Send spooled records to Elasticsearch now; returns how many were delivered."""
        return self.es_sink.replay_spool() if self.es_sink is not None else 0


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:
        log.exception("query log: tagging failed")
        return default


def _sql_params(r: dict[str, Any]) -> dict[str, Any]:
    return {
        **r,
        "tokens_json": json.dumps(r["tokens"], ensure_ascii=False),
        "filters_json": json.dumps(r["filters"], ensure_ascii=False),
        "hits_json": json.dumps(r["query_response_hit_ids"], ensure_ascii=False),
        "topics_json": json.dumps(r["topics"], ensure_ascii=False),
        "employers_json": json.dumps(r["_employers"], ensure_ascii=False),
        "failed": int(r["failed"]),
    }


def _event_params(e: dict[str, Any]) -> dict[str, Any]:
    return {
        **e,
        "object_id": e["event_attributes"]["object"]["object_id"],
        "ordinal": e["event_attributes"]["position"]["ordinal"],
    }


def _lexicon_topics(settings: Any) -> Callable[[list[str], str], list[str]]:
    """Topic ids from the project lexicon (``ingest.lexicon``); no topics when it cannot load."""

    warned = []

    def topics_for(tokens: list[str], text: str) -> list[str]:
        from ingest.lexicon import LexiconError, canonical, load_lexicon

        try:
            lex = load_lexicon(settings.lexicon_dir)
        except LexiconError as exc:
            if not warned:
                warned.append(exc)
                log.warning("query log: no topics, the lexicon does not load: %s", exc)
            return []
        # Tokens catch thesaurus expansions, the text catches triggers jieba cut differently.
        found = lex.topics_for(list(tokens)) if tokens else []
        return list(dict.fromkeys(found + lex.topics_for(canonical(text))))

    return topics_for


def _default_employers(settings: Any) -> Callable[[str], list[str]]:
    def employers_for(text: str) -> list[str]:
        from search_api.monitoring.alerts import extract_employers, load_aliases

        return extract_employers(text, load_aliases(Path(settings.lexicon_dir) / "employer_aliases.txt"))

    return employers_for
