"""The privacy-safe query log: one record per search, one event per result click.

Routes search through :func:`logged_search`, which asks the search service and logs the
search, failed ones included; ``/go`` logs clicks with :meth:`QueryLog.log_click`. The
record shapes and the file's tables are in :mod:`search_api.monitoring.records`.

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

import logging
import os
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from search_api.db import iso, utc_now
from search_api.monitoring import records
from search_api.monitoring.employers import extract_employers, lexicon_aliases
from search_api.settings import Settings

if TYPE_CHECKING:
    from search_api.monitoring.es_sink import EsLogSink
    from search_api.search.service import SearchResponse, SearchService

log = logging.getLogger(__name__)

LINGER_S = 0.05
_FLUSH: tuple[str, dict[str, Any]] = ("flush", {})


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
    """Log searches and clicks without slowing searches down.

    Build one per app with ``QueryLog(settings)``; call :meth:`close` on shutdown
    (it flushes). ``topics_for`` and ``employers_for`` default to the project lexicon
    and :func:`search_api.monitoring.employers.extract_employers`; tests may pass their own.
    ``listeners`` are called with each written batch of query records (the warning monitor).
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
        self._topics_for = topics_for or _lexicon_topics(settings)
        self._employers_for = employers_for or _lexicon_employers(settings)
        self.es_sink = es_sink
        if es_sink is None and settings.engine == "elasticsearch":
            from search_api.monitoring.es_sink import EsLogSink

            self.es_sink = EsLogSink(settings)
        self.listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self.dropped = 0
        self._closed = False
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize=queue_size)
        self._conn = records.open_log(self.path)
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
                when=utc_now(),
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
                    queries.append(
                        records.query_record(
                            item,
                            secret=self._secret,
                            max_chars=self.max_chars,
                            topics_for=self._topics_for,
                            employers_for=self._employers_for,
                        )
                    )
                elif kind == "click":
                    events.append(records.click_record(item, secret=self._secret))
            except Exception:
                log.exception("query log: dropped a malformed %s record", kind)
        with self._lock:
            records.insert(self._conn, queries, events)
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
            **visitor,
        )
    return response


def _lexicon_topics(settings: Settings) -> records.TopicsFor:
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


def _lexicon_employers(settings: Settings) -> records.EmployersFor:
    def employers_for(text: str) -> list[str]:
        return extract_employers(text, lexicon_aliases(settings.lexicon_dir))

    return employers_for
