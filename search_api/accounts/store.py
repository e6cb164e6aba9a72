"""The app store: one SQLite file (``Settings.store_path``) holding what users create.

``Store`` is built once by ``create_app`` (``app.state.store``) and holds one object per
group of tables, each in its own module:

* ``users``    accounts, password hashes               (``search_api.accounts.users``)
  and ``users.throttle``: failed logins per (name, network) (``search_api.accounts.throttle``)
* ``sessions`` browser sessions and the form stash    (``search_api.accounts.sessions``)
* ``tokens``   lawyers' personal API tokens           (``search_api.accounts.tokens``)
* ``cases``    lawyers' cases, versions and events    (``search_api.cases.store``)
* ``help``     workers' help requests, sealed          (``search_api.help.store``)
* ``employers`` the union's employer list, versioned   (``search_api.monitoring.employer_list``)

The scoped read-only tokens of monitoring systems share the file (``accounts.tokens``);
the query log keeps its own files. This file is a source of truth: the search index is
rebuilt from the corpus plus this store. Every part opens a short-lived connection per
call through ``search_api.db`` (WAL, busy timeout), so the store is safe to use from
FastAPI's thread pool; secrets are stored only as hashes.
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


class Store:
    """The app store at ``path`` (tables created on first use)."""

    PURGE_EVERY = 600.0  # seconds between the purges ``maybe_purge`` runs

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.users = Users(self.path)  # first: the other tables refer to users
        self.sessions = Sessions(self.path)
        self.tokens = ApiTokens(self.path)
        self.cases = CaseStore(self.path)
        self.help = HelpStore(self.path)
        self.employers = EmployerList(self.path)
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
        """A consistent copy of the whole store at ``dest_path``, taken while the site keeps running."""
        return db.backup(self.path, dest_path)
