"""The app's own SQLite store: accounts, sessions, API tokens, lawyers' cases and their versions.

This file (``Settings.store_path``, WAL mode) is the source of truth for everything
users create; the search index is rebuilt from the corpus plus this store. Other
modules (the query log) may keep their own tables in the same file.

Each operation opens its own short-lived connection, so the store is safe to use
from FastAPI's thread pool. Writes that must not be half-done run inside
``Store.transaction()`` (``BEGIN IMMEDIATE`` … ``COMMIT``).

Secrets are never stored in the clear: passwords as argon2 hashes, session and API
tokens as SHA-256 digests of random values (a leaked database file grants no login).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

ROLES = ("lawyer", "reviewer", "admin")
CASE_STATES = ("draft", "submitted", "returned", "published", "withdrawn")

PASSWORD_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 10
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('lawyer', 'reviewer', 'admin')),
    display_name TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS form_stash (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER,
    path TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users(id),
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'returned', 'published', 'withdrawn')),
    current_version INTEGER NOT NULL,
    published_version INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX IF NOT EXISTS cases_state ON cases(state);
CREATE INDEX IF NOT EXISTS cases_author ON cases(author_id);
CREATE TABLE IF NOT EXISTS case_versions (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    data TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (case_id, number)
);
CREATE TABLE IF NOT EXISTS case_events (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
"""


class StoreError(ValueError):
    """A request the store refuses (duplicate user, bad role …); ``message`` is shown to users."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class User:
    id: int
    username: str
    role: str
    display_name: str = ""
    active: bool = True
    failed_logins: int = 0
    locked_until: float = 0.0

    @property
    def is_reviewer(self) -> bool:
        return self.role in ("reviewer", "admin")

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> User:
        return cls(
            id=row["id"],
            username=row["username"],
            role=row["role"],
            display_name=row["display_name"],
            active=bool(row["active"]),
            failed_logins=row["failed_logins"],
            locked_until=row["locked_until"],
        )


@dataclass
class CaseVersion:
    """One saved state of a case's fields (``data``) with its detected citations."""

    case_id: int
    number: int
    author_id: int
    author: str
    created_at: str
    data: dict[str, Any]
    citations: list[dict[str, Any]]


@dataclass
class CaseRecord:
    """A case's workflow row; ``current`` is its newest version."""

    id: int
    author_id: int
    author: str
    state: str
    current_version: int
    published_version: int | None
    created_at: str
    updated_at: str
    published_at: str | None
    current: CaseVersion | None = None

    @property
    def doc_id(self) -> str:
        return f"lawyer-case-{self.id}"


