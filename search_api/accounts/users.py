"""Accounts: the ``users`` table, argon2 password hashes, login with lockout.

Passwords are stored only as argon2 hashes. After ``LOCK_AFTER`` failed logins an account
is locked with a doubling back-off (``locked_until``, epoch seconds), and a user name that
does not exist costs as much time as a wrong password, so timing reveals no names.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from search_api import db
from search_api.errors import BadRequest, Invalid

ROLES = ("lawyer", "reviewer", "admin")
PASSWORD_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 10
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
LOCK_AFTER = 5
LOCK_BASE_SECONDS = 60.0
LOCK_MAX_SECONDS = 3600.0

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
"""

# Verified against when the user name is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = PASSWORD_HASHER.hash(secrets.token_hex(16))


class LoginError(BadRequest):
    """Login refused; ``message`` is the Chinese text the login form shows."""


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


def verify_password(pw_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Users:
    """The ``users`` table of the app store at ``path``."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        with db.connect(self.path, SCHEMA):
            pass

    def create(self, username: str, password: str, role: str, display_name: str = "") -> User:
        """Create an account with an argon2-hashed password. Raises ``Invalid`` (Chinese message)."""
        username = (username or "").strip()
        if not USERNAME_RE.match(username):
            raise _invalid("username", "用户名须为 3–32 个字母、数字或 _ . -")
        if role not in ROLES:
            raise _invalid("role", f"角色须为 {'、'.join(ROLES)} 之一")
        if len(password or "") < MIN_PASSWORD_CHARS:
            raise _invalid("password", f"密码至少 {MIN_PASSWORD_CHARS} 个字符")
        pw_hash = PASSWORD_HASHER.hash(password)
        try:
            with db.connect(self.path) as conn:
                cur = conn.execute(
                    "INSERT INTO users (username, password_hash, role, display_name, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (username, pw_hash, role, display_name.strip() or username, db.now_iso()),
                )
        except sqlite3.IntegrityError:
            raise _invalid("username", "用户名已存在") from None
        user = self.get(cur.lastrowid)
        assert user is not None
        return user

    def get(self, user_id: int) -> User | None:
        with db.connect(self.path) as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return User.from_row(row) if row else None

    def with_hash(self, username: str) -> tuple[User, str] | None:
        """The user and stored password hash, for login only."""
        with db.connect(self.path) as conn:
            row = conn.execute("SELECT * FROM users WHERE username = ?", ((username or "").strip(),)).fetchone()
        return (User.from_row(row), row["password_hash"]) if row else None

    def list(self) -> list[User]:
        with db.connect(self.path) as conn:
            rows = conn.execute("SELECT * FROM users ORDER BY username").fetchall()
        return [User.from_row(r) for r in rows]

    def set_password_hash(self, user_id: int, pw_hash: str) -> None:
        with db.connect(self.path) as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (pw_hash, user_id))

    # ---- login and lockout ------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        """Check a user name and password, applying lockout. Raises ``LoginError``."""
        found = self.with_hash(username)
        if found is None:
            verify_password(_DUMMY_HASH, password or "")
            raise LoginError("用户名或密码错误")
        user, pw_hash = found
        now = time.time()
        if user.locked_until > now:
            minutes = max(1, round((user.locked_until - now) / 60))
            raise LoginError(f"登录失败次数过多，账户已暂时锁定，请约 {minutes} 分钟后再试")
        if not verify_password(pw_hash, password or "") or not user.active:
            if self.record_login_failure(user.id, LOCK_AFTER, LOCK_BASE_SECONDS, LOCK_MAX_SECONDS):
                raise LoginError("登录失败次数过多，账户已暂时锁定，请稍后再试")
            raise LoginError("用户名或密码错误")
        self.record_login_success(user.id)
        if PASSWORD_HASHER.check_needs_rehash(pw_hash):
            self.set_password_hash(user.id, PASSWORD_HASHER.hash(password))
        return user

    def record_login_failure(self, user_id: int, lock_after: int, base_seconds: float, max_seconds: float) -> float:
        """Count a failed login; from the ``lock_after``-th failure on, lock with doubling back-off.

        Returns the new ``locked_until`` (0 when not locked).
        """
        with db.connect(self.path) as conn, db.transaction(conn):
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
        with db.connect(self.path) as conn:
            conn.execute("UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?", (user_id,))


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, {field: message})
