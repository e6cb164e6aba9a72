"""Databases: the app store (:mod:`search_api.db.database`), local SQLite files, timestamps.

The app's own tables (accounts, cases, tokens, help requests, query log, warnings, webhooks)
are reached through :class:`Database` (SQLite files in the data directory, or one PostgreSQL
database: ``LABOURKB_DATABASE_URL``). Local files that are never shared between servers (the
SQLite search index, the vector cache) use ``open_db`` / ``connect`` / ``transaction`` here:
WAL (readers never block the writer), a 30 s busy timeout, foreign keys on, rows addressable
by column name, and autocommit unless a ``transaction`` is open.

Stored timestamps are UTC text in one fixed-width format (``2026-11-29T21:30:05.123Z``),
which sorts as text and parses with ``datetime.fromisoformat``. Expiry deadlines that are
only compared with the clock (sessions, form stashes, login delays) are epoch seconds.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc

from search_api.db.database import (
    BUSY_TIMEOUT_SECONDS,
    Conn,
    Database,
    app_database,
    dispose_all,
    log_database,
    open_database,
    wal_mode,
)

log = logging.getLogger(__name__)

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "Conn",
    "Database",
    "ScalarProbe",
    "app_database",
    "backup",
    "connect",
    "dispose_all",
    "iso",
    "log_database",
    "now_iso",
    "open_database",
    "open_db",
    "parse_iso",
    "transaction",
    "utc_now",
]


def open_db(path: Path | str) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` (created on first use)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    wal_mode(conn)  # several processes may open a new file at once
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def connect(path: Path | str) -> Iterator[sqlite3.Connection]:
    """``open_db`` for the length of a ``with`` block."""
    conn = open_db(path)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on ``conn``: everything inside commits together or not at all.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so two writers queue on the busy
    timeout instead of failing half-way with "database is locked".
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class ScalarProbe:
    """One cheap scalar query (a version counter) asked before each use, from many threads,
    so an edit made on any app server is seen at the next one.

    On PostgreSQL each ask takes a pooled connection. On a SQLite file each thread keeps its own
    plain ``sqlite3`` connection and asks it directly: the pooled SQLAlchemy path (check-out,
    ``BEGIN``, the query, the rollback) cost ~0.7 ms an ask, two asks a search — 10 % of a warm
    ``/api/search`` — against ~20 µs. A SQLite read outside a transaction sees every commit made
    before it, from any connection or process, so nothing is seen later than before.
    """

    def __init__(self, database: Database, sql: str):
        self.database, self.sql = database, sql
        self._last = 0
        self._failing = False
        self._path = None if database.is_postgresql else database.engine.url.database
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []

    def __call__(self) -> int:
        """The value now; while the store cannot be reached, the last one read (searches go on)."""
        try:
            self._last = self._ask()
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sqlite3.Error) as exc:
            if not self._failing:
                log.warning(
                    "app store unavailable (%s): using version %d until it answers", type(exc).__name__, self._last
                )
            self._failing = True
            return self._last
        if self._failing:
            log.warning("app store answers again")
            self._failing = False
        return self._last

    def _ask(self) -> int:
        if self._path is None:
            with self.database.connect() as conn:
                return int(conn.scalar(self.sql))
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return int(conn.execute(self.sql).fetchone()[0])

    def close(self) -> None:
        """The threads' SQLite connections closed (on PostgreSQL nothing is held between asks)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """The stored form of a timestamp: fixed-width UTC ISO 8601 with milliseconds."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def now_iso() -> str:
    """``iso(utc_now())``: the timestamp to store for "now"."""
    return iso(utc_now())


def parse_iso(text: str) -> datetime:
    """A stored timestamp (this format, or an older ``+00:00`` one) as an aware UTC datetime."""
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def backup(src_path: Path | str, dest_path: Path | str) -> Path:
    """A consistent copy of the SQLite file at ``src_path``, taken while the site keeps running.

    SQLite's online backup API copies page by page, so writers are not blocked for long and
    the copy is never torn. An existing file at ``dest_path`` is replaced atomically.
    """
    dest = Path(dest_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    with connect(src_path) as src:
        target = sqlite3.connect(tmp)
        try:
            src.backup(target, pages=256)
        finally:
            target.close()
    tmp.replace(dest)
    return dest
