"""SQLite writers of one file take turns through a lock file (search_api/db/turns.py) instead of
sleeping in SQLite's busy handler; a turn never outwaits SQLite's own busy timeout."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy.exc import OperationalError

from search_api import db
from search_api.db import database as database_module


@pytest.fixture
def sqlite_db(tmp_path):
    yield db.open_database(tmp_path / "querylog.sqlite3", "querylog")
    db.dispose_all()


def held_elsewhere(path) -> bool:
    """Whether another open file description holds the exclusive lock on ``path``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_turn_until_it_ends(sqlite_db, tmp_path):
    turns = tmp_path / "querylog.sqlite3.writers"
    with sqlite_db.transaction(lock=False) as conn:
        conn.execute("SELECT 1")
        assert held_elsewhere(turns)
    assert not held_elsewhere(turns)
    with sqlite_db.connect() as conn:  # reads take no turn
        conn.execute("SELECT 1")
        assert not held_elsewhere(turns)


def test_a_turn_held_too_long_fails_like_a_locked_database(sqlite_db, tmp_path, monkeypatch):
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_SECONDS", 0.3)
    fd = os.open(tmp_path / "querylog.sqlite3.writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer of another process that does not let go
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), sqlite_db.transaction():
            pass
        assert 0.3 <= time.monotonic() - started < 10
    finally:
        os.close(fd)
    with sqlite_db.transaction() as conn:  # released: writes go on
        conn.execute("SELECT 1")


WRITER = """
import sys
from search_api import db
store = db.open_database(sys.argv[1], "app")
for i in range(150):
    with store.transaction() as conn:
        last = conn.scalar("SELECT last FROM help_sequences WHERE prefix = 'x'")
        conn.execute("UPDATE help_sequences SET last = :n WHERE prefix = 'x'", {"n": last + 1})
"""


def test_writers_of_several_processes_all_get_their_turn(tmp_path):
    path = tmp_path / "app.sqlite3"
    store = db.open_database(path, "app")
    with store.transaction() as conn:
        conn.execute("INSERT INTO help_sequences (prefix, last) VALUES ('x', 0)")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path)]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with store.connect() as conn:
        assert conn.scalar("SELECT last FROM help_sequences WHERE prefix = 'x'") == 450
    db.dispose_all()
