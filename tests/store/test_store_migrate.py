"""``labourkb store migrate --to``: an installation's SQLite store copied into PostgreSQL."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy.engine import make_url

from search_api import db
from search_api.cli import cli
from search_api.settings import get_settings

USERS = "INSERT INTO users (id, username, password_hash, role, created_at) VALUES (:id, :u, 'h', 'lawyer', 't')"
QUERY = (
    "INSERT INTO queries (query_id, client_id, timestamp, user_query, tokens, filters, engine, hit_ids, failed,"
    " source, topics, employers) VALUES (:q, 'c', '2026-11-30T01:00:00.000Z', '欠薪', '[]', '{}', 'sqlite', '[]', 0,"
    " 'web', '[]', '[]')"
)


def _fill_sqlite(env) -> None:
    settings = get_settings()
    app, log = db.app_database(settings), db.log_database(settings)
    with app.transaction() as conn:
        conn.execute(USERS, [{"id": 3, "u": "wang"}, {"id": 9, "u": "li"}])
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ('s', 9, 'c', 1, 2)"
        )
        conn.execute("INSERT INTO help_submissions (network, at) VALUES ('n1', 1.0), ('n1', 2.0)")
    with log.transaction() as conn:
        conn.execute(QUERY, [{"q": f"q{i}"} for i in range(1500)])  # more than one batch
    (settings.data_dir / "secret.key").write_text("ab" * 32 + "\n", encoding="ascii")


def _migrate(url: str) -> dict:
    result = CliRunner().invoke(cli, ["store", "migrate", "--to", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_migrate_copies_every_table_and_is_idempotent(env, pg_url):
    _fill_sqlite(env)
    first = _migrate(pg_url)
    counts = {row["table"]: (row["source"], row["target"]) for row in first["tables"]}
    assert first["ok"] and first["secret"] == "copied"
    assert counts["users"] == (2, 2) and counts["sessions"] == (1, 1) and counts["queries"] == (1500, 1500)
    assert make_url(pg_url).password not in json.dumps(first)  # the password is not printed
    again = _migrate(pg_url)  # a second run copies nothing twice, the keyless table included
    assert again["secret"] == "same"
    assert {r["table"]: r["target"] for r in again["tables"]} == {r["table"]: r["target"] for r in first["tables"]}

    pg = db.open_database(pg_url, "app")
    with pg.transaction() as conn:  # new rows continue after the copied ids
        new_id = conn.scalar(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES ('zhao', 'h', 'admin', 't')"
            " RETURNING id"
        )
        assert new_id == 10
        assert conn.scalar("SELECT value FROM site_values WHERE name = 'secret_key'") == "ab" * 32
        assert conn.scalar("SELECT COUNT(*) FROM help_submissions") == 2
    db.dispose_all()


def test_migrate_refuses_what_is_not_postgresql(env):
    result = CliRunner().invoke(cli, ["store", "migrate", "--to", "mysql://x@y/z"])
    assert result.exit_code != 0 and "PostgreSQL" in result.output


def test_migrate_refuses_a_database_holding_another_sites_secret(env, pg_url):
    _fill_sqlite(env)
    with db.open_database(pg_url, "app").transaction() as conn:
        conn.execute("INSERT INTO site_values (name, value, created_at) VALUES ('secret_key', 'other', 't')")
    result = CliRunner().invoke(cli, ["store", "migrate", "--to", pg_url])
    assert result.exit_code != 0 and "站点密钥" in result.output
    db.dispose_all()


def test_backup_on_postgresql_points_to_pg_dump(env, pg_url, monkeypatch):
    monkeypatch.setenv("LABOURKB_DATABASE_URL", pg_url)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["backup", str(env / "copy.sqlite3")])
    assert result.exit_code != 0 and "pg_dump" in result.output
    assert not (env / "copy.sqlite3").exists()
    db.dispose_all()
