"""PostgreSQL fixtures (a pytest plugin, registered in ``tests/conftest.py``'s ``pytest_plugins``).

The server is the one ``scripts/postgres.sh`` runs (``scripts/test.sh`` starts it and sets
``LABOURKB_TEST_DATABASE_URL``). Every test gets its own schema ``t_<12 hex>`` in that one
database: ``pg_url`` is the server URL with ``options=-csearch_path=<schema>`` in its query
string, so each connection made from it (psycopg, or SQLAlchemy's ``postgresql+psycopg``)
works inside the schema. Without the variable the tests skip, unless
``LABOURKB_REQUIRE_PG=1`` (as in ``scripts/test.sh`` and CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

ENV_URL = "LABOURKB_TEST_DATABASE_URL"
ENV_REQUIRE = "LABOURKB_REQUIRE_PG"
# A test that leaves a transaction open in its schema must not hang the teardown forever.
DROP_LOCK_TIMEOUT = "30s"


def new_schema_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def url_with_schema(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` in its query string (other options kept)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "options"]
    options = " ".join(value for key, value in parse_qsl(parts.query) if key == "options")
    options = f"{options} -csearch_path={schema}".strip()
    # %20, not "+", for the space: libpq decodes only %XX escapes in a URI.
    return urlunsplit(parts._replace(query=urlencode([*query, ("options", options)], quote_via=quote)))


def create_schema(server_url: str, schema: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def drop_schema(server_url: str, schema: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(DROP_LOCK_TIMEOUT)))
        try:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        except psycopg.errors.LockNotAvailable as exc:
            raise RuntimeError(
                f"schema {schema} not dropped: a connection of the test still holds locks in it "
                f"(close engines / connections before the test ends): {exc}"
            ) from exc


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the test PostgreSQL database (``LABOURKB_TEST_DATABASE_URL``)."""
    url = os.environ.get(ENV_URL)
    if not url:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(
                f"{ENV_REQUIRE}=1 but {ENV_URL} is not set: start PostgreSQL with "
                f"`bash scripts/postgres.sh start` and export {ENV_URL}=$(bash scripts/postgres.sh url)",
                pytrace=False,
            )
        pytest.skip(f"PostgreSQL not configured ({ENV_URL})")
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """The server URL bound to a fresh schema ``t_<12 hex>``, dropped (CASCADE) after the test."""
    schema = new_schema_name()
    create_schema(pg_server_url, schema)
    try:
        yield url_with_schema(pg_server_url, schema)
    finally:
        drop_schema(pg_server_url, schema)


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each test twice: ``None`` (the SQLite files in the data directory) and a PostgreSQL ``pg_url``."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")
