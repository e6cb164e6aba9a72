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


@pytest.fixture
def second_server(app_db: db.Database, database_url: str | None, tmp_path) -> Iterator[db.Database]:
    """The same store as ``app_db``, opened again as another app server would: its own engine and pool."""
    db.dispose_all()  # this process forgets the first engine (which keeps working), so the next open is new
    other = db.open_database(database_url or tmp_path / "app.sqlite3", "app")
    assert other.engine is not app_db.engine
    yield other
    app_db.dispose()
