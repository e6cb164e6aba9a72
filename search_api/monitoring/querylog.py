"""The privacy-safe query log: one record per search, one event per result click.

Routes search through :func:`logged_search`, which asks the search service and logs the
search, failed ones included; ``/go`` logs clicks with :meth:`QueryLog.log_click`. The
record shapes are in :mod:`search_api.monitoring.records`; the tables are in the query-log
store (``db.log_database``: ``<data_dir>/querylog.sqlite3``, or the shared PostgreSQL database).

Privacy: the query is redacted (:mod:`search_api.monitoring.redact`) before it is written; the
visitor is a ``client_id`` = HMAC-SHA256 of IP + coarse browser family, and a ``network_id``
= HMAC-SHA256 of the IP's /24 (IPv6: /64), under a salt that changes every day, so one
visitor cannot be followed across days. Raw IPs and user agents only pass through memory.

Durability: ``log_search`` redacts and tags the record and writes it to this process's journal
(:mod:`search_api.monitoring.journal`: one JSON line, no fsync — it survives the process being
killed, not the machine losing power, as a SQLite commit with ``synchronous=NORMAL`` did) before
the answer leaves. A background thread stores the journaled records in the query-log store
(``db.log_database``) in one transaction a few times a second, or at once on :meth:`QueryLog.flush`,
and takes over the journals of processes that died. While the database does not answer, records go
to a local spool file (fsync'd) and are stored from there once it answers again (``log_store``).
Then, on that thread, what may lag: the signals of each search, the warning monitor (``listeners``),
SQLite WAL checkpoints and, with the Elasticsearch engine, the same records to dated indices
(``search_api.monitoring.es_sink``). Logging never raises into the search path.

Query ids are signed (:meth:`QueryLog.new_query_id`): ``/go`` stores a click only for a query id this site issued.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from search_api.accounts.secret import load_secret
from search_api.db import Database, iso, utc_now
from search_api.monitoring import records, signals
from search_api.monitoring.log_store import LogStore
from search_api.monitoring.tagging import lexicon_employers, lexicon_topics
from search_api.settings import Settings

if TYPE_CHECKING:
    from search_api.monitoring.es_sink import EsLogSink
    from search_api.search.service import SearchResponse, SearchService

log = logging.getLogger(__name__)

_QID_RE = re.compile(r"[0-9a-f]{32}")

LINGER_S = 0.05
TICK_S = 1.0  # the background thread's idle wake-up: spool replay, WAL checkpoint
_FLUSH: tuple[str, Any] = ("flush", None)
_JOURNALED: tuple[str, Any] = ("journaled", None)  # records wait in the journal (LogStore.write_ahead)


class QueryLog:
    """Log searches and clicks: journaled before the answer leaves, cheap enough for every search.

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
        self.path = settings.querylog_path  # the SQLite file (without LABOURKB_DATABASE_URL)
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
        self.failed = 0  # records that could be neither stored nor spooled
        self.spooled = 0  # records spooled because the database did not answer (stored once it does)
        self._closed = False
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self.store = LogStore(settings)
        self._hurry = threading.Event()
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

    @property
    def database(self) -> Database:
        """The query-log store (raises while it cannot be reached)."""
        return self.store.database

    @database.setter
    def database(self, database: Database) -> None:
        self.store.database = database

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
        """Log one search (redacted; journaled when this returns, see above); returns its ``query_id``."""
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
            try:
                signals.mark_help(self.database, query_id)
            except Exception:  # the database does not answer: the signal is lost, the request is not
                log.warning("query log: help signal not stored (database unavailable)")

    def _store(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        if self.store.write_ahead(queries, events):  # stored by the background thread, in a moment
            try:
                self._queue.put_nowait(_JOURNALED)
            except queue.Full:
                pass  # the thread's next round stores them all the same
            return
        try:
            stored = self.store.store(queries, events)
        except Exception:
            self.failed += len(queries) + len(events)
            log.exception("query log: could not store or spool %d records", len(queries) + len(events))
            return
        if not stored:
            self.spooled += len(queries) + len(events)
            return  # passed on to the background work when the spool is replayed
        try:
            self._queue.put_nowait(("stored", (queries, events)))
        except queue.Full:
            self.dropped += 1

    # -- lifecycle

    def flush(self, timeout: float | None = None) -> None:
        """Block until the background work (spool replay, signals, warnings, Elasticsearch) for
        everything stored so far is done."""
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
        self.store.maybe_checkpoint(force=True)

    # -- background thread: spool replay, signals, listeners, Elasticsearch, WAL checkpoints

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=TICK_S)
            except queue.Empty:
                self._after_journal()
                self._replay()
                self.store.maybe_checkpoint()
                continue
            batch = [first]
            if first is not None and first is not _FLUSH:
                # linger: a busy site's records stored, and handed on, in one batch, not one per search
                self._hurry.wait(LINGER_S)
            self._hurry.clear()
            while batch[-1] is not None and len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is None for item in batch)
            try:
                self._after_journal(closing=stop)
                self._after_store([item for item in batch if item is not None and item[0] == "stored"])
                self._replay()  # before the batch is done: flush() waits for the spool's replay too
            except Exception:
                log.exception("query log: background work for %d batches failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
            self.store.maybe_checkpoint()
            if stop:
                return

    def _after_journal(self, closing: bool = False) -> None:
        """Store what the journal holds; then the signals, listeners and Elasticsearch get it."""
        stored, spooled = self.store.commit_journal(closing)
        self.spooled += spooled
        self._after_store([("stored", r) for r in stored])

    def _replay(self) -> int | None:
        """Store what was spooled while the database did not answer, then pass it on like any
        stored batch; returns how many records (None: the database still does not answer)."""
        replayed = self.store.replay()
        if replayed is None:
            return None
        queries, events = replayed
        try:
            self._after_store([("stored", (queries, events))])
        except Exception:
            log.exception("query log: background work for %d replayed records failed", len(queries) + len(events))
        return len(queries) + len(events)

    def _after_store(self, batch: list[tuple[str, Any]]) -> None:
        queries: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for _, (qs, es) in batch:
            queries.extend(qs)
            events.extend(es)
        if not queries and not events:
            return
        signals.record_searches(self.database, queries)  # off the search path; never raises
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
        with self.database.transaction() as conn:
            counts = records.delete_before(conn, iso(utc_now() - timedelta(days=days)))
        if self.es_sink is not None:
            counts["es_indices"] = self.es_sink.purge(days)
        return counts

    def replay_spool(self) -> int:
        """Store records spooled while the database did not answer, and send those spooled while
        Elasticsearch did not, now; returns how many were delivered."""
        stored = self._replay() or 0
        return stored + ((self.es_sink.replay_spool() or 0) if self.es_sink is not None else 0)


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
