"""The store contract fixtures: each test runs once on SQLite files and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from search_api import db


@pytest.fixture
def app_db(database_url: str | None, tmp_path) -> Iterator[db.Database]:
    """The app store: a SQLite file in ``tmp_path``, or a fresh PostgreSQL schema."""
    yield db.open_database(database_url or tmp_path / "app.sqlite3", "app")
    db.dispose_all()


@pytest.fixture
def log_db(database_url: str | None, tmp_path) -> Iterator[db.Database]:
    """The query log: its own SQLite file, or the same PostgreSQL schema as ``app_db``."""
    yield db.open_database(database_url or tmp_path / "querylog.sqlite3", "querylog")
    db.dispose_all()
