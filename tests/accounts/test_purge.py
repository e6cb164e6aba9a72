"""Issue 12, finding 8 (part): expired sessions and old form stashes do not pile up."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from fastapi.testclient import TestClient

from search_api import db
from search_api.accounts.store import Store
from search_api.cli import cli
from search_api.settings import get_settings
from tests.fixtures.cases import PASSWORD, login, make_app

DAY = 24 * 3600


def stale_rows(store: Store, user_id: int) -> None:
    """One session expired two days ago, one a minute ago, one valid; one old and one new stash."""
    now = time.time()
    for token, expires in (("long-gone", now - 2 * DAY), ("just-expired", now - 60), ("valid", now + 3600)):
        with store.database.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
                " VALUES (:token, :user_id, 'csrf', :created_at, :expires_at)"
                " ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at",
                {"token": token, "user_id": user_id, "created_at": now - 3 * DAY, "expires_at": expires},
            )
    old = store.sessions.stash_form(user_id, "/lawyer/cases/new", {"title": "旧的"})
    store.sessions.stash_form(user_id, "/lawyer/cases/new", {"title": "新的"})
    with store.database.transaction() as conn:
        conn.execute("UPDATE form_stash SET created_at = :t WHERE data LIKE '%旧的%'", {"t": now - 2 * DAY})
    assert old


def remaining(store: Store) -> tuple[set[str], list[str]]:
    with store.database.connect() as conn:
        sessions = set(conn.column("SELECT token_hash FROM sessions"))
        stashes = [json.loads(data)["title"] for data in conn.column("SELECT data FROM form_stash")]
    return sessions, stashes


def test_a_login_purges_stale_sessions_and_form_stashes_at_most_every_few_minutes(settings, monkeypatch):
    app = make_app(settings, engine_docs=False)
    store = app.state.store
    user = store.users.create("lawyer1", PASSWORD, "lawyer")
    stale_rows(store, user.id)

    assert login(TestClient(app), "lawyer1").status_code == 303
    sessions, stashes = remaining(store)
    # Kept: a session expired a minute ago (a form posted with it is still stashed), the valid one,
    # the new stash and the session this login started.
    assert "long-gone" not in sessions and {"just-expired", "valid"} <= sessions and len(sessions) == 3
    assert stashes == ["新的"]

    # Not on every login: at most once per Store.PURGE_EVERY.
    stale_rows(store, user.id)
    login(TestClient(app), "lawyer1", "a wrong password")
    assert "long-gone" in remaining(store)[0]
    monkeypatch.setattr(Store, "PURGE_EVERY", 0.0)
    login(TestClient(app), "lawyer1", "a wrong password")  # failed logins clean up too
    assert "long-gone" not in remaining(store)[0]


def test_labourkb_purge_removes_stale_sessions_and_form_stashes(env):
    store = Store(db.app_database(get_settings()))
    user = store.users.create("lawyer1", PASSWORD, "lawyer")
    stale_rows(store, user.id)
    result = CliRunner().invoke(cli, ["purge"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["accounts"]["sessions"] == 1 and report["accounts"]["form_stashes"] == 1
    sessions, stashes = remaining(store)
    assert sessions == {"just-expired", "valid"} and stashes == ["新的"]