def _valid_id(n: int) -> bool:
    # Ids come from URLs; SQLite overflows (a crash, not a miss) beyond 64 bits.
    return 0 < n < 2**63


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def token_digest(token: str) -> str:
    """The stored form of a session/API/stash token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Store:
    """Access to ``app.sqlite3``. Create one per app (cheap; connections are per call)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---- users -------------------------------------------------------------

    def create_user(self, username: str, password: str, role: str, display_name: str = "") -> User:
        """Create an account with an argon2-hashed password. Raises ``StoreError`` (Chinese message)."""
        username = (username or "").strip()
        if not USERNAME_RE.match(username):
            raise StoreError("用户名须为 3–32 个字母、数字或 _ . -")
        if role not in ROLES:
            raise StoreError(f"角色须为 {'、'.join(ROLES)} 之一")
        if len(password or "") < MIN_PASSWORD_CHARS:
            raise StoreError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符")
        pw_hash = PASSWORD_HASHER.hash(password)
        try:
            with self.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO users (username, password_hash, role, display_name, created_at) VALUES (?, ?, ?, ?, ?)",
                    (username, pw_hash, role, display_name.strip() or username, now_iso()),
                )
        except sqlite3.IntegrityError:
            raise StoreError("用户名已存在") from None
        user = self.get_user(cur.lastrowid)
        assert user is not None
        return user

    def get_user(self, user_id: int) -> User | None:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return User.from_row(row) if row else None

    def user_with_hash(self, username: str) -> tuple[User, str] | None:
        """The user and stored password hash, for login only."""
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM users WHERE username = ?", ((username or "").strip(),)).fetchone()
        return (User.from_row(row), row["password_hash"]) if row else None

    def list_users(self) -> list[User]:
        with self.connect() as conn:
            rows = conn.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [User.from_row(r) for r in rows]

    def set_password_hash(self, user_id: int, pw_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (pw_hash, user_id))

    def record_login_failure(self, user_id: int, lock_after: int, base_seconds: float, max_seconds: float) -> float:
        """Count a failed login; from the ``lock_after``-th failure on, lock with doubling back-off.

        Returns the new ``locked_until`` (0 when not locked).
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT failed_logins FROM users WHERE id = ?", (user_id,)).fetchone()
            failures = (row["failed_logins"] if row else 0) + 1
            locked_until = 0.0
            if failures >= lock_after:
                delay = min(max_seconds, base_seconds * 2 ** (failures - lock_after))
                locked_until = time.time() + delay
            conn.execute(
                "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?", (failures, locked_until, user_id)
            )
        return locked_until

    def record_login_success(self, user_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?", (user_id,))

    # ---- sessions ----------------------------------------------------------

    def create_session(self, user_id: int, ttl_seconds: float) -> tuple[str, str]:
        """Start a session; returns ``(cookie_token, csrf_token)``. Only the token's digest is stored."""
        token, csrf = new_token(), new_token()
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (token_digest(token), user_id, csrf, now, now + ttl_seconds),
            )
        return token, csrf

    def get_session(self, token: str) -> sqlite3.Row | None:
        """The session row for a cookie token, expired or not (callers check ``expires_at``)."""
        with self.connect() as conn:
            return conn.execute("SELECT * FROM sessions WHERE token_hash = ?", (token_digest(token),)).fetchone()

    def extend_session(self, token: str, expires_at: float) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sessions SET expires_at = ? WHERE token_hash = ?", (expires_at, token_digest(token)))

    def delete_session(self, token: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_digest(token),))

    def purge_sessions(self, older_than: float) -> int:
        """Drop sessions that expired before ``older_than`` (epoch seconds) and old form stashes."""
        with self.transaction() as conn:
            n = conn.execute("DELETE FROM sessions WHERE expires_at < ?", (older_than,)).rowcount
            conn.execute("DELETE FROM form_stash WHERE created_at < ?", (older_than,))
        return n

    # ---- form stash (expired session: keep what was typed) -------------------

    def stash_form(self, user_id: int | None, path: str, data: dict[str, Any]) -> str:
        token = new_token()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO form_stash (token_hash, user_id, path, data, created_at) VALUES (?, ?, ?, ?, ?)",
                (token_digest(token), user_id, path, json.dumps(data, ensure_ascii=False), time.time()),
            )
        return token

    def pop_form(self, token: str, user_id: int) -> tuple[str, dict[str, Any]] | None:
        """Take a stashed form back, once, only for the user who typed it."""
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM form_stash WHERE token_hash = ?", (token_digest(token),)).fetchone()
            if row is None or row["user_id"] != user_id:
                return None
            conn.execute("DELETE FROM form_stash WHERE token_hash = ?", (row["token_hash"],))
        return row["path"], json.loads(row["data"])

    # ---- API tokens ----------------------------------------------------------

    def create_api_token(self, user_id: int, name: str = "") -> str:
        """Issue a bearer token; the plain value is returned once and never stored."""
        token = "lkb_" + new_token()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES (?, ?, ?, ?)",
                (user_id, token_digest(token), name.strip()[:100], now_iso()),
            )
        return token

    def user_for_api_token(self, token: str) -> User | None:
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id"
                " WHERE t.token_hash = ? AND t.revoked = 0 AND u.active = 1",
                (token_digest(token),),
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now_iso(), row["token_id"]))
        return User.from_row(row)

    def list_api_tokens(self, user_id: int) -> list[sqlite3.Row]:
        with self.connect() as conn:
            return conn.execute(
                "SELECT id, name, created_at, last_used_at, revoked FROM api_tokens WHERE user_id = ? ORDER BY id",
                (user_id,),
            ).fetchall()

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        if not _valid_id(token_id):
            return False
        with self.transaction() as conn:
            cur = conn.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ?", (token_id, user_id))
        return cur.rowcount > 0

    # ---- cases (low level; workflow rules live in search_api.cases.workflow) ----------

    def insert_version(
        self, conn: sqlite3.Connection, case_id: int, number: int, author_id: int, data: dict, citations: list
    ) -> None:
        conn.execute(
            "INSERT INTO case_versions (case_id, number, author_id, created_at, data, citations) VALUES (?, ?, ?, ?, ?, ?)",
            (
                case_id,
                number,
                author_id,
                now_iso(),
                json.dumps(data, ensure_ascii=False),
                json.dumps(citations, ensure_ascii=False),
            ),
        )

    def add_event(
        self, conn: sqlite3.Connection, case_id: int, version: int, user_id: int, action: str, comment: str = ""
    ) -> None:
        conn.execute(
            "INSERT INTO case_events (case_id, version, user_id, action, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, version, user_id, action, comment, now_iso()),
        )

    def get_case(self, case_id: int, conn: sqlite3.Connection | None = None) -> CaseRecord | None:
        """The case with its current version, or None."""
        if not _valid_id(case_id):
            return None
        if conn is None:
            with self.connect() as own:
                return self.get_case(case_id, own)
        row = conn.execute(
            "SELECT c.*, u.username AS author FROM cases c JOIN users u ON u.id = c.author_id WHERE c.id = ?",
            (case_id,),
        ).fetchone()
        if row is None:
            return None
        record = _case_from_row(row)
        record.current = self.get_version(case_id, record.current_version, conn)
        return record

    def get_version(self, case_id: int, number: int, conn: sqlite3.Connection | None = None) -> CaseVersion | None:
        if not (_valid_id(case_id) and _valid_id(number)):
            return None
        if conn is None:
            with self.connect() as own:
                return self.get_version(case_id, number, own)
        row = conn.execute(
            "SELECT v.*, u.username AS author FROM case_versions v JOIN users u ON u.id = v.author_id"
            " WHERE v.case_id = ? AND v.number = ?",
            (case_id, number),
        ).fetchone()
        return _version_from_row(row) if row else None

    def list_versions(self, case_id: int) -> list[CaseVersion]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT v.*, u.username AS author FROM case_versions v JOIN users u ON u.id = v.author_id"
                " WHERE v.case_id = ? ORDER BY v.number",
                (case_id,),
            ).fetchall()
        return [_version_from_row(r) for r in rows]

    def list_events(self, case_id: int) -> list[sqlite3.Row]:
        with self.connect() as conn:
            return conn.execute(
                "SELECT e.*, u.username AS user FROM case_events e JOIN users u ON u.id = e.user_id"
                " WHERE e.case_id = ? ORDER BY e.id",
                (case_id,),
            ).fetchall()

    def list_cases(self, *, author_id: int | None = None, states: tuple[str, ...] = ()) -> list[CaseRecord]:
        """Cases (with current versions), newest first, optionally by author and states."""
        sql = "SELECT c.*, u.username AS author FROM cases c JOIN users u ON u.id = c.author_id WHERE 1=1"
        args: list[Any] = []
        if author_id is not None:
            sql += " AND c.author_id = ?"
            args.append(author_id)
        if states:
            sql += f" AND c.state IN ({','.join('?' * len(states))})"
            args.extend(states)
        sql += " ORDER BY c.updated_at DESC, c.id DESC"
        with self.connect() as conn:
            records = [_case_from_row(r) for r in conn.execute(sql, args).fetchall()]
            for record in records:
                record.current = self.get_version(record.id, record.current_version, conn)
        return records

    # ---- backup --------------------------------------------------------------

    def backup(self, dest_path: Path | str) -> Path:
        """Write a consistent copy of the whole store to ``dest_path`` while the site keeps running.

        Uses SQLite's online backup API, so concurrent writers neither block for long
        nor leave a torn copy. An existing file at ``dest_path`` is replaced.
        """
        dest = Path(dest_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        tmp.unlink(missing_ok=True)
        with self.connect() as src:
            target = sqlite3.connect(tmp)
            try:
                src.backup(target, pages=256)
            finally:
                target.close()
        tmp.replace(dest)
        return dest


def _case_from_row(row: sqlite3.Row) -> CaseRecord:
    return CaseRecord(
        id=row["id"],
        author_id=row["author_id"],
        author=row["author"],
        state=row["state"],
        current_version=row["current_version"],
        published_version=row["published_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        published_at=row["published_at"],
    )


def _version_from_row(row: sqlite3.Row) -> CaseVersion:
    return CaseVersion(
        case_id=row["case_id"],
        number=row["number"],
        author_id=row["author_id"],
        author=row["author"],
        created_at=row["created_at"],
        data=json.loads(row["data"]),
        citations=json.loads(row["citations"]),
    )


def open_store(settings: Any) -> Store:
    """The store at ``settings.store_path`` (schema created on first use)."""
    return Store(settings.store_path)


def backup(store_path: Path | str, dest_path: Path | str) -> Path:
    """CLI helper: consistent online copy of the store at ``store_path``."""
    return Store(store_path).backup(dest_path)
