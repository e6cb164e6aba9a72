"""Server-side browser sessions: the ``sessions`` and ``form_stash`` tables, and a request's session.

The cookie carries only a random token (HttpOnly, SameSite=Lax, Secure unless
``settings.cookie_secure`` is off); the store keeps its SHA-256 digest, the session's CSRF
token and its expiry (epoch seconds, sliding while the user is active).

A form posted after the session expired is stashed server-side (``form_stash``) and offered
again, once and only to the same user, after the next login.

Sessions expired for over a day and stashes older than a day are purged: by ``labourkb
purge``, and by the app itself at most every ``Store.PURGE_EVERY`` seconds, on logins
(``Store.maybe_purge``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from search_api import db
from search_api.accounts.tokens import new_token, token_digest

SESSION_COOKIE = "labourkb_session"
SESSION_TTL = 8 * 3600
STALE_AFTER = 24 * 3600  # expired sessions and form stashes older than this are purged


class Sessions:
    """The ``sessions`` and ``form_stash`` tables of the app store (every app server sees a
    session started on any other)."""

    def __init__(self, database: db.Database):
        self.database = database

    def create(self, user_id: int, ttl_seconds: float) -> tuple[str, str]:
        """Start a session; returns ``(cookie_token, csrf_token)``. Only the token's digest is stored."""
        token, csrf = new_token(), new_token()
        now = time.time()
        with self.database.transaction(lock=False) as conn:  # one statement: needs no store-wide lock
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
                " VALUES (:hash, :user_id, :csrf, :now, :expires_at)",
                {
                    "hash": token_digest(token),
                    "user_id": user_id,
                    "csrf": csrf,
                    "now": now,
                    "expires_at": now + ttl_seconds,
                },
            )
        return token, csrf

    def get(self, token: str) -> Mapping[str, Any] | None:
        """The session row for a cookie token, expired or not (callers check ``expires_at``)."""
        with self.database.connect() as conn:
            return conn.row("SELECT * FROM sessions WHERE token_hash = :hash", {"hash": token_digest(token)})

    def extend(self, token: str, expires_at: float) -> None:
        with self.database.transaction(lock=False) as conn:  # one statement: needs no store-wide lock
            conn.execute(
                "UPDATE sessions SET expires_at = :expires_at WHERE token_hash = :hash",
                {"expires_at": expires_at, "hash": token_digest(token)},
            )

    def delete(self, token: str) -> None:
        with self.database.transaction(lock=False) as conn:  # one statement: needs no store-wide lock
            conn.execute("DELETE FROM sessions WHERE token_hash = :hash", {"hash": token_digest(token)})

    def purge(self, now: float | None = None) -> dict[str, int]:
        """Drop sessions that expired more than ``STALE_AFTER`` ago and form stashes older than that.

        An expired session is kept that long so a form posted just after it expired can
        still be stashed for its user (``forms.stash_expired_form``). Returns the counts.
        """
        cutoff = {"cutoff": (time.time() if now is None else now) - STALE_AFTER}
        with self.database.transaction() as conn:
            sessions = conn.execute("DELETE FROM sessions WHERE expires_at < :cutoff", cutoff).rowcount
            stashes = conn.execute("DELETE FROM form_stash WHERE created_at < :cutoff", cutoff).rowcount
        return {"sessions": sessions, "form_stashes": stashes}

    # ---- form stash (expired session: keep what was typed) -------------------------

    def stash_form(self, user_id: int | None, path: str, data: dict[str, Any]) -> str:
        """Keep a posted form; returns the token that takes it back (``pop_form``)."""
        token = new_token()
        row = {
            "hash": token_digest(token),
            "user_id": user_id,
            "path": path.replace("\x00", ""),
            "data": json.dumps(data, ensure_ascii=False),  # a NUL typed in the form is escaped by json.dumps
            "now": time.time(),
        }
        with self.database.transaction(lock=False) as conn:  # one statement: needs no store-wide lock
            conn.execute(
                "INSERT INTO form_stash (token_hash, user_id, path, data, created_at)"
                " VALUES (:hash, :user_id, :path, :data, :now)",
                row,
            )
        return token

    def pop_form(self, token: str, user_id: int) -> tuple[str, dict[str, Any]] | None:
        """Take a stashed form back, once, only for the user who typed it."""
        with self.database.transaction() as conn:  # read then delete: two tabs cannot both take it
            row = conn.row("SELECT * FROM form_stash WHERE token_hash = :hash", {"hash": token_digest(token)})
            if row is None or row["user_id"] != user_id:
                return None
            conn.execute("DELETE FROM form_stash WHERE token_hash = :hash", {"hash": row["token_hash"]})
        return row["path"], json.loads(row["data"])


# ---- the session of a request ------------------------------------------------------


@dataclass
class SessionInfo:
    state: str  # "valid" | "expired" | "none"
    user_id: int | None = None
    csrf: str = ""


def _sessions(request: Request) -> Sessions:
    return request.app.state.store.sessions


def session_info(request: Request) -> SessionInfo:
    """Look the session cookie up once per request (cached on ``request.state``)."""
    cached = getattr(request.state, "session_info", None)
    if cached is not None:
        return cached
    info = SessionInfo("none")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sessions = _sessions(request)
        row = sessions.get(token)
        if row is not None:
            now = time.time()
            if row["expires_at"] > now:
                info = SessionInfo("valid", row["user_id"], row["csrf_token"])
                # Sliding expiry: an active user is not logged out mid-work.
                if row["expires_at"] - now < SESSION_TTL / 2:
                    sessions.extend(token, now + SESSION_TTL)
            else:
                info = SessionInfo("expired", row["user_id"], row["csrf_token"])
    request.state.session_info = info
    return info


def start_session(request: Request, response: Response, user_id: int) -> str:
    """Create a session for the user and set its cookie. Returns the new CSRF token."""
    token, csrf = _sessions(request).create(user_id, SESSION_TTL)
    secure = request.app.state.settings.cookie_secure
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")
    return csrf


def end_session(request: Request, response: Response) -> None:
    """Forget this browser's session, server-side and in the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        _sessions(request).delete(token)
    response.delete_cookie(SESSION_COOKIE, path="/")
