"""The app store: accounts with argon2 hashes, hashed tokens, form stash, online backup."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest

from search_api import db
from search_api.accounts.store import Store, sqlite_file
from search_api.db import backup
from search_api.errors import Invalid

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path):
    yield Store(db.open_database(tmp_path / "app.sqlite3", "app"))
    db.dispose_all()


def test_store_uses_wal(store):
    with closing(sqlite3.connect(sqlite_file(store.database))) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_create_user_hashes_with_argon2_and_no_plaintext_on_disk(store):
    user = store.users.create("lawyer1", PASSWORD, "lawyer")
    assert user.role == "lawyer" and user.username == "lawyer1"
    _, pw_hash = store.users.with_hash("lawyer1")
    assert pw_hash.startswith("$argon2id$")
    # Not in the main file, not in the WAL either.
    path = sqlite_file(store.database)
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith("app.sqlite3"))
    assert PASSWORD.encode() not in raw


@pytest.mark.parametrize(
    "username, password, role, message",
    [
        ("ab", PASSWORD, "lawyer", "用户名"),
        ("bad name!", PASSWORD, "lawyer", "用户名"),
        ("lawyer2", "short", "lawyer", "密码至少"),
        ("lawyer2", PASSWORD, "superuser", "角色"),
    ],
)
def test_create_user_rejects_bad_input(store, username, password, role, message):
    with pytest.raises(Invalid) as err:
        store.users.create(username, password, role)
    assert message in err.value.message
    assert store.users.list() == []


def test_duplicate_username_case_insensitive(store):
    store.users.create("Alice", PASSWORD, "reviewer")
    with pytest.raises(Invalid, match="已存在"):
        store.users.create("alice", PASSWORD, "lawyer")


def test_api_token_stored_hashed_and_revocable(store):
    user = store.users.create("tool", PASSWORD, "lawyer")
    token = store.tokens.create(user.id, "importer")
    assert store.tokens.user_for(token).id == user.id
    assert store.tokens.user_for(token + "x") is None
    with closing(sqlite3.connect(sqlite_file(store.database))) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM api_tokens")]
    assert token not in stored
    (row,) = store.tokens.list(user.id)
    assert store.tokens.revoke(user.id, row["id"])
    assert store.tokens.user_for(token) is None


def test_session_token_stored_hashed(store):
    user = store.users.create("sess", PASSWORD, "lawyer")
    token, csrf = store.sessions.create(user.id, 60)
    assert store.sessions.get(token)["csrf_token"] == csrf
    with closing(sqlite3.connect(sqlite_file(store.database))) as conn:
        assert conn.execute("SELECT count(*) FROM sessions WHERE token_hash = ?", (token,)).fetchone()[0] == 0
    store.sessions.delete(token)
    assert store.sessions.get(token) is None


def test_form_stash_is_single_use_and_per_user(store):
    a = store.users.create("stash_a", PASSWORD, "lawyer")
    b = store.users.create("stash_b", PASSWORD, "lawyer")
    token = store.sessions.stash_form(a.id, "/lawyer/cases/new", {"title": "标题"})
    assert store.sessions.pop_form(token, b.id) is None
    assert store.sessions.pop_form(token, a.id) == ("/lawyer/cases/new", {"title": "标题"})
    assert store.sessions.pop_form(token, a.id) is None


def test_backup_is_consistent_while_writing(store, tmp_path):
    user = store.users.create("writer", PASSWORD, "lawyer")
    stop = threading.Event()

    def write():
        while not stop.is_set():
            store.tokens.create(user.id, "load")

    thread = threading.Thread(target=write)
    thread.start()
    try:
        dest = store.backup(tmp_path / "backups" / "app-copy.sqlite3")
    finally:
        stop.set()
        thread.join()
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT username FROM users").fetchall() == [("writer",)]
    conn.close()
    # The module-level helper the CLI calls does the same.
    again = backup(sqlite_file(store.database), tmp_path / "again.sqlite3")
    assert sqlite3.connect(again).execute("SELECT count(*) FROM users").fetchone()[0] == 1
