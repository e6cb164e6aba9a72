"""Accounts: the ``users`` table, argon2 password hashes, login.

Passwords are stored only as argon2 hashes. A login always verifies one hash (a dummy one
when the name is unknown) and every refusal of a name and password reads the same, so
neither the answer nor its timing tells which names exist. Repeated failures slow down
the network they come from, for that name only (``search_api.accounts.throttle``); no
account is ever locked for everyone. The ``failed_logins`` and ``locked_until`` columns
of older stores are kept readable but no longer used.

``authenticate`` is blocking (argon2 takes ~0.3 s of CPU): the login route runs it in the
hashing pool of ``throttle.LoginGate``, never on the event loop.
"""

from __future__ import annotations

import math
import re
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from search_api import db
from search_api.accounts.throttle import LoginThrottle
from search_api.errors import BadRequest, Invalid

ROLES = ("lawyer", "reviewer", "admin", "staff")
PASSWORD_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 10
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
LOGIN_REFUSED = "用户名或密码错误"

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('lawyer', 'reviewer', 'admin', 'staff')),
    display_name TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,  -- unused since login throttling (kept for old stores)
    locked_until REAL NOT NULL DEFAULT 0,      -- unused since login throttling (kept for old stores)
    created_at TEXT NOT NULL
);
-- the districts a staff member answers help requests for, or a lawyer is on the rota of
CREATE TABLE IF NOT EXISTS user_districts (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    district TEXT NOT NULL,
    PRIMARY KEY (user_id, district)
);
"""
# A user row with their districts (comma-joined, NULL when none).
_SELECT = (
    "SELECT u.*, (SELECT group_concat(d.district, ',') FROM user_districts d WHERE d.user_id = u.id) AS districts"
    " FROM users u"
)

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
    districts: tuple[str, ...] = ()

    @property
    def is_reviewer(self) -> bool:
        return self.role in ("reviewer", "admin")

    @property
    def is_staff(self) -> bool:
        """Works the help desk: district staff, and admins (every district)."""
        return self.role in ("staff", "admin")

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
            districts=tuple(sorted((row["districts"] or "").split(",")))
            if _has(row, "districts") and row["districts"]
            else (),
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
        with db.connect(self.path) as conn:
            _allow_new_roles(conn)
            conn.executescript(SCHEMA)
        self.throttle = LoginThrottle(self.path)

    def create(
        self, username: str, password: str, role: str, display_name: str = "", districts: Iterable[str] = ()
    ) -> User:
        """Create an account with an argon2-hashed password; ``districts``: a staff member's desks or
        a lawyer's rotas (required for staff). Raises ``Invalid`` (Chinese message)."""
        username = (username or "").strip()
        districts = sorted({d.strip() for d in districts if d.strip()})
        if role == "staff" and not districts:
            raise _invalid("districts", "区县工作人员须指定至少一个区（--district）")
        if districts and role not in ("staff", "lawyer"):
            raise _invalid("districts", "只有区县工作人员和律师可以绑定区")
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
                conn.executemany(
                    "INSERT INTO user_districts (user_id, district) VALUES (?, ?)",
                    [(cur.lastrowid, d) for d in districts],
                )
        except sqlite3.IntegrityError:
            raise _invalid("username", "用户名已存在") from None
        user = self.get(cur.lastrowid)
        assert user is not None
        return user

    def get(self, user_id: int) -> User | None:
        with db.connect(self.path) as conn:
            row = conn.execute(_SELECT + " WHERE u.id = ?", (user_id,)).fetchone()
        return User.from_row(row) if row else None

    def with_hash(self, username: str) -> tuple[User, str] | None:
        """The user and stored password hash, for login only."""
        with db.connect(self.path) as conn:
            row = conn.execute(_SELECT + " WHERE u.username = ?", ((username or "").strip(),)).fetchone()
        return (User.from_row(row), row["password_hash"]) if row else None

    def list(self) -> list[User]:
        with db.connect(self.path) as conn:
            rows = conn.execute(_SELECT + " ORDER BY u.username").fetchall()
        return [User.from_row(r) for r in rows]

    def set_password_hash(self, user_id: int, pw_hash: str) -> None:
        with db.connect(self.path) as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (pw_hash, user_id))

    # ---- login ------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, network: str = "local") -> User:
        """Check a user name and password typed from ``network`` (``throttle.client_network``).

        Raises ``LoginError``. Blocking: one argon2 verification whatever the outcome, so an
        unknown name, a wrong password, an inactive account and a delayed attempt all take
        the same time, and they answer the same words (a delay adds when to try again, and
        it applies to unknown names just the same).
        """
        found = self.with_hash(username)
        wait = self.throttle.wait(username, network)
        ok = verify_password(found[1] if found else _DUMMY_HASH, password or "")
        if wait > 0:
            raise _refused(wait)
        if found is None or not ok or not found[0].active:
            raise _refused(self.throttle.failed(username, network))
        user, pw_hash = found
        self.throttle.succeeded(username, network)
        if PASSWORD_HASHER.check_needs_rehash(pw_hash):
            self.set_password_hash(user.id, PASSWORD_HASHER.hash(password))
        return user


def _has(row: sqlite3.Row, column: str) -> bool:
    return column in row.keys()  # noqa: SIM118 (a Row iterates its values, not its keys)


def _allow_new_roles(conn: sqlite3.Connection) -> None:
    """Stores made before the ``staff`` role have a CHECK that refuses it; SQLite cannot alter a
    CHECK, so the table is rebuilt with today's definition (rows, ids and references kept)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'").fetchone()
    if row is None or "'staff'" in row["sql"]:
        return
    table = SCHEMA.split("-- the districts")[0].replace("IF NOT EXISTS users", "users_with_staff").strip()
    # SQLite's recipe: build the new table, copy, drop the old, rename the new one into place
    # (renaming the old one away would rewrite the other tables' references to follow it).
    conn.execute("PRAGMA foreign_keys=OFF")  # the rebuild must not cascade into tokens, sessions, cases
    try:
        with db.transaction(conn):
            conn.execute(table.rstrip(";"))
            conn.execute("INSERT INTO users_with_staff SELECT * FROM users")
            conn.execute("DROP TABLE users")
            conn.execute("ALTER TABLE users_with_staff RENAME TO users")
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


def _refused(wait: float) -> LoginError:
    if wait <= 0:
        return LoginError(LOGIN_REFUSED)
    minutes = max(1, math.ceil(wait / 60))
    return LoginError(f"{LOGIN_REFUSED}。此用户名从您所在网络登录失败的次数过多，请约 {minutes} 分钟后再试")


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, {field: message})
