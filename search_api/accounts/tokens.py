"""Bearer tokens: lawyers' personal API tokens and read-only scoped tokens for monitoring systems.

Both kinds are random values shown once; only their SHA-256 digest is stored in the app
store, so a leaked database file grants no access.

* Personal tokens (``api_tokens``, ``lkb_…``) act as their user on ``/api/cases…``.
* Scoped tokens (``scoped_tokens``, ``lkbr_…``) belong to no user: a name and a set of
  scopes, created by ``labourkb token create`` for tools that read the query-log feed::

      raw = create_token(settings, "city-union-monitor", ["logs:read"])
      check_token(settings, raw, "logs:read")  # -> TokenInfo or None
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from search_api import db
from search_api.accounts.users import User, clean_text, select_users
from search_api.errors import Invalid
from search_api.settings import Settings

PERSONAL_PREFIX = "lkb_"
SCOPED_PREFIX = "lkbr_"
SCOPES = {
    "logs:read": "读取查询日志流与统计（/api/logs, /api/logs/stats）",
    "help:read": "读取求助统计和事件流，不含个人信息（/api/help/stats, /api/help/events）",
    "help:personal": "读取求助事件流，含求助人姓名、电话和经过（仅供法律援助平台等对接系统）",
}


def new_token() -> str:
    """A random secret for a session, form stash or bearer token."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The stored form of a session/API/stash token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _valid_id(n: int) -> bool:
    # Ids come from URLs; SQLite overflows (a crash, not a miss) beyond 64 bits.
    return 0 < n < 2**63


def _touch(database: db.Database, table: str, token_hash: str) -> None:
    """Note a token's use. One statement that no read depends on, so it takes no store lock:
    a bearer request never waits for other servers' writers."""
    with database.transaction(lock=False) as conn:
        conn.execute(
            f"UPDATE {table} SET last_used_at = :now WHERE token_hash = :hash",
            {"now": db.now_iso(), "hash": token_hash},
        )


# ---- personal API tokens ----------------------------------------------------------


class ApiTokens:
    """The ``api_tokens`` table of the app store."""

    def __init__(self, database: db.Database):
        self.database = database

    def create(self, user_id: int, name: str = "") -> str:
        """Issue a bearer token; the plain value is returned once and never stored."""
        token = PERSONAL_PREFIX + new_token()
        with self.database.transaction() as conn:
            conn.execute(
                "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES (:user_id, :hash, :name, :now)",
                {"user_id": user_id, "hash": token_digest(token), "name": clean_text(name)[:100], "now": db.now_iso()},
            )
        return token

    def user_for(self, token: str) -> User | None:
        """The active user a live token belongs to (and note its use), else None."""
        digest = token_digest(token)
        where = "JOIN api_tokens t ON t.user_id = u.id WHERE t.token_hash = :hash AND t.revoked = 0 AND u.active = 1"
        with self.database.connect() as conn:
            found = select_users(conn, where, {"hash": digest})
        if not found:
            return None
        _touch(self.database, "api_tokens", digest)
        return found[0][0]

    def list(self, user_id: int) -> list[Mapping[str, Any]]:
        """A user's tokens (never their values), oldest first."""
        with self.database.connect() as conn:
            return conn.rows(
                "SELECT id, name, created_at, last_used_at, revoked FROM api_tokens"
                " WHERE user_id = :user_id ORDER BY id",
                {"user_id": user_id},
            )

    def revoke(self, user_id: int, token_id: int) -> bool:
        """Revoke one of the user's tokens; False when they have no such token."""
        if not _valid_id(token_id):
            return False
        with self.database.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE id = :id AND user_id = :user_id",
                {"id": token_id, "user_id": user_id},
            )
        return cur.rowcount > 0


# ---- scoped read-only tokens --------------------------------------------------------


class TokenRefused(Invalid, ValueError):
    """A scoped token that cannot be created (bad name or scopes); also a ``ValueError``, as it always was."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: str
    last_used_at: str | None
    revoked: bool


def create_token(settings: Settings, name: str, scopes: Iterable[str]) -> str:
    """Create a scoped token and return it raw (the only time it is visible). Raises ``TokenRefused``."""
    name = clean_text(name)
    if not name or len(name) > 100:
        raise TokenRefused("令牌名称须为 1–100 个字符", {"name": "令牌名称须为 1–100 个字符"})
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if not wanted or unknown:
        message = f"未知或缺少权限范围 {unknown}；可用：{', '.join(SCOPES)}"
        raise TokenRefused(message, {"scopes": message})
    raw = SCOPED_PREFIX + new_token()
    with db.app_database(settings).transaction() as conn:
        conn.execute(
            "INSERT INTO scoped_tokens (name, token_hash, scopes, created_at) VALUES (:name, :hash, :scopes, :now)",
            {"name": name, "hash": token_digest(raw), "scopes": " ".join(wanted), "now": db.now_iso()},
        )
    return raw


def check_token(settings: Settings, raw: str | None, scope: str) -> TokenInfo | None:
    """The token's info when ``raw`` is a live token holding ``scope``; else None."""
    if not raw or not raw.startswith(SCOPED_PREFIX) or len(raw) > 200:
        return None
    digest = token_digest(raw)
    database = db.app_database(settings)
    with database.connect() as conn:
        row = conn.row("SELECT * FROM scoped_tokens WHERE token_hash = :hash", {"hash": digest})
    # compare_digest: the lookup is by hash already; this keeps the final check constant-time.
    if row is None or row["revoked"] or not hmac.compare_digest(row["token_hash"], digest):
        return None
    if scope not in row["scopes"].split():
        return None
    _touch(database, "scoped_tokens", digest)
    return _info(row)


def revoke_token(settings: Settings, token_id: int) -> bool:
    """Revoke a scoped token by id; True when it existed."""
    if not _valid_id(token_id):
        return False
    with db.app_database(settings).transaction() as conn:
        return conn.execute("UPDATE scoped_tokens SET revoked = 1 WHERE id = :id", {"id": token_id}).rowcount > 0


def list_tokens(settings: Settings) -> list[TokenInfo]:
    """All scoped tokens (never their values), oldest first."""
    with db.app_database(settings).connect() as conn:
        return [_info(r) for r in conn.rows("SELECT * FROM scoped_tokens ORDER BY id")]


def _info(row: Mapping[str, Any]) -> TokenInfo:
    return TokenInfo(
        row["id"],
        row["name"],
        tuple(row["scopes"].split()),
        row["created_at"],
        row["last_used_at"],
        bool(row["revoked"]),
    )
