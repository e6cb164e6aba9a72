"""No search record is lost while PostgreSQL does not answer: a real PostgreSQL, a port nothing listens on.

The query log points at a server that is down; searches are answered and their records go to
the spool in the data directory. Once the log points at the working server (the same
``QueryLog``, or another one started on the same data directory, as after a restart), every
record arrives exactly once — also when a replay is repeated after a crash.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
from sqlalchemy.engine import make_url

from search_api import db
from search_api.engines.sqlite import SqliteEngine
from search_api.monitoring import log_store
from search_api.monitoring.querylog import QueryLog, logged_search
from search_api.search.service import SearchService
from search_api.settings import Settings
from tests.monitoring.helpers import index_docs

N = 20


def unreachable(url: str) -> str:
    """``url`` with a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@pytest.fixture
def down(pg_url, tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=unreachable(pg_url), secret_key="s", engine="sqlite")


@pytest.fixture
def service(down, tmp_path):
    engine = SqliteEngine(tmp_path / "index.sqlite3")
    index_docs(engine, "a.1", "a.2")
    yield SearchService(down, engine)
    engine.close()
    db.dispose_all()


def quiet_log(settings: Settings) -> QueryLog:
    return QueryLog(settings, topics_for=lambda tokens, text: ["wage_arrears"], employers_for=lambda text: [])


def stored(pg_url, table="queries") -> list[str]:
    key = "query_id" if table == "queries" else "event_id"
    with db.open_database(pg_url, "querylog").connect() as conn:
        return conn.column(f"SELECT {key} FROM {table} ORDER BY seq")


def test_searches_logged_while_postgresql_is_down_arrive_once_it_answers(pg_url, down, service, caplog, monkeypatch):
    monkeypatch.setattr(log_store, "RETRY_AFTER_S", 0.0)  # every search tries the database again
    caplog.set_level(logging.INFO, logger="search_api.monitoring")
    qlog = quiet_log(down)
    passed_on: list[dict] = []
    qlog.listeners.append(passed_on.extend)
    try:
        answers = [logged_search(service, qlog, f"拖欠工资 {i} 电话13812345678", source="site") for i in range(N)]
        assert all(a.total > 0 and a.query_id for a in answers)  # the searches were answered
        qlog.log_click(query_id=answers[0].query_id, doc_id="a.1", position=1)
        qlog.flush()
        assert (qlog.spooled, qlog.failed, passed_on) == (N + 1, 0, [])
        said = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
        assert len(said) == 1 and "querylog-db-spool.jsonl" in said[0]
        spool = (down.data_dir / "querylog-db-spool.jsonl").read_text(encoding="utf-8")
        assert "13812345678" not in spool and len(spool.splitlines()) == N + 1  # redacted, one line each
        assert stored(pg_url) == []

        qlog.database = db.open_database(pg_url, "querylog")  # PostgreSQL answers again
        qlog.flush()
        assert stored(pg_url) == [a.query_id for a in answers]
        assert len(stored(pg_url, "events")) == 1
        assert [r["query_id"] for r in passed_on] == [a.query_id for a in answers]  # warnings, signals saw them
        assert not qlog.store.spool.pending()
        assert any("answers again" in r.getMessage() for r in caplog.records)
        qlog.log_search(q="加班费", engine="sqlite", total=1)
        qlog.flush()  # straight to the database again, not the spool
        assert len(stored(pg_url)) == N + 1 and qlog.spooled == N + 1
    finally:
        qlog.close()


def test_a_restarted_server_stores_the_spool_once_even_if_a_replay_is_repeated(pg_url, down, tmp_path):
    first = quiet_log(down)
    ids = [first.log_search(q=f"工伤认定 {i}", engine="sqlite", total=1) for i in range(N)]
    first.close()  # still down: the records wait in the spool
    spool_path = tmp_path / "querylog-db-spool.jsonl"
    lines = spool_path.read_text(encoding="utf-8")
    assert [json.loads(line)["doc"]["query_id"] for line in lines.splitlines()] == ids

    up = Settings(data_dir=tmp_path, database_url=pg_url, secret_key="s", engine="sqlite")
    second = quiet_log(up)
    try:
        second.flush()  # its background thread replays the spool
        assert stored(pg_url) == ids and not spool_path.exists()
        # a crash after the inserts but before the spool was removed: the same lines replayed again
        spool_path.write_text(lines + '{"kind": "query", "doc": {"query_id": "torn', encoding="utf-8")
        assert second.replay_spool() == N
        assert stored(pg_url) == ids and not spool_path.exists()
    finally:
        second.close()
