"""The PostgreSQL fixtures of tests/pg.py: one schema per test, isolated, dropped afterwards."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from tests.pg import create_schema, drop_schema, new_schema_name, url_with_schema


def _current_schema(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT current_schema()").fetchone()[0]


def test_table_round_trip_in_own_schema(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes VALUES (%s, %s), (%s, %s)", (1, "加班费", 2, "年休假"))
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT id, body FROM notes ORDER BY id").fetchall()
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        table_schema = conn.execute("SELECT to_regclass('notes')::text").fetchone()[0]
    assert rows == [(1, "加班费"), (2, "年休假")]
    assert schema.startswith("t_") and len(schema) == 14
    assert table_schema == "notes"  # found through the search path, not in public


def test_sqlalchemy_honours_the_schema(pg_url: str) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (v integer)"))
            conn.execute(sa.text("INSERT INTO t VALUES (7)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_schema()")).scalar() == _current_schema(pg_url)
            assert conn.execute(sa.text("SELECT v FROM t")).scalar() == 7
    finally:
        engine.dispose()


def test_two_schemas_are_isolated(pg_server_url: str) -> None:
    a, b = new_schema_name(), new_schema_name()
    create_schema(pg_server_url, a)
    create_schema(pg_server_url, b)
    url_a, url_b = url_with_schema(pg_server_url, a), url_with_schema(pg_server_url, b)
    try:
        for url, value in ((url_a, "a"), (url_b, "b")):
            with psycopg.connect(url) as conn:
                conn.execute("CREATE TABLE same_name (v text)")
                conn.execute("INSERT INTO same_name VALUES (%s)", (value,))
        with psycopg.connect(url_a) as conn:
            assert conn.execute("SELECT v FROM same_name").fetchall() == [("a",)]
            conn.execute("CREATE TABLE only_in_a (v text)")
        with psycopg.connect(url_b) as conn:
            assert conn.execute("SELECT v FROM same_name").fetchall() == [("b",)]
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute("SELECT * FROM only_in_a")
    finally:
        drop_schema(pg_server_url, a)
        drop_schema(pg_server_url, b)


def test_schema_dropped_after_test(pg_server_url: str) -> None:
    schema = new_schema_name()
    create_schema(pg_server_url, schema)
    with psycopg.connect(url_with_schema(pg_server_url, schema)) as conn:
        conn.execute("CREATE TABLE t (v integer)")
    drop_schema(pg_server_url, schema)
    with psycopg.connect(pg_server_url) as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    assert found is None


def test_url_with_schema_keeps_other_options(pg_server_url: str) -> None:
    plain = url_with_schema("postgresql://u:p@127.0.0.1:5440/db", "t_x")
    assert plain == "postgresql://u:p@127.0.0.1:5440/db?options=-csearch_path%3Dt_x"
    sep = "&" if "?" in pg_server_url else "?"
    url = url_with_schema(f"{pg_server_url}{sep}options=-cwork_mem%3D8MB", "pg_catalog")
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW work_mem").fetchone()[0] == "8MB"
        assert conn.execute("SELECT current_schema()").fetchone()[0] == "pg_catalog"


def test_database_url_covers_both_stores(database_url: str | None) -> None:
    if database_url is None:
        return
    assert _current_schema(database_url).startswith("t_")
