"""Alembic, run from the app: each store's schema brought to its branch's head on open.

The revisions live in ``search_api/db/migrations/versions``: one branch per store (``app``,
``querylog``), so a SQLite file holds one branch and a PostgreSQL database both. ``labourkb
store upgrade`` runs the same thing by hand; writing a new revision is ordinary Alembic
(``alembic -c search_api/db/migrations/alembic.ini revision -m "…" --head app@head``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from search_api.db.database import MIGRATIONS_DIR

if TYPE_CHECKING:
    from search_api.db.database import Database


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head(store: str) -> str:
    """The newest revision of ``store``'s branch."""
    revision = _script().get_revision(f"{store}@head")
    assert revision is not None
    return revision.revision


def current(database: Database) -> str | None:
    """The revision ``database``'s store is at (None: not under Alembic yet)."""
    with database.connect() as conn:
        heads = MigrationContext.configure(conn.sa).get_current_heads()
    own = {r.revision for r in _script().iterate_revisions(f"{database.store}@head", "base")}
    mine = [h for h in heads if h in own]
    return mine[0] if mine else None


def upgrade(connection: Connection, store: str) -> None:
    """Upgrade ``store``'s branch to head on ``connection`` (inside the caller's transaction)."""
    command.upgrade(config(connection), f"{store}@head")
