"""The privacy-safe query log: one record per search, one event per result click.

Routes search through :func:`logged_search`, which asks the search service and logs the
search, failed ones included; ``/go`` logs clicks with :meth:`QueryLog.log_click`. The
record shapes and the file's tables are in :mod:`search_api.monitoring.records`.

Privacy: the query is redacted (:mod:`search_api.monitoring.redact`) before it is written; the
visitor is a ``client_id`` = HMAC-SHA256 of IP + coarse browser family, and a ``network_id``
= HMAC-SHA256 of the IP's /24 (IPv6: /64), under a salt that changes every day, so one
visitor cannot be followed across days. Raw IPs and user agents only pass through memory.

Durability: ``log_search`` redacts, tags and commits the record to the local SQLite file
``<data_dir>/querylog.sqlite3`` on the caller's thread, before the answer leaves — one
small WAL transaction with ``synchronous=NORMAL`` (no fsync: durable against the process
being killed, not against power loss). That file is always written (feed, dashboard and
warnings read it). A background thread then does what may lag: the warning monitor
(``listeners``), WAL checkpoints and, with the Elasticsearch engine, the same records to dated
indices (``search_api.monitoring.es_sink``), spooled locally while Elasticsearch is down.
Logging never raises into the search path.

Query ids are signed (:meth:`QueryLog.new_query_id`): ``/go`` stores a click only for a query id this site issued.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from search_api.db import iso, utc_now
from search_api.monitoring import records, signals
from search_api.monitoring.tagging import lexicon_employers, lexicon_topics
from search_api.settings import Settings

if TYPE_CHECKING:
    from search_api.monitoring.es_sink import EsLogSink
    from search_api.search.service import SearchResponse, SearchService

log = logging.getLogger(__name__)

_QID_RE = re.compile(r"[0-9a-f]{32}")

LINGER_S = 0.05
CHECKPOINT_EVERY_S = 1.0
_FLUSH: tuple[str, Any] = ("flush", None)


def load_secret(settings: Settings) -> bytes:
    """The site secret: ``settings.secret_key``, else ``<data_dir>/secret.key`` (created once, mode 0600)."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = settings.data_dir / "secret.key"
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


