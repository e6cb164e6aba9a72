"""Read-only API tokens with scopes, for monitoring systems that read the query-log feed.

Unlike lawyers' personal tokens (``store.api_tokens``) these belong to no user: a
token is a name, a set of scopes and the SHA-256 of a random value. Only the digest
is stored, in the ``scoped_tokens`` table of the app store (``Settings.store_path``);
the raw token is shown once, by the CLI that creates it.

    raw = create_token(settings, "city-union-monitor", ["logs:read"])
    check_token(settings, raw, "logs:read")  # -> TokenInfo or None
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCOPES = {
    "logs:read": "读取查询日志流与统计（/api/logs, /api/logs/stats）",
    "warnings:read": "读取预警列表",
}
PREFIX = "lkbr_"

SCHEMA = """
CREATE TABLE IF NOT EXISTS scoped_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: str
    last_used_at: str | None
    revoked: bool


def _connect(settings: Any) -> sqlite3.Connection:
    path = Path(settings.store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    return conn


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_token(settings: Any, name: str, scopes: list[str] | tuple[str, ...]) -> str:
    """Create a token and return it raw (the only time it is visible). Unknown scopes raise ValueError."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("token name must be 1–100 characters")
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise ValueError(f"unknown or missing scopes {unknown}; known: {', '.join(SCOPES)}")
    raw = PREFIX + secrets.token_urlsafe(32)
    conn = _connect(settings)
    try:
        with conn:
            conn.execute(
                "INSERT INTO scoped_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                (name, _digest(raw), " ".join(scopes), _now()),
            )
    finally:
        conn.close()
    return raw


def check_token(settings: Any, raw: str | None, scope: str) -> TokenInfo | None:
    """The token's info when ``raw`` is a live token holding ``scope``; else None."""
    if not raw or not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    digest = _digest(raw)
    conn = _connect(settings)
    try:
        row = conn.execute("SELECT * FROM scoped_tokens WHERE token_hash = ?", (digest,)).fetchone()
        # compare_digest: the lookup is by hash already; this keeps the final check constant-time.
        if row is None or row["revoked"] or not hmac.compare_digest(row["token_hash"], digest):
            return None
        if scope not in row["scopes"].split():
            return None
        with conn:
            conn.execute("UPDATE scoped_tokens SET last_used_at = ? WHERE id = ?", (_now(), row["id"]))
        return _info(row)
    finally:
        conn.close()


def revoke_token(settings: Any, token_id: int) -> bool:
    """Revoke a token by id; True when it existed."""
    conn = _connect(settings)
    try:
        with conn:
            return conn.execute("UPDATE scoped_tokens SET revoked = 1 WHERE id = ?", (token_id,)).rowcount > 0
    finally:
        conn.close()


def list_tokens(settings: Any) -> list[TokenInfo]:
    """All tokens (never their values), oldest first."""
    conn = _connect(settings)
    try:
        return [_info(r) for r in conn.execute("SELECT * FROM scoped_tokens ORDER BY id")]
    finally:
        conn.close()


def _info(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(
        row["id"],
        row["name"],
        tuple(row["scopes"].split()),
        row["created_at"],
        row["last_used_at"],
        bool(row["revoked"]),
    )
