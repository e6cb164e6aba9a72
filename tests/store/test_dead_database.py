"""A PostgreSQL that goes away under a running site: search goes on, the rest says so in Chinese.

A private cluster (``scripts/postgres.sh`` on its own port) holds the store; it is stopped while
the app runs and started again. Meanwhile searches are answered and logged (spooled), a login
or a help request gets a 503 with a plain message, never a traceback; afterwards everything
works again and the spooled searches reach the database.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from search_api import db
from search_api.app import create_app
from search_api.web.errors import STORE_UNAVAILABLE
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, login
from tests.fixtures.help import HELP_REQUEST
from tests.pg import create_schema, drop_schema, new_schema_name, url_with_schema

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
PORT = "5447"


def _pg(command: str) -> str:
    env = {**os.environ, "LABOURKB_PG_PORT": PORT}
    return subprocess.run(["bash", str(SCRIPT), command], env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def private_pg(pg_server_url) -> Iterator[str]:
    """A fresh schema in a cluster of our own (``pg_server_url`` only makes the test skip or fail like
    the others when PostgreSQL is not configured)."""
    server = _pg("start").strip().splitlines()[-1]
    schema = new_schema_name()
    create_schema(server, schema)
    yield url_with_schema(server, schema)
    db.dispose_all()
    _pg("start")
    drop_schema(server, schema)
    _pg("stop")


def test_search_goes_on_and_the_store_says_it_is_away(private_pg, corpus_index, tmp_path):
    settings = make_settings(
        tmp_path / "data", database_url=private_pg, sqlite_path=corpus_index, help_min_fill_seconds=0
    )
    app = create_app(settings)
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    with TestClient(app) as client:
        assert login(client, "lawyer1").status_code == 303
        _pg("stop")
        try:
            found = client.get("/api/search", params={"q": "公司拖欠工资怎么办"})
            assert found.status_code == 200 and found.json()["hits"]  # the index is not the store
            asked = TestClient(app).post("/api/help-requests", json=HELP_REQUEST)
            assert asked.status_code == 503 and STORE_UNAVAILABLE in asked.json()["error"]
            page = client.get("/lawyer/")  # the lawyer's session is in the store
            assert page.status_code == 503 and "数据库暂时无法访问" in page.text and "Traceback" not in page.text
        finally:
            _pg("start")
        assert TestClient(app).post("/api/help-requests", json=HELP_REQUEST).status_code == 201
        assert client.get("/lawyer/").status_code == 200
        deadline = time.monotonic() + 30  # the spool is replayed by the log's own thread
        while time.monotonic() < deadline:
            app.state.querylog.flush()
            with db.log_database(settings).connect() as conn:
                logged = conn.column("SELECT user_query FROM queries")
            if any("拖欠工资" in q for q in logged):
                break
            time.sleep(0.5)
        assert any("拖欠工资" in q for q in logged)  # asked during the outage: spooled, then stored
