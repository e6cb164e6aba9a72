"""Deliver warnings to the configured webhooks as signed JSON, once each, in the background.

Each POST carries the JSON body of :meth:`search_api.monitoring.alerts.Alert.payload` and

* ``X-Labourkb-Signature: sha256=<hex HMAC-SHA256 of the raw body under LABOURKB_WEBHOOK_SECRET>``
* ``X-Labourkb-Delivery: <hash of the warning key>`` (stable across retries, so a receiver can de-duplicate)

A timeout, connection error, 429 or 5xx is retried with exponential back-off; other 4xx
answers are final. URLs, secret, timeout and attempts are the ``webhook_*`` settings.
State lives in the ``webhook_deliveries`` table of the query-log file: a delivery marked
``delivered`` is never sent again, and pending ones left by a restart are picked up by
:meth:`WebhookSender.resume`. Nothing here runs on the search path: :meth:`WebhookSender.send`
only enqueues. :func:`attach_monitoring` wires the warning monitor and the sender onto a
query log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from search_api.db import now_iso, transaction
from search_api.monitoring.alerts import Alert, WarningMonitor, distress_topics, get_warning
from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.records import open_log, reading_log
from search_api.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Labourkb-Signature"
DELIVERY_HEADER = "X-Labourkb-Delivery"


def sign(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Check a received signature in constant time (for receivers and tests)."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)


def delivery_id(alert: Alert) -> str:
    """ASCII id of a warning, stable across retries (header values must be ASCII)."""
    return f"{alert.kind}-" + hashlib.sha256(alert.payload()["key"].encode("utf-8")).hexdigest()[:24]


class WebhookSender:
    """Background delivery of warnings to every configured URL.

    ``backoff`` is the first retry delay in seconds (doubled each attempt, capped at 5 min).
    """

    def __init__(self, db_path: Path | str, settings: Settings, backoff: float = 2.0):
        self.urls = settings.webhook_url_list
        self.secret = settings.webhook_secret
        self.timeout = settings.webhook_timeout
        self.max_attempts = settings.webhook_max_attempts
        self.backoff = backoff
        self.conn = open_log(db_path)
        self._lock = threading.Lock()
        self._queue: queue.Queue[int | None] = queue.Queue()
        self.weekly: Any = None  # the weekly report job, when attach_monitoring started one
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self._thread.start()

    def send(self, alerts: list[Alert]) -> None:
        """Record a pending delivery per URL and enqueue it; returns at once."""
        if not self.urls:
            return
        with self._lock, transaction(self.conn):
            for alert in alerts:
                for url in self.urls:
                    self.conn.execute(
                        "INSERT OR IGNORE INTO webhook_deliveries (warning_id, url) VALUES (?, ?)", (alert.id, url)
                    )
        for alert in alerts:
            self._idle.clear()
            self._queue.put(alert.id)

    def resume(self) -> int:
        """Enqueue deliveries still pending (after a restart); returns how many warnings."""
        with self._lock:
            ids = [
                r[0]
                for r in self.conn.execute("SELECT DISTINCT warning_id FROM webhook_deliveries WHERE state = 'pending'")
            ]
        for wid in ids:
            self._idle.clear()
            self._queue.put(wid)
        return len(ids)

    def wait_idle(self, timeout: float = 30) -> bool:
        """Block until the queue is empty and no delivery is in flight (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        if self.weekly is not None:
            self.weekly.close()
        self._queue.put(None)
        self._thread.join(timeout=self.timeout + 1)
        self.conn.close()

    # -- delivery thread

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                wid = self._queue.get()
                if wid is None:
                    return
                try:
                    self._deliver(client, wid)
                except Exception:
                    log.exception("webhook delivery of warning %s failed", wid)
                if self._queue.empty():
                    self._idle.set()

    def _deliver(self, client: httpx.Client, wid: int) -> None:
        with self._lock:
            alert = get_warning(self.conn, wid)
            pending = [
                r["url"]
                for r in self.conn.execute(
                    "SELECT url FROM webhook_deliveries WHERE warning_id = ? AND state = 'pending'", (wid,)
                )
            ]
        if alert is None:
            return
        body = json.dumps(alert.payload(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(body, self.secret),
            DELIVERY_HEADER: delivery_id(alert),
            "User-Agent": "labourkb-webhook/1",
        }
        for url in pending:
            self._deliver_one(client, wid, url, body, headers)

    def _deliver_one(self, client: httpx.Client, wid: int, url: str, body: bytes, headers: dict[str, str]) -> None:
        def mark(state: str, attempts: int, error: str | None) -> None:
            self._mark(wid, url, state, attempts, error)

        post_with_retries(client, url, body, headers, self.max_attempts, self.backoff, mark)

    def _mark(self, wid: int, url: str, state: str, attempts: int, error: str | None) -> None:
        with self._lock:
            self.conn.execute(
                "UPDATE webhook_deliveries SET state = ?, attempts = ?, last_error = ?, delivered_at = ?"
                " WHERE warning_id = ? AND url = ?",
                (state, attempts, error, now_iso() if state == "delivered" else None, wid, url),
            )


def post_with_retries(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    max_attempts: int,
    backoff: float,
    mark: Callable[[str, int, str | None], None],
) -> None:
    """POST ``body`` until a 2xx, a final 4xx or ``max_attempts``; ``mark(state, attempts, error)``
    records each outcome (``pending`` between attempts, then ``delivered`` or ``failed``)."""
    delay = backoff
    for attempt in range(1, max_attempts + 1):
        error = None
        try:
            resp = client.post(url, content=body, headers=headers)
            if 200 <= resp.status_code < 300:
                mark("delivered", attempt, None)
                return
            error = f"HTTP {resp.status_code}"
            retry = resp.status_code == 429 or resp.status_code >= 500
        except httpx.HTTPError as exc:  # timeouts, refused connections …
            error, retry = f"{type(exc).__name__}: {exc}"[:200], True
        except Exception as exc:
            error, retry = f"{type(exc).__name__}: {exc}"[:200], False
        if not retry or attempt == max_attempts:
            mark("failed", attempt, error)
            log.warning("webhook %s gave up: %s", url, error)
            return
        mark("pending", attempt, error)
        time.sleep(delay)
        delay = min(delay * 2, 300)


def deliveries(db_path: Path | str) -> list[dict[str, Any]]:
    """Delivery state of every warning × URL (dashboard, tests)."""
    with reading_log(db_path) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM webhook_deliveries ORDER BY warning_id, url")]


def attach_monitoring(querylog: QueryLog, settings: Settings) -> tuple[WarningMonitor, WebhookSender]:
    """Wire warnings and webhooks onto a query log: thresholds and webhooks come from ``settings``.

    Returns ``(WarningMonitor, WebhookSender)``; close both on shutdown. With webhooks configured,
    the sender also owns the weekly report job (:class:`search_api.monitoring.weekly.WeeklyJob`).
    """
    sender = WebhookSender(querylog.path, settings)
    if settings.webhook_url_list:
        from search_api.monitoring.weekly import WeeklyJob, help_for

        sender.weekly = WeeklyJob(settings, lambda: help_for(settings))
    watcher = WarningMonitor(querylog.path, distress_topics(settings), settings, notify=sender.send)
    querylog.listeners.append(watcher.on_records)
    sender.resume()
    return watcher, sender
