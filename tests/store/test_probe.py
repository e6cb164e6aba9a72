"""``db.ScalarProbe``: the version check made before each search sees every commit at once, from
any thread and any server, and keeps the last value while the store is away."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from search_api import db

SQL = "SELECT COALESCE(MAX(v), 0) FROM probe_versions"


@pytest.fixture
def probe(app_db: db.Database):
    with app_db.transaction() as conn:
        conn.execute("CREATE TABLE probe_versions (v INTEGER NOT NULL)")
    p = db.ScalarProbe(app_db, SQL)
    yield p
    p.close()


def _bump(database: db.Database, v: int) -> None:
    with database.transaction() as conn:
        conn.execute("INSERT INTO probe_versions (v) VALUES (:v)", {"v": v})


def test_a_commit_is_seen_at_the_next_ask_in_every_thread(probe, app_db):
    with ThreadPoolExecutor(max_workers=4) as pool:  # the same threads ask again: kept connections
        assert list(pool.map(lambda _: probe(), range(8))) == [0] * 8
        _bump(app_db, 3)
        assert probe() == 3
        assert list(pool.map(lambda _: probe(), range(8))) == [3] * 8
        _bump(app_db, 7)
        assert list(pool.map(lambda _: probe(), range(8))) == [7] * 8


def test_another_servers_commit_is_seen(probe, second_server):
    assert probe() == 0
    _bump(second_server, 5)
    assert probe() == 5


def test_close_then_ask_again(probe, app_db):
    _bump(app_db, 2)
    assert probe() == 2
    probe.close()
    _bump(app_db, 4)
    assert probe() == 4


def test_the_last_value_while_the_sqlite_store_cannot_answer(probe, app_db, caplog):
    if app_db.is_postgresql:
        pytest.skip("an unreachable PostgreSQL is tests/store/test_dead_database.py")
    _bump(app_db, 6)
    assert probe() == 6
    with app_db.transaction() as conn:
        conn.execute("ALTER TABLE probe_versions RENAME TO probe_gone")
    with caplog.at_level(logging.WARNING, logger="search_api.db"):
        assert probe() == 6
        assert probe() == 6
    assert sum("app store unavailable" in r.message for r in caplog.records) == 1
    with app_db.transaction() as conn:
        conn.execute("ALTER TABLE probe_gone RENAME TO probe_versions")
    _bump(app_db, 8)
    assert probe() == 8
