"""The app store: what users create, in one ``Database`` (``db.app_database(settings)``: the
SQLite file ``Settings.store_path``, or the PostgreSQL database every app server shares).

``Store`` is built once by ``create_app`` (``app.state.store``) and holds one object per
group of tables, each in its own module:

* ``users``    accounts, password hashes               (``search_api.accounts.users``)
  and ``users.throttle``: failed logins per (name, network) (``search_api.accounts.throttle``)
* ``sessions`` browser sessions and the form stash    (``search_api.accounts.sessions``)
* ``tokens``   lawyers' personal API tokens           (``search_api.accounts.tokens``)
* ``cases``    lawyers' cases, versions and events    (``search_api.cases.store``)
* ``help``     workers' help requests, sealed          (``search_api.help.store``)
* ``employers`` the union's employer list, versioned   (``search_api.monitoring.employer_list``)

The scoped read-only tokens of monitoring systems share the store (``accounts.tokens``);
the query log is a store of its own. This store is a source of truth: the search index is
rebuilt from the corpus plus this store. Every part takes a pooled connection per call
(``Database.connect`` / ``Database.transaction``), so the store is safe to use from
FastAPI's thread pool and from several app servers at once; secrets are stored only as hashes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from search_api import db
from search_api.accounts.sessions import Sessions
from search_api.accounts.tokens import ApiTokens
from search_api.accounts.users import Users
from search_api.cases.store import CaseStore
from search_api.help.store import HelpStore
from search_api.monitoring.employer_list import EmployerList


class BackupRefused(RuntimeError):
    """``backup`` of a store that is not a SQLite file (PostgreSQL has its own tools)."""


class Store:
    """The app store in ``database`` (its tables are made by the store's migrations)."""

    PURGE_EVERY = 600.0  # seconds between the purges ``maybe_purge`` runs

    def __init__(self, database: db.Database):
        self.database = database
        self.users = Users(database)
        self.sessions = Sessions(database)
        self.tokens = ApiTokens(database)
        self.cases = CaseStore(database)
        self.help = HelpStore(database)
        self.employers = EmployerList(database)
        self._last_purge = float("-inf")
        self._purge_lock = threading.Lock()

    def purge(self, now: float | None = None) -> dict[str, int]:
        """Drop what has gone stale: expired sessions and form stashes older than a day,
        failed-login counts quiet for a day. Returns the counts (``labourkb purge`` prints them)."""
        counts = self.sessions.purge(now)
        counts["login_failures"] = self.users.throttle.purge(now)
        return counts

    def maybe_purge(self) -> dict[str, int] | None:
        """``purge``, unless this store did so less than ``PURGE_EVERY`` seconds ago (blocking:
        call it off the event loop). Logins call it, so a running site cleans up after itself."""
        now = time.monotonic()
        with self._purge_lock:
            if now - self._last_purge < self.PURGE_EVERY:
                return None
            self._last_purge = now
        return self.purge()

    def backup(self, dest_path: Path | str) -> Path:
        """A consistent copy of the whole SQLite store at ``dest_path``, taken while the site keeps
        running (SQLite's online backup API). On PostgreSQL: ``BackupRefused``, use ``pg_dump``."""
        if self.database.dialect != "sqlite":
            raise BackupRefused(
                "应用存储在 PostgreSQL 中，labourkb backup 只能复制 SQLite 文件：请用 pg_dump 备份数据库"
                '（例如 pg_dump --format=custom --file=labourkb.dump "$LABOURKB_DATABASE_URL"，见 docs/deploy.md）'
            )
        return db.backup(sqlite_file(self.database), dest_path)


def sqlite_file(database: db.Database) -> Path:
    """The file of a SQLite ``Database``."""
    assert database.dialect == "sqlite", database.url
    return Path(database.engine.url.database)
