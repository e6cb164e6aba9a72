"""Deliver warnings to the configured webhooks as signed JSON, once each, in the background.

Each POST carries the JSON body of :meth:`search_api.monitoring.alerts.Alert.payload` and

* ``X-Labourkb-Signature: sha256=<hex HMAC-SHA256 of the raw body under LABOURKB_WEBHOOK_SECRET>``
* ``X-Labourkb-Delivery: <hash of the warning key>`` (stable across retries, so a receiver can de-duplicate)

A timeout, connection error, 429 or 5xx is retried with exponential back-off; other 4xx
answers are final. URLs, secret, timeout and attempts are the ``webhook_*`` settings.
State lives in the ``webhook_deliveries`` table of the query-log store, one row per warning
and URL. Several app servers may share that store (PostgreSQL), each with its own sender:
a delivery is sent by the sender that *claims* it (:class:`Claims`: a conditional UPDATE
from ``pending`` to ``sending`` that only one of them can win), so it goes out once, not once
per server. A sender refreshes its claim before each attempt; a claim left older than
``claim_timeout`` (a server killed mid-send) is taken over by another sender's periodic sweep,
which sends it again — the receiver de-duplicates on ``X-Labourkb-Delivery`` — with the
attempts counted across servers. Nothing here runs on the search path:
:meth:`WebhookSender.send` only records and enqueues. :func:`attach_monitoring` wires the
warning monitor and the sender onto a query log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from search_api import db
from search_api.db import Database, now_iso, utc_now
from search_api.monitoring.alerts import Alert, WarningMonitor, distress_topics, get_warning
from search_api.monitoring.querylog import QueryLog
from search_api.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Labourkb-Signature"
DELIVERY_HEADER = "X-Labourkb-Delivery"
MAX_BACKOFF_S = 300.0
# A claim not refreshed for this long belongs to a dead sender: longer than the longest
# back-off plus one attempt, so a live sender's claim never looks stale.
CLAIM_TIMEOUT_S = 900.0
SWEEP_EVERY_S = 60.0  # how often a sender looks for deliveries nobody is sending


def sign(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Check a received signature in constant time (for receivers and tests)."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)


def delivery_id(alert: Alert) -> str:
    """ASCII id of a warning, stable across retries (header values must be ASCII)."""
    return f"{alert.kind}-" + hashlib.sha256(alert.payload()["key"].encode("utf-8")).hexdigest()[:24]


def signed_headers(body: bytes, secret: str, delivery: str) -> dict[str, str]:
    """The headers of a webhook POST of ``body``."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(body, secret),
        DELIVERY_HEADER: delivery,
        "User-Agent": "labourkb-webhook/1",
    }


