"""The server's own access log, without who asked or what they asked.

uvicorn's access log prints the client address (taken from ``X-Forwarded-For`` when it
trusts the peer) and the full request line with its query string — a searcher's question
and address side by side on stdout. ``labourkb serve`` turns it off and, unless
``LABOURKB_ACCESS_LOG`` is false, wraps the app in :class:`AccessLog` instead: one line per
request with the method, the *route* (the path template such as ``/doc/{doc_id}``, never the
path's values, which can be typed by anyone), the status and the time taken.

    2026-11-29 21:30:05,123 GET /api/search 200 4.2ms
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = "labourkb.access"
UNMATCHED = "(no route)"


def _logger() -> logging.Logger:
    log = logging.getLogger(LOGGER)
    if not log.handlers:  # uvicorn's logging config leaves this logger alone
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def route_of(scope: Scope) -> str:
    """The matched route's path template (a mount as ``/static/…``); ``(no route)`` otherwise."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return path + "/…" if isinstance(route, Mount) else path


class AccessLog:
    """ASGI wrapper logging ``METHOD route status time`` for every HTTP request."""

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None):
        self.app = app
        self.log = logger or _logger()

    def __getattr__(self, name: str) -> Any:  # ``.state``, ``.routes`` … of the wrapped app
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            took = (time.perf_counter() - start) * 1000
            self.log.info("%s %s %d %.1fms", scope.get("method", "-"), route_of(scope), status, took)
