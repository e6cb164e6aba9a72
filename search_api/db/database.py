"""The app store on SQLite files or one PostgreSQL database, through one code path.

Two stores hold what the app writes: ``app`` (accounts, sessions, tokens, cases, help
requests, the employer list, search additions) and ``querylog`` (searches, clicks, warnings,
webhook and weekly deliveries). With ``LABOURKB_DATABASE_URL`` unset each is a SQLite file in
the data directory (``app.sqlite3``, ``querylog.sqlite3``); with a ``postgresql://`` URL both
live in that one database, shared by every app server.

Every module reaches its tables through a :class:`Database`: ``connect()`` for reads,
``transaction()`` for writes. Both yield a :class:`Conn`, which runs SQL written once with
named parameters (``WHERE id = :id``) on either database (SQLAlchemy Core's ``text()``), and
gives rows addressable by column name. The schema is created and upgraded by Alembic
(``search_api/db/migrations``), one branch per store, when a ``Database`` is first opened.

Write transactions keep the guarantee the SQLite code was written against: one writer at a
time per store. SQLite takes its write lock up front (``BEGIN IMMEDIATE``), its writers having
first taken their turn on a lock file beside it (``db.turns``: no sleeping in SQLite's busy
handler while another process writes); PostgreSQL takes a
transaction-scoped advisory lock per store, so read-modify-write sequences (next reference
number, next version) stay correct across app servers. Appends that need no ordering (the
query log's records) pass ``lock=False`` and run concurrently on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Engine, RowMapping, make_url

from search_api.db.turns import writer_turn

if TYPE_CHECKING:
    from search_api.settings import Settings

STORES = ("app", "querylog")
BUSY_TIMEOUT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 5
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_WRITE = "labourkb_write"
MIGRATION_LOCK = zlib.crc32(b"labourkb:migrations")  # advisory lock id shared by both stores' migrations

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


@lru_cache(maxsize=2048)
def _text(sql: str) -> sa.TextClause:
    return sa.text(sql)


class Conn:
    """A connection inside ``Database.connect()`` or ``Database.transaction()``.

    SQL uses named parameters (``:name``); a list of mappings as ``params`` runs the statement
    once per mapping (executemany). Rows are read-only mappings: ``row["column"]``.
    """

    __slots__ = ("dialect", "sa")

    def __init__(self, conn: Connection):
        self.sa = conn
        self.dialect: str = conn.dialect.name  # 'sqlite' | 'postgresql'

    def execute(self, sql: str, params: Params = None) -> CursorResult:
        return self.sa.execute(_text(sql), params if params is not None else {})

    def rows(self, sql: str, params: Params = None) -> list[RowMapping]:
        return list(self.execute(sql, params).mappings())

    def row(self, sql: str, params: Params = None) -> RowMapping | None:
        return self.execute(sql, params).mappings().first()

    def scalar(self, sql: str, params: Params = None) -> Any:
        return self.execute(sql, params).scalar()

    def column(self, sql: str, params: Params = None) -> list[Any]:
        """The first column of every row."""
        return list(self.execute(sql, params).scalars())


class Database:
    """One store (``app`` or ``querylog``) at a SQLAlchemy URL, its schema at Alembic's head.

    Build them with :func:`app_database` / :func:`log_database`, which share one engine (one
    pool) per URL within a process.
    """

    def __init__(self, engine: Engine, store: str):
        if store not in STORES:
            raise ValueError(f"unknown store {store!r}")
        self.engine = engine
        self.store = store
        self.dialect: str = engine.dialect.name
        self._lock_key = zlib.crc32(f"labourkb:{store}".encode())  # advisory lock id (PostgreSQL)
        file = engine.url.database if self.dialect == "sqlite" else None
        self._turns = Path(f"{file}.writers") if file and file != ":memory:" else None  # db.turns
        self.migrate()

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def connect(self) -> Iterator[Conn]:
        """A connection for reading (one snapshot for the block; nothing is committed)."""
        with self.engine.connect() as conn:
            yield Conn(conn)

    @contextmanager
    def transaction(self, lock: bool = True) -> Iterator[Conn]:
        """A write transaction: everything inside commits together or not at all.

        ``lock`` (default) serialises it with the store's other locking writers, on every app
        server; ``lock=False`` is for independent appends (SQLite serialises writers anyway).
        """
        with self._locked(self._lock_key if lock else None) as conn:
            yield conn

    @contextmanager
    def _locked(self, key: int | None) -> Iterator[Conn]:
        with self._writer_turn(), self.engine.connect() as raw:
            conn = raw.execution_options(**{_WRITE: True})
            with conn.begin():
                if key is not None and self.is_postgresql:
                    conn.execute(_text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                yield Conn(conn)

    def _writer_turn(self):
        """SQLite: this process's turn among the file's writers (db.turns); PostgreSQL: nothing."""
        return writer_turn(self._turns, BUSY_TIMEOUT_SECONDS) if self._turns else nullcontext()

    def migrate(self) -> None:
        """Bring this store's tables to the newest schema (Alembic ``<store>@head``).

        Run under one migration lock for both stores (on PostgreSQL they share ``alembic_version``),
        so app servers and commands starting together migrate once, one store at a time.
        """
        from search_api.db import migrate

        if migrate.current(self) == migrate.head(self.store):
            return
        with self._locked(MIGRATION_LOCK) as conn:
            migrate.upgrade(conn.sa, self.store)

    def dispose(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------- engines, one per URL


def wal_mode(dbapi_conn: Any) -> None:
    """Switch the file to WAL. On a new file several processes switch at once (``serve --workers``):
    the switch needs the exclusive lock, and SQLite answers "database is locked" at once, without
    waiting out the busy timeout, to the one that would deadlock with another. Try again shortly,
    within the busy timeout (a clone's test run failed that way once: tests/store/test_database.py)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(path: Path) -> Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        pool_size=4,
        max_overflow=60,
    )

    # SQLAlchemy's documented recipe for SQLite transactions: the driver's own transaction
    # handling is off, and BEGIN is emitted here (IMMEDIATE for writes: the write lock is taken
    # up front, so two writers queue on the busy timeout instead of failing half-way).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        wal_mode(dbapi_conn)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def postgresql_url(url: str) -> sa.URL:
    """``postgresql://…`` as given by people, with SQLAlchemy's psycopg 3 driver named."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("LABOURKB_DATABASE_URL 须为 postgresql:// 开头的 PostgreSQL 地址")
    return parsed.set(drivername="postgresql+psycopg")


def _postgresql_engine(url: str) -> Engine:
    return sa.create_engine(
        postgresql_url(url),
        pool_size=5,
        max_overflow=20,
        pool_pre_ping=True,  # a restarted server costs one retry, not a failed request
        pool_recycle=1800,
        # an unreachable server fails fast (the query log then spools) instead of after the OS's minutes
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


_ENGINES: OrderedDict[str, Engine] = OrderedDict()
_DATABASES: dict[tuple[str, str], Database] = {}
_LOCK = threading.RLock()
MAX_ENGINES = 16  # tests open many data directories; the least recently used pools are closed


def open_database(url_or_path: str | Path, store: str) -> Database:
    """The :class:`Database` for ``store`` at a ``postgresql://`` URL or a SQLite file path."""
    key = str(url_or_path)
    with _LOCK:
        found = _DATABASES.get((key, store))
        if found is not None:
            _ENGINES.move_to_end(key)
            return found
        engine = _ENGINES.get(key)
        if engine is None:
            is_pg = isinstance(url_or_path, str) and url_or_path.startswith("postgres")
            engine = _postgresql_engine(key) if is_pg else _sqlite_engine(Path(url_or_path))
            _ENGINES[key] = engine
            while len(_ENGINES) > MAX_ENGINES:  # disposing only closes idle pooled connections
                old_key, old = _ENGINES.popitem(last=False)
                old.dispose()
                for k in [k for k in _DATABASES if k[0] == old_key]:
                    del _DATABASES[k]
        database = Database(engine, store)
        _DATABASES[(key, store)] = database
        return database


def app_database(settings: Settings) -> Database:
    """Accounts, sessions, tokens, cases, help requests, employer list, search additions."""
    return open_database(settings.database_url or settings.store_path, "app")


def log_database(settings: Settings) -> Database:
    """The query log, its warnings and their deliveries."""
    return open_database(settings.database_url or settings.querylog_path, "querylog")


def dispose_all() -> None:
    """Close every pool (tests, and the CLI before it exits)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
        _DATABASES.clear()