def worker_id() -> str:
    """Who holds a claim: host, process and a per-object nonce (two senders in one process differ)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# A row anyone may claim: never claimed, or claimed by a sender that stopped refreshing it.
_CLAIMABLE = (
    "attempts < :max_attempts AND (state = 'pending'"
    " OR (state = 'sending' AND (claimed_at IS NULL OR claimed_at < :stale)))"
)


class Claims:
    """Once-only deliveries in ``table`` (``webhook_deliveries`` keyed by ``warning_id``,
    ``weekly_deliveries`` by ``week``), one row per key and URL, shared by every app server.

    :meth:`claim` turns a claimable row into ``sending`` by this worker in one conditional
    UPDATE: of several servers trying at once exactly one gets a row back. The holder refreshes
    ``claimed_at`` with each attempt (:meth:`mark`); after ``claim_timeout`` seconds without that
    the row is claimable again. ``attempts`` add up across claims, up to ``max_attempts``.
    """

    def __init__(self, database: Database, table: str, key: str, max_attempts: int, claim_timeout: float):
        assert (table, key) in {("webhook_deliveries", "warning_id"), ("weekly_deliveries", "week")}
        self.database = database
        self.table = table
        self.key = key
        self.max_attempts = max_attempts
        self.claim_timeout = claim_timeout
        self.worker = worker_id()

    def _params(self, **extra: Any) -> dict[str, Any]:
        stale = db.iso(utc_now() - timedelta(seconds=self.claim_timeout))
        return {"max_attempts": self.max_attempts, "stale": stale, "now": now_iso(), "me": self.worker, **extra}

    def claim(self, key: Any, url: str) -> int | None:
        """Claim ``(key, url)`` for this worker; the attempts made so far, or None if not won."""
        with self.database.transaction() as conn:
            return conn.scalar(
                f"UPDATE {self.table} SET state = 'sending', claimed_at = :now, claimed_by = :me"
                f" WHERE {self.key} = :key AND url = :url AND {_CLAIMABLE} RETURNING attempts",
                self._params(key=key, url=url),
            )

    def claimable(self, key: Any | None = None) -> list[tuple[Any, str]]:
        """``(key, url)`` of the rows nobody is sending (of one key, or all); gives up on stale
        claims that used their attempts."""
        where = f"{_CLAIMABLE}" + (f" AND {self.key} = :key" if key is not None else "")
        params = self._params(key=key)
        with self.database.transaction() as conn:
            conn.execute(
                f"UPDATE {self.table} SET state = 'failed', last_error = COALESCE(last_error, 'abandoned')"
                " WHERE state = 'sending' AND claimed_at < :stale AND attempts >= :max_attempts",
                params,
            )
            rows = conn.rows(f"SELECT {self.key} AS key, url FROM {self.table} WHERE {where} ORDER BY 1, 2", params)
        return [(r["key"], r["url"]) for r in rows]

    def mark(self, key: Any, url: str, state: str, attempts: int, error: str | None) -> bool:
        """Record an attempt's outcome (``sending`` also renews the claim); False if this worker
        no longer holds the claim (another took it over as stale), so it should stop."""
        params = self._params(key=key, url=url, state=state, attempts=attempts, error=error)
        with self.database.transaction() as conn:
            if state == "delivered":  # true whoever holds the claim now
                sql = (
                    f"UPDATE {self.table} SET state = 'delivered', attempts = :attempts, last_error = NULL,"
                    f" delivered_at = :now WHERE {self.key} = :key AND url = :url AND state <> 'delivered'"
                )
            else:
                sql = (
                    f"UPDATE {self.table} SET state = :state, attempts = :attempts, last_error = :error,"
                    f" claimed_at = :now WHERE {self.key} = :key AND url = :url AND state = 'sending'"
                    " AND claimed_by = :me"
                )
            return conn.execute(sql, params).rowcount == 1

    def post(
        self, client: httpx.Client, key: Any, url: str, body: bytes, headers: dict[str, str], backoff: float
    ) -> str | None:
        """Claim ``(key, url)`` and POST ``body`` until it is delivered, refused or out of
        attempts; the final state, or None when another worker has (or had) it."""
        done = self.claim(key, url)
        if done is None:
            return None

        def mark(state: str, attempts: int, error: str | None) -> bool:
            return self.mark(key, url, state, attempts, error)

        return post_with_retries(client, url, body, headers, self.max_attempts, backoff, mark, done=done)


class WebhookSender:
    """Background delivery of warnings to every configured URL.

    ``backoff`` is the first retry delay in seconds (doubled each attempt, capped at 5 min);
    ``claim_timeout`` is how old another sender's claim must be before this one takes it over;
    every ``sweep_every`` seconds the sender looks for deliveries nobody is sending.
    """

    def __init__(
        self,
        database: Database,
        settings: Settings,
        backoff: float = 2.0,
        claim_timeout: float = CLAIM_TIMEOUT_S,
        sweep_every: float = SWEEP_EVERY_S,
    ):
        self.urls = settings.webhook_url_list
        self.secret = settings.webhook_secret
        self.timeout = settings.webhook_timeout
        self.max_attempts = settings.webhook_max_attempts
        self.backoff = backoff
        self.sweep_every = sweep_every
        self.database = database
        self.claims = Claims(database, "webhook_deliveries", "warning_id", self.max_attempts, claim_timeout)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self.weekly: Any = None  # the weekly report job, when attach_monitoring started one
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self._thread.start()

    def send(self, alerts: list[Alert]) -> None:
        """Record a pending delivery per URL and enqueue it; returns at once."""
        if not self.urls or not alerts:
            return
        with self.database.transaction() as conn:
            conn.execute(
                "INSERT INTO webhook_deliveries (warning_id, url) VALUES (:warning_id, :url)"
                " ON CONFLICT (warning_id, url) DO NOTHING",
                [{"warning_id": alert.id, "url": url} for alert in alerts for url in self.urls],
            )
        for alert in alerts:
            self._enqueue(alert.id)

    def resume(self) -> int:
        """Enqueue deliveries nobody is sending: pending after a restart, or claimed by a
        server that stopped (a stale claim); returns how many warnings."""
        ids = sorted({wid for wid, _ in self.claims.claimable()})
        for wid in ids:
            self._enqueue(wid)
        return len(ids)

    def _enqueue(self, wid: int) -> None:
        self._idle.clear()
        self._queue.put(wid)

    def wait_idle(self, timeout: float = 30) -> bool:
        """Block until the queue is empty and no delivery is in flight (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        if self.weekly is not None:
            self.weekly.close()
        self._queue.put(None)
        self._thread.join(timeout=self.timeout + 1)

    # -- delivery thread

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                try:
                    wid = self._queue.get(timeout=self.sweep_every)
                except queue.Empty:
                    self._sweep()
                    continue
                if wid is None:
                    return
                try:
                    self._deliver(client, wid)
                except Exception:
                    log.exception("webhook delivery of warning %s failed", wid)
                if self._queue.empty():
                    self._idle.set()

    def _sweep(self) -> None:
        try:
            self.resume()
        except Exception:
            log.exception("webhooks: looking for unsent deliveries failed")

    def _deliver(self, client: httpx.Client, wid: int) -> None:
        with self.database.connect() as conn:
            alert = get_warning(conn, wid)
        if alert is None:
            return
        body = json.dumps(alert.payload(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = signed_headers(body, self.secret, delivery_id(alert))
        for _, url in self.claims.claimable(wid):
            self.claims.post(client, wid, url, body, headers, self.backoff)


def post_with_retries(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    max_attempts: int,
    backoff: float,
    mark: Callable[[str, int, str | None], bool],
    done: int = 0,
) -> str | None:
    """POST ``body`` until a 2xx, a final 4xx or ``max_attempts`` (``done`` of them made earlier).

    ``mark(state, attempts, error)`` records each step — ``sending`` before each attempt and
    before each back-off (renewing the claim), then ``delivered`` or ``failed`` — and returns
    False when the claim was lost, which stops here. Returns the final state (None: claim lost).
    """
    delay = backoff
    error: str | None = None
    for attempt in range(done + 1, max_attempts + 1):
        if not mark("sending", attempt, error):
            return None
        try:
            resp = client.post(url, content=body, headers=headers)
            if 200 <= resp.status_code < 300:
                mark("delivered", attempt, None)
                return "delivered"
            error = f"HTTP {resp.status_code}"
            retry = resp.status_code == 429 or resp.status_code >= 500
        except httpx.HTTPError as exc:  # timeouts, refused connections …
            error, retry = f"{type(exc).__name__}: {exc}"[:200], True
        except Exception as exc:
            error, retry = f"{type(exc).__name__}: {exc}"[:200], False
        if not retry or attempt == max_attempts:
            mark("failed", attempt, error)
            log.warning("webhook %s gave up: %s", url, error)
            return "failed"
        if not mark("sending", attempt, error):
            return None
        time.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_S)
    return None


def deliveries(database: Database, table: str = "webhook_deliveries") -> list[dict[str, Any]]:
    """Delivery state of every warning × URL, or of every weekly report × URL (``weekly_deliveries``)."""
    key = {"webhook_deliveries": "warning_id", "weekly_deliveries": "week"}[table]
    with database.connect() as conn:
        return [dict(r) for r in conn.rows(f"SELECT * FROM {table} ORDER BY {key}, url")]


def attach_monitoring(querylog: QueryLog, settings: Settings) -> tuple[WarningMonitor, WebhookSender]:
    """Wire warnings and webhooks onto a query log: thresholds and webhooks come from ``settings``.

    Returns ``(WarningMonitor, WebhookSender)``; close both on shutdown. With webhooks configured,
    the sender also owns the weekly report job (:class:`search_api.monitoring.weekly.WeeklyJob`).
    """
    database = db.log_database(settings)
    sender = WebhookSender(database, settings)
    if settings.webhook_url_list:
        from search_api.monitoring.weekly import WeeklyJob, help_for

        sender.weekly = WeeklyJob(settings, lambda: help_for(settings), database=database)
    watcher = WarningMonitor(database, distress_topics(settings), settings, notify=sender.send)
    querylog.listeners.append(watcher.on_records)
    sender.resume()
    return watcher, sender
