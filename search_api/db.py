"""The app's SQLite files: one way to open them, one write transaction, one timestamp format.

Every table the app owns (accounts, cases, tokens, query log, warnings, webhooks) lives in
files under the data directory and is opened here, so each connection gets the same
settings: WAL (readers never block the writer), a 30 s busy timeout, foreign keys on,
rows addressable by column name, and autocommit unless a ``transaction`` is open.

Stored timestamps are UTC text in one fixed-width format (``2026-11-29T21:30:05.123Z``),
which sorts as text and parses with ``datetime.fromisoformat``. Expiry deadlines that are
only compared with the clock (sessions, form stashes, login delays) are epoch seconds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30


def open_db(path: Path | str, schema: str = "") -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` (created with ``schema`` on first use)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    if schema:
        conn.executescript(schema)
    return conn


@contextmanager
def connect(path: Path | str, schema: str = "") -> Iterator[sqlite3.Connection]:
    """``open_db`` for the length of a ``with`` block."""
    conn = open_db(path, schema)
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
    """One cheap scalar query (a version counter) asked before each use, from many threads, on one
    long-lived connection opened at the first ask: cheaper than opening a connection per search."""

    def __init__(self, path: Path | str, sql: str):
        self.path, self.sql = Path(path), sql
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            if self._conn is None:
                self._conn = open_db(self.path)
            return int(self._conn.execute(self.sql).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


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
