"""What the first revision of each store needs beyond plain ``op.create_table``.

Stores made before Alembic (SQLite files created table by table with ``CREATE TABLE IF NOT
EXISTS``) already hold some or all of the tables, perhaps in an older shape. The baseline
revisions therefore create only what is missing, then bring the older shapes up to date,
and Alembic stamps the file: from then on every change is an ordinary revision.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def create_table(name: str, *elements: Any, **kw: Any) -> None:
    if not _inspector().has_table(name):
        op.create_table(name, *elements, **kw)


def create_index(name: str, table: str, columns: list[Any], **kw: Any) -> None:
    if name not in {ix["name"] for ix in _inspector().get_indexes(table)}:
        op.create_index(name, table, columns, **kw)


def add_missing_columns(table: str, columns: list[sa.Column]) -> None:
    """Columns added to ``table`` before Alembic, added to files older than them."""
    have = {c["name"] for c in _inspector().get_columns(table)}
    for column in columns:
        if column.name not in have:
            op.add_column(table, column)


def sqlite_table_sql(name: str) -> str:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return ""
    sql = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?"
    return bind.exec_driver_sql(sql, (name,)).scalar() or ""
