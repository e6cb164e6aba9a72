"""Accounts: the ``users`` table, argon2 password hashes, login.

Passwords are stored only as argon2 hashes. A login always verifies one hash (a dummy one
when the name is unknown) and every refusal of a name and password reads the same, so
neither the answer nor its timing tells which names exist. Repeated failures slow down
the network they come from, for that name only (``search_api.accounts.throttle``); no
account is ever locked for everyone. The ``failed_logins`` and ``locked_until`` columns
of older stores are kept readable but no longer used.

User names are unique whatever their case (``Alice`` and ``alice`` are one account): the
column is NOCASE on SQLite and has a unique index on ``lower(username)`` on PostgreSQL, and
every lookup compares ``lower(username)``.

``authenticate`` is blocking (argon2 takes ~0.3 s of CPU): the login route runs it in the
hashing pool of ``throttle.LoginGate``, never on the event loop.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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
    def from_row(cls, row: Mapping[str, Any], districts: Iterable[str] = ()) -> User:
        return cls(
            id=row["id"],
            username=row["username"],
            role=row["role"],
            display_name=row["display_name"],
            active=bool(row["active"]),
            failed_logins=row["failed_logins"],
            locked_until=row["locked_until"],
            districts=tuple(sorted(districts)),
        )


def select_users(conn: db.Conn, where: str, params: Mapping[str, Any] | None = None) -> list[tuple[User, str]]:
    """The users of ``FROM users u <where>`` with their districts, and their password hashes.

    ``where`` may start with joins (``JOIN api_tokens t ON t.user_id = u.id WHERE …``) and end
    with an ``ORDER BY``; it is asked twice, for the users and for their districts.
    """
    rows = conn.rows(f"SELECT u.* FROM users u {where}", params)
    if not rows:
        return []
    districts: dict[int, list[str]] = {}
    for d in conn.rows(
        f"SELECT d.user_id, d.district FROM user_districts d JOIN users u ON u.id = d.user_id {where}", params
    ):
        districts.setdefault(d["user_id"], []).append(d["district"])
    return [(User.from_row(r, districts.get(r["id"], ())), r["password_hash"]) for r in rows]


def verify_password(pw_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Users:
    """The ``users`` and ``user_districts`` tables of the app store."""

    def __init__(self, database: db.Database):
        self.database = database
        self.throttle = LoginThrottle(database)

    def create(
        self, username: str, password: str, role: str, display_name: str = "", districts: Iterable[str] = ()
    ) -> User:
        """Create an account with an argon2-hashed password; ``districts``: a staff member's desks or
        a lawyer's rotas (required for staff). Raises ``Invalid`` (Chinese message)."""
        username = (username or "").strip()
        districts = sorted({name for d in districts if (name := clean_text(d))})
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
        display_name = clean_text(display_name) or username
        with self.database.transaction() as conn:
            # DO NOTHING on either uniqueness: NOCASE (SQLite) or the lower(username) index (PostgreSQL)
            user_id = conn.scalar(
                "INSERT INTO users (username, password_hash, role, display_name, created_at)"
                " VALUES (:username, :hash, :role, :display_name, :now) ON CONFLICT DO NOTHING RETURNING id",
                {
                    "username": username,
                    "hash": pw_hash,
                    "role": role,
                    "display_name": display_name,
                    "now": db.now_iso(),
                },
            )
            if user_id is None:
                raise _invalid("username", "用户名已存在")
            if districts:
                conn.execute(
                    "INSERT INTO user_districts (user_id, district) VALUES (:user_id, :district)",
                    [{"user_id": user_id, "district": d} for d in districts],
                )
        user = self.get(user_id)
        assert user is not None
        return user

    def get(self, user_id: int) -> User | None:
        with self.database.connect() as conn:
            found = select_users(conn, "WHERE u.id = :id", {"id": user_id})
        return found[0][0] if found else None

    def with_hash(self, username: str) -> tuple[User, str] | None:
        """The user and stored password hash, for login only."""
        name = (username or "").strip()
        if "\x00" in name:  # never a user name (and PostgreSQL refuses NUL in text)
            return None
        with self.database.connect() as conn:
            found = select_users(conn, "WHERE lower(u.username) = lower(:name)", {"name": name})
        return found[0] if found else None

    def list(self) -> list[User]:
        with self.database.connect() as conn:
            return [user for user, _ in select_users(conn, "ORDER BY lower(u.username), u.id")]

    def set_password_hash(self, user_id: int, pw_hash: str) -> None:
        with self.database.transaction() as conn:
            conn.execute("UPDATE users SET password_hash = :hash WHERE id = :id", {"hash": pw_hash, "id": user_id})

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


def _refused(wait: float) -> LoginError:
    if wait <= 0:
        return LoginError(LOGIN_REFUSED)
    minutes = max(1, math.ceil(wait / 60))
    return LoginError(f"{LOGIN_REFUSED}。此用户名从您所在网络登录失败的次数过多，请约 {minutes} 分钟后再试")


def clean_text(value: str) -> str:
    """Typed text as stored: trimmed, without NUL (PostgreSQL text cannot hold it)."""
    return (value or "").replace("\x00", "").strip()


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, {field: message})
