"""``labourkb store migrate --to postgresql://…``: an installation's SQLite store moved into PostgreSQL.

Both SQLite files of the data directory (``app.sqlite3``, ``querylog.sqlite3``) are first
brought to the newest schema, the target database too; then every table is copied in
foreign-key order, in batches, each row inserted unless a row with its key is already there.
Running it again copies only what is new (a site left running on SQLite during a first copy,
then stopped for the switch, loses nothing), and a table without a key (the hourly
help-request counts) is replaced whole. Serial columns continue after the copied ids. The
copy is then verified table by table: the target must hold at least the source's rows.

The site secret is part of the store: with no ``LABOURKB_SECRET_KEY`` the secret in the data
directory seals workers' personal data and signs sessions, so it is carried into the
database (the secret every app server on PostgreSQL reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url

from search_api.accounts.secret import SECRET_NAME
from search_api.db import Database, now_iso, open_database

BATCH = 1000
SKIPPED = {"alembic_version"}


class CopyError(RuntimeError):
    """The copy cannot go on (the message says why, in plain Chinese)."""


@dataclass
class TableCopy:
    store: str
    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.target >= self.source


def _tables(database: Database) -> list[sa.Table]:
    meta = sa.MetaData()
    meta.reflect(bind=database.engine)
    return [t for t in meta.sorted_tables if t.name not in SKIPPED]


def _copy_table(source: Database, target: Database, table: sa.Table) -> None:
    columns = [c.name for c in table.columns]
    select = sa.text(f"SELECT {', '.join(columns)} FROM {table.name}")
    keyless = not table.primary_key.columns and not any(c.unique for c in table.columns)
    with source.connect() as src, target.transaction() as dst:
        if keyless:
            dst.sa.execute(table.delete())
        result = src.sa.execute(select).mappings()
        statement = table.insert() if keyless else pg_insert(table).on_conflict_do_nothing()
        while batch := result.fetchmany(BATCH):
            dst.sa.execute(statement, [dict(row) for row in batch])


def _continue_serials(target: Database, table: sa.Table) -> None:
    for column in table.primary_key.columns:
        with target.connect() as conn:
            sequence = conn.scalar("SELECT pg_get_serial_sequence(:t, :c)", {"t": table.name, "c": column.name})
        if sequence:
            with target.transaction() as conn:
                conn.execute(
                    f"SELECT setval(:s, COALESCE(MAX({column.name}), 1), MAX({column.name}) IS NOT NULL)"
                    f" FROM {table.name}",
                    {"s": sequence},
                )


def _count(database: Database, table: str) -> int:
    with database.connect() as conn:
        return int(conn.scalar(f"SELECT COUNT(*) FROM {table}"))


def carry_secret(secret_file: Path, target: Database) -> str:
    """The data directory's secret, stored as the database's: ``"copied"``, ``"same"`` (already
    there) or ``"none"`` (no file: ``LABOURKB_SECRET_KEY`` is set, or the site never started)."""
    if not secret_file.is_file():
        return "none"
    secret = secret_file.read_text(encoding="ascii").strip()
    with target.transaction() as conn:
        if conn.scalar("SELECT value FROM site_values WHERE name = :n", {"n": SECRET_NAME}) == secret:
            return "same"
        conn.execute(
            "INSERT INTO site_values (name, value, created_at) VALUES (:n, :v, :t) ON CONFLICT (name) DO NOTHING",
            {"n": SECRET_NAME, "v": secret, "t": now_iso()},
        )
        stored = conn.scalar("SELECT value FROM site_values WHERE name = :n", {"n": SECRET_NAME})
    if stored != secret:
        raise CopyError(
            "目标数据库已有另一个站点密钥：用它会让数据目录中加密保存的求助信息无法解密、已登录的会话失效。"
            "请确认目标库是否属于另一套站点，或先删除其 site_values 表中的 secret_key。"
        )
    return "copied"


def migrate_store(data_dir: Path, url: str, sources: dict[str, Path], secret_file: Path | None) -> dict[str, Any]:
    """Copy ``sources`` (store name → SQLite file) into the PostgreSQL database at ``url``."""
    if not url.startswith("postgres"):
        raise CopyError("--to 须为 postgresql:// 开头的 PostgreSQL 地址")
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if len(missing) == len(sources):
        raise CopyError(f"数据目录 {data_dir} 中没有可迁移的 SQLite 存储（{'、'.join(missing)}）")
    copies: list[TableCopy] = []
    secret = "none"
    for store, path in sources.items():
        if not path.is_file():
            continue
        source, target = open_database(path, store), open_database(url, store)
        if store == "app" and secret_file is not None:
            secret = carry_secret(secret_file, target)
        target_tables = {t.name: t for t in _tables(target)}
        for table in _tables(source):
            into = target_tables.get(table.name)
            if into is None:
                raise CopyError(f"目标数据库没有表 {table.name}")
            _copy_table(source, target, into)
            _continue_serials(target, into)
            copies.append(TableCopy(store, table.name, _count(source, table.name), _count(target, table.name)))
    return {
        "to": make_url(url).render_as_string(hide_password=True),
        "secret": secret,
        "tables": [c.__dict__ | {"ok": c.ok} for c in copies],
        "ok": all(c.ok for c in copies),
    }
