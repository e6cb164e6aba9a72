"""``labourkb store``: where the app store is, its schema, and moving it to PostgreSQL."""

from __future__ import annotations

import json

import click

from search_api import db


@click.group("store")
def store_group() -> None:
    """The app store: SQLite files in the data directory, or PostgreSQL (LABOURKB_DATABASE_URL)."""


def _databases():
    from search_api.settings import get_settings

    settings = get_settings()
    return settings, {"app": db.app_database(settings), "querylog": db.log_database(settings)}


@store_group.command("status")
def store_status() -> None:
    """Where each store is and the schema revision it is at.

    Example: labourkb store status
    """
    from search_api.db import migrate

    _, databases = _databases()
    for name, database in databases.items():
        at = migrate.current(database)
        click.echo(f"{name}: {database.url} — revision {at}{'' if at == migrate.head(name) else ' (behind)'}")


@store_group.command("upgrade")
def store_upgrade() -> None:
    """Bring the stores' tables to the newest schema (the site also does this when it starts).

    Example: labourkb store upgrade
    """
    from search_api.db import migrate

    _, databases = _databases()
    for name, database in databases.items():
        database.migrate()
        click.echo(f"{name}: at {migrate.current(database)}")


@store_group.command("migrate")
@click.option("--to", "url", required=True, help="postgresql://user:password@host:port/database")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def store_migrate(url: str, as_json: bool) -> None:
    """Copy this data directory's SQLite store into PostgreSQL (again: copies only what is new),
    then check every table's row count. Afterwards set LABOURKB_DATABASE_URL to the same URL.

    Example: labourkb store migrate --to postgresql://labourkb:secret@db.example:5432/labourkb
    """
    from search_api.db.copy import CopyError, migrate_store
    from search_api.settings import get_settings

    settings = get_settings()
    sources = {"app": settings.store_path, "querylog": settings.querylog_path}
    secret_file = None if settings.secret_key else settings.data_dir / "secret.key"
    try:
        report = migrate_store(settings.data_dir, url, sources, secret_file)
    except CopyError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for row in report["tables"]:
            mark = "ok" if row["ok"] else "MISSING ROWS"
            click.echo(f"{row['store']:9} {row['table']:24} {row['source']:>8} → {row['target']:>8}  {mark}")
        click.echo(f"site secret: {report['secret']}; target {report['to']}")
    if not report["ok"]:
        raise click.ClickException("有表的行数少于源存储：迁移未完成，请查看上表后重试")
    if not as_json:
        click.echo(f"done: now set LABOURKB_DATABASE_URL={report['to']} (with its password) on every app server")
