"""The database layer itself: migrations, write serialisation, old SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from search_api import db
from search_api.db import migrate


def test_both_stores_are_at_their_heads(app_db, log_db):
    assert migrate.current(app_db) == migrate.head("app")
    assert migrate.current(log_db) == migrate.head("querylog")
    with app_db.connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM users") == 0
    with log_db.connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM queries") == 0


def test_opening_again_keeps_the_rows(app_db, database_url, tmp_path):
    with app_db.transaction() as conn:
        conn.execute("INSERT INTO site_values (name, value, created_at) VALUES ('k', 'v', 't')")
    db.dispose_all()
    again = db.open_database(database_url or tmp_path / "app.sqlite3", "app")
    with again.connect() as conn:
        assert conn.scalar("SELECT value FROM site_values WHERE name = :n", {"n": "k"}) == "v"


def test_user_names_are_unique_whatever_their_case(app_db):
    insert = "INSERT INTO users (username, password_hash, role, created_at) VALUES (:u, 'h', 'lawyer', 't')"
    with app_db.transaction() as conn:
        conn.execute(insert, {"u": "Zhang"})
    with pytest.raises(Exception, match=r"(?i)unique"), app_db.transaction() as conn:
        conn.execute(insert, {"u": "zhang"})


def test_a_failed_transaction_leaves_nothing(app_db):
    with pytest.raises(RuntimeError), app_db.transaction() as conn:
        conn.execute("INSERT INTO site_values (name, value, created_at) VALUES ('half', 'v', 't')")
        raise RuntimeError("boom")
    with app_db.connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM site_values") == 0


def test_locking_writers_do_not_lose_updates(app_db):
    """Read-modify-write under ``transaction()`` from many threads (on PostgreSQL: the advisory
    lock) counts every increment: what the help request numbers and list versions rely on."""
    with app_db.transaction() as conn:
        conn.execute("INSERT INTO help_sequences (prefix, last) VALUES ('x', 0)")

    def bump() -> None:
        for _ in range(20):
            with app_db.transaction() as conn:
                last = conn.scalar("SELECT last FROM help_sequences WHERE prefix = 'x'")
                conn.execute("UPDATE help_sequences SET last = :n WHERE prefix = 'x'", {"n": last + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app_db.connect() as conn:
        assert conn.scalar("SELECT last FROM help_sequences WHERE prefix = 'x'") == 80


OLD_USERS = """
CREATE TABLE users (
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
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
INSERT INTO users (id, username, password_hash, role, created_at) VALUES (7, 'old', 'h', 'admin', 't');
INSERT INTO sessions VALUES ('s', 7, 'c', 0, 0);
"""


def test_a_store_from_before_alembic_is_brought_up_to_date(tmp_path):
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_USERS)
    app = db.open_database(path, "app")
    assert migrate.current(app) == migrate.head("app")
    with app.transaction() as conn:  # the staff role is accepted now; the old rows and references stay
        conn.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES ('s1', 'h', 'staff', 't')")
        assert conn.scalar("SELECT username FROM users WHERE id = 7") == "old"
        assert conn.scalar("SELECT user_id FROM sessions WHERE token_hash = 's'") == 7
        assert conn.scalar("SELECT COUNT(*) FROM help_requests") == 0
    with app.transaction() as conn:  # the sessions table still refers to users, not to a renamed copy
        conn.execute("DELETE FROM users WHERE id = 7")
        assert conn.scalar("SELECT COUNT(*) FROM sessions") == 0
    db.dispose_all()


def test_a_query_log_from_before_alembic_gets_its_later_columns(tmp_path):
    path = tmp_path / "querylog.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE warnings (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL,"
            " window_start TEXT NOT NULL, window_end TEXT NOT NULL, topics TEXT NOT NULL, visitors INTEGER NOT NULL,"
            " district TEXT, created_at TEXT NOT NULL, UNIQUE (kind, subject, window_start))"
        )
    log = db.open_database(path, "querylog")
    with log.connect() as conn:
        row = conn.row("SELECT networks, days, browsers FROM warnings")
    assert row is None
    db.dispose_all()


def test_servers_starting_together_migrate_once(database_url, tmp_path):
    """Four processes open one empty store at the same moment (app servers, ``serve --workers``, a
    command), two of them the query log first: all start, one copy of each table, one revision per branch."""
    target = database_url or str(tmp_path / "app.sqlite3")
    log_target = database_url or str(tmp_path / "querylog.sqlite3")
    code = (
        "import sys, time; from search_api import db; time.sleep(max(0.0, float(sys.argv[3]) - time.time()));"
        " stores = [(sys.argv[1], 'app'), (sys.argv[2], 'querylog')];"
        " [db.open_database(*s) for s in (stores if sys.argv[4] == 'app' else stores[::-1])]"
    )
    start_at = str(time.time() + 3.0)  # after every interpreter has imported the app
    first = ["app", "querylog", "app", "querylog"]  # a server opens the app store first, a command the log
    procs = [subprocess.Popen([sys.executable, "-c", code, target, log_target, start_at, f]) for f in first]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    app = db.open_database(target, "app")
    with app.connect() as conn:
        revisions = sorted(conn.column("SELECT version_num FROM alembic_version"))
        # PostgreSQL: both stores in the one database; SQLite: the app file holds the app branch only
        expected = [migrate.head("app"), migrate.head("querylog")] if database_url else [migrate.head("app")]
        assert revisions == sorted(expected)
        assert conn.scalar("SELECT COUNT(*) FROM users") == 0
    db.dispose_all()