class QueryLog:
    """Log searches and clicks: stored before the answer leaves, cheap enough for every search.

    Build one per app with ``QueryLog(settings)``; call :meth:`close` on shutdown.
    ``topics_for`` and ``employers_for`` default to the project lexicon and
    :func:`search_api.monitoring.employers.extract_employers`; tests may pass their own.
    ``listeners`` are called, on a background thread, with each batch of stored query
    records (the warning monitor); the Elasticsearch sink is fed there too.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        topics_for: records.TopicsFor | None = None,
        employers_for: records.EmployersFor | None = None,
        es_sink: EsLogSink | None = None,
        queue_size: int = 10_000,
    ):
        self.settings = settings
        self.enabled = settings.querylog_enabled
        self.path = settings.querylog_path
        self.max_chars = settings.max_query_chars
        self._secret = load_secret(settings)
        self._qid_key = hmac.new(self._secret, b"labourkb query id", hashlib.sha256).digest()
        self._topics_for = topics_for or lexicon_topics(settings)
        self._employers_for = employers_for or lexicon_employers(settings)
        self.es_sink = es_sink
        if es_sink is None and settings.engine == "elasticsearch":
            from search_api.monitoring.es_sink import EsLogSink

            self.es_sink = EsLogSink(settings)
        self.listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self.dropped = 0  # batches the background thread never saw (its queue was full); all were stored
        self.failed = 0  # records that could not be stored
        self._closed = False
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._conn = records.open_log(self.path)
        signals.ensure(self._conn)
        # Checkpoints copy the WAL into the file and fsync: the background thread runs them on
        # its own connection, never a search (see _maybe_checkpoint).
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._ckpt_conn = records.open_log(self.path)
        self._lock = threading.Lock()
        self._hurry = threading.Event()
        self._writes = self._checkpointed = 0
        self._last_checkpoint = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="querylog-writer", daemon=True)
        self._thread.start()

    # -- query ids: issued here, checked by /go

    def new_query_id(self) -> str:
        """A fresh query id: 16 random hex digits and 16 of their HMAC under the site secret."""
        nonce = secrets.token_hex(8)
        return nonce + hmac.new(self._qid_key, nonce.encode(), hashlib.sha256).hexdigest()[:16]

    def issued(self, query_id: str) -> bool:
        """Whether ``query_id`` is one :meth:`new_query_id` made (with this site's secret)."""
        if not isinstance(query_id, str) or not _QID_RE.fullmatch(query_id):
            return False
        mac = hmac.new(self._qid_key, query_id[:16].encode(), hashlib.sha256).hexdigest()[:16]
        return hmac.compare_digest(mac, query_id[16:])

    # -- called on the search path: the record is stored before the call returns; never raising

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
        confident: bool | None = None,
    ) -> str:
        """Store one search record (redacted); returns its ``query_id`` (for click links).

        The record is committed to the log file (WAL, ``synchronous=NORMAL``) before this
        returns, so a search whose answer left the server survives the process being killed.
        """
        query_id = query_id or self.new_query_id()
        if not self.enabled or self._closed:
            return query_id
        try:
            item = dict(
                q=q,
                tokens=list(tokens)[: records.MAX_TOKENS],
                filters=filters or {},
                engine=engine,
                total=total,
                top_ids=list(top_ids)[: records.MAX_HIT_IDS],
                took_ms=took_ms,
                failed=failed,
                source=source,
                district=district,
                client_ip=client_ip,
                user_agent=user_agent,
                query_id=query_id,
                when=utc_now(),
            )
            record = records.query_record(
                item,
                secret=self._secret,
                max_chars=self.max_chars,
                topics_for=self._topics_for,
                employers_for=self._employers_for,
            )
        except Exception:
            self.failed += 1
            log.exception("query log: dropped a malformed search record")
            return query_id
        record["_unconfident"] = confident is False  # a signal for the gap report (monitoring.signals)
        self._store([record], [])
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
        """Store one UBI ``click`` event on result ``doc_id`` at rank ``position`` (1-based).

        The caller checks the ids (``/go`` accepts only issued query ids and existing documents).
        """
        if not self.enabled or self._closed:
            return
        try:
            item = dict(
                query_id=query_id,
                doc_id=doc_id,
                position=position,
                client_ip=client_ip,
                user_agent=user_agent,
                when=utc_now(),
            )
            event = records.click_record(item, secret=self._secret)
        except Exception:
            self.failed += 1
            log.exception("query log: dropped a malformed click")
            return
        self._store([], [event])

    def mark_help(self, query_id: str) -> None:
        """A help request was sent from the result page of ``query_id``: a signal of that search only."""
        if self.enabled and not self._closed and self.issued(query_id):
            signals.mark_help(self._conn, query_id, self._lock)

    def _store(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        try:
            with self._lock:
                records.insert(self._conn, queries, events)
                self._writes += 1
        except Exception:
            self.failed += len(queries) + len(events)
            log.exception("query log: could not store %d records", len(queries) + len(events))
            return
        try:
            self._queue.put_nowait(("stored", (queries, events)))
        except queue.Full:
            self.dropped += 1

    # -- lifecycle

    def flush(self, timeout: float | None = None) -> None:
        """Block until the background work (warnings, Elasticsearch) for everything stored so far is done."""
        try:
            self._queue.put_nowait(_FLUSH)
        except queue.Full:
            pass
        self._hurry.set()  # ends the thread's linger at once
        if timeout is None:
            self._queue.join()
            return
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        done.wait(timeout)

    def close(self) -> None:
        """Finish the background work and stop its thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._hurry.set()
            self._thread.join(timeout=30)
        if self.es_sink is not None:
            self.es_sink.close()
        self._maybe_checkpoint(force=True)
        self._ckpt_conn.close()
        with self._lock:
            self._conn.close()

    # -- background thread: listeners, Elasticsearch, WAL checkpoints

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=CHECKPOINT_EVERY_S)
            except queue.Empty:
                self._maybe_checkpoint()
                continue
            batch = [first]
            if first is not None and first is not _FLUSH:
                # Linger so a busy site hands listeners and Elasticsearch one batch, not one per
                # search, without this thread waking up (and taking the GIL) for every record.
                self._hurry.wait(LINGER_S)
            self._hurry.clear()
            while batch[-1] is not None and len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is None for item in batch)
            try:
                self._after_store([item for item in batch if item is not None and item is not _FLUSH])
            except Exception:
                log.exception("query log: background work for %d batches failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
            self._maybe_checkpoint()
            if stop:
                return

    def _maybe_checkpoint(self, force: bool = False) -> None:
        """Copy the WAL into the log file, at most every second and only after new writes.

        Searches never checkpoint (``wal_autocheckpoint=0`` on their connection): a checkpoint
        fsyncs, and runs here on a connection of its own, so it never holds up a search's insert.
        PASSIVE: it never waits for readers or writers.
        """
        if self._writes == self._checkpointed or not (
            force or time.monotonic() - self._last_checkpoint >= CHECKPOINT_EVERY_S
        ):
            return
        self._checkpointed, self._last_checkpoint = self._writes, time.monotonic()
        try:
            self._ckpt_conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.exception("query log: checkpoint failed")

    def _after_store(self, batch: list[tuple[str, Any]]) -> None:
        queries: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for _, (qs, es) in batch:
            queries.extend(qs)
            events.extend(es)
        if not queries and not events:
            return
        signals.record_searches(self._ckpt_conn, queries)  # off the search path; never raises
        if self.es_sink is not None:
            self.es_sink.write([records.public(r) for r in queries], events)
        for listener in self.listeners:
            try:
                listener(queries)
            except Exception:
                log.exception("query log listener failed")

    # -- maintenance

    def purge(self, older_than_days: int | None = None) -> dict[str, int]:
        """Delete records older than the retention period; returns counts per store."""
        days = int(older_than_days if older_than_days is not None else self.settings.retention_days)
        with self._lock:
            counts = records.delete_before(self._conn, iso(utc_now() - timedelta(days=days)))
        if self.es_sink is not None:
            counts["es_indices"] = self.es_sink.purge(days)
        return counts

    def replay_spool(self) -> int:
        """Send spooled records to Elasticsearch now; returns how many were delivered."""
        return self.es_sink.replay_spool() if self.es_sink is not None else 0


def logged_search(
    service: SearchService,
    querylog: QueryLog | None,
    q: str,
    *,
    source: str,
    district: str | None = None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    **search_args: Any,
) -> SearchResponse:
    """``service.search(q, **search_args)`` with its query-log record; the response carries ``query_id``.

    A failed search is logged (``failed``) before its error propagates, so an
    Elasticsearch outage loses no log record. Without a query log this is a plain search.
    """
    visitor = {"source": source, "district": district, "client_ip": client_ip, "user_agent": user_agent}
    filters = search_args.get("filters") or {}
    try:
        response = service.search(q, **search_args)
    except Exception:
        if querylog is not None and q.strip():
            a = service.analyse(q)
            querylog.log_search(
                q=q, tokens=a.tokens, filters=filters, engine=service.engine.name, total=None, failed=True, **visitor
            )
        raise
    if querylog is not None and response.query:
        response.query_id = querylog.log_search(
            q=q,
            tokens=response.tokens,
            filters=filters,
            engine=service.engine.name,
            total=response.total,
            top_ids=[h["id"] for h in response.hits],
            took_ms=response.took_ms,
            failed=False,
            confident=response.confident,
            **visitor,
        )
    return response
