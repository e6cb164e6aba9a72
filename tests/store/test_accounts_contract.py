"""The store contract of accounts: users and their districts, sessions and form stashes,
personal and scoped tokens, the login throttle — each test on a SQLite file and on a fresh
PostgreSQL schema.

"Two servers" are two :class:`Database` objects on one store, each with its own engine and
pool (``second_server``), as two app servers have: what one writes the other reads at once,
and what both write at the same moment is neither lost nor doubled.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from search_api.accounts.sessions import STALE_AFTER, Sessions
from search_api.accounts.store import BackupRefused, Store
from search_api.accounts.throttle import FIRST_DELAY, FREE_FAILURES, LoginThrottle, delay_after
from search_api.accounts.tokens import (
    ApiTokens,
    TokenRefused,
    check_token,
    create_token,
    list_tokens,
    revoke_token,
)
from search_api.accounts.users import LOGIN_REFUSED, LoginError, Users
from search_api.errors import Invalid
from tests.conftest import make_settings

PASSWORD = "correct horse battery"
NET = "203.0.113.0/24"
OTHER_NET = "198.51.100.0/24"
DAY = 24 * 3600


def together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in threads released at the same moment; each one's result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except Exception as exc:  # the test looks at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ---- users -----------------------------------------------------------------------------


def test_a_user_is_created_read_and_authenticated(app_db):
    users = Users(app_db)
    user = users.create("lawyer1", PASSWORD, "lawyer", display_name=" 张律师 ")
    assert (user.username, user.role, user.display_name, user.active) == ("lawyer1", "lawyer", "张律师", True)
    assert users.get(user.id) == user
    assert users.with_hash("lawyer1")[1].startswith("$argon2id$")
    assert users.authenticate("lawyer1", PASSWORD) == user
    with pytest.raises(LoginError) as wrong:
        users.authenticate("lawyer1", "not the password")
    with pytest.raises(LoginError) as unknown:
        users.authenticate("nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message == LOGIN_REFUSED
    assert users.get(user.id + 1) is None and users.get(2**40) is None


def test_user_names_are_one_account_whatever_their_case(app_db):
    users = Users(app_db)
    alice = users.create("Alice", PASSWORD, "reviewer")
    with pytest.raises(Invalid, match="已存在"):
        users.create("alice", PASSWORD, "lawyer")
    assert users.with_hash(" ALICE ")[0] == alice
    assert users.authenticate("aLiCe", PASSWORD) == alice
    assert users.with_hash("alice\x00") is None
    users.create("bob", PASSWORD, "lawyer")
    users.create("Carol", PASSWORD, "admin")
    assert [u.username for u in users.list()] == ["Alice", "bob", "Carol"]  # ordered whatever the case


def test_two_servers_creating_one_name_at_once_make_one_account(app_db, second_server):
    a, b = Users(app_db), Users(second_server)
    results = together(lambda: a.create("Zhang", PASSWORD, "lawyer"), lambda: b.create("zhang", PASSWORD, "lawyer"))
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Invalid) and "已存在" in refused[0].message
    assert [u.username.lower() for u in b.list()] == ["zhang"]


def test_staff_and_lawyers_carry_their_districts(app_db):
    users = Users(app_db)
    desk = users.create("desk1", PASSWORD, "staff", districts=["崂山区", " 市南区 ", "崂山区", ""])
    rota = users.create("lawyer2", PASSWORD, "lawyer", districts=["市北区"])
    plain = users.create("lawyer3", PASSWORD, "lawyer")
    assert desk.districts == tuple(sorted(["崂山区", "市南区"])) and rota.districts == ("市北区",)
    assert users.with_hash("DESK1")[0].districts == desk.districts
    assert {u.username: u.districts for u in users.list()} == {
        "desk1": desk.districts,
        "lawyer2": ("市北区",),
        "lawyer3": (),
    }
    assert plain.districts == ()
    with pytest.raises(Invalid, match="至少一个区"):
        users.create("desk2", PASSWORD, "staff")
    with pytest.raises(Invalid, match="只有"):
        users.create("rev1", PASSWORD, "reviewer", districts=["崂山区"])
    assert len(users.list()) == 3
    with app_db.connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM user_districts") == 3


def test_an_inactive_account_neither_logs_in_nor_uses_its_tokens(app_db):
    users, tokens = Users(app_db), ApiTokens(app_db)
    user = users.create("gone", PASSWORD, "lawyer")
    token = tokens.create(user.id)
    with app_db.transaction() as conn:  # the account switched off in the store
        conn.execute("UPDATE users SET active = 0 WHERE id = :id", {"id": user.id})
    assert users.get(user.id).active is False
    with pytest.raises(LoginError) as refused:
        users.authenticate("gone", PASSWORD)
    assert refused.value.message == LOGIN_REFUSED
    assert tokens.user_for(token) is None


def test_typed_text_is_stored_without_nul(app_db):
    users, tokens, sessions = Users(app_db), ApiTokens(app_db), Sessions(app_db)
    user = users.create("nul1", PASSWORD, "lawyer", display_name="张\x00三", districts=["崂山\x00区"])
    assert (user.display_name, user.districts) == ("张三", ("崂山区",))
    tokens.create(user.id, "tool\x00")
    assert tokens.list(user.id)[0]["name"] == "tool"
    stash = sessions.stash_form(user.id, "/lawyer/cases/new\x00", {"facts": "a\x00b"})
    assert sessions.pop_form(stash, user.id) == ("/lawyer/cases/new", {"facts": "a\x00b"})


# ---- sessions, CSRF tokens, form stashes -------------------------------------------------------


def test_a_session_started_on_one_server_is_seen_extended_and_ended_on_the_other(app_db, second_server):
    user = Users(app_db).create("sess", PASSWORD, "lawyer")
    a, b = Sessions(app_db), Sessions(second_server)
    token, csrf = a.create(user.id, 60)
    row = b.get(token)
    assert (row["user_id"], row["csrf_token"]) == (user.id, csrf) and row["expires_at"] > time.time()
    b.extend(token, row["expires_at"] + 3600)
    assert a.get(token)["expires_at"] == row["expires_at"] + 3600
    other, other_csrf = a.create(user.id, 60)  # another browser: its own token and CSRF token
    assert other != token and other_csrf != csrf and b.get(other)["csrf_token"] == other_csrf
    b.delete(token)
    assert a.get(token) is None and a.get(other) is not None and a.get("never issued") is None
    with app_db.connect() as conn:  # only digests are stored
        assert conn.scalar("SELECT COUNT(*) FROM sessions WHERE token_hash IN (:a, :b)", {"a": token, "b": other}) == 0


def test_deleting_a_user_ends_their_sessions_and_tokens(app_db):
    user = Users(app_db).create("leaver", PASSWORD, "lawyer")
    token, _ = Sessions(app_db).create(user.id, 60)
    ApiTokens(app_db).create(user.id)
    with app_db.transaction() as conn:
        conn.execute("DELETE FROM users WHERE id = :id", {"id": user.id})
    assert Sessions(app_db).get(token) is None
    with app_db.connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM api_tokens") == 0


def test_stale_sessions_stashes_and_login_failures_are_purged(app_db):
    store = Store(app_db)
    user = store.users.create("purge", PASSWORD, "lawyer")
    long_gone, _ = store.sessions.create(user.id, -2 * DAY)
    just_expired, _ = store.sessions.create(user.id, -60)
    valid, _ = store.sessions.create(user.id, 3600)
    store.sessions.stash_form(user.id, "/lawyer/cases/new", {"title": "x"})
    store.users.throttle.failed("purge", NET)
    assert store.purge() == {"sessions": 1, "form_stashes": 0, "login_failures": 0}
    assert store.sessions.get(long_gone) is None and store.sessions.get(just_expired) is not None
    later = time.time() + STALE_AFTER + 120
    assert store.purge(later) == {"sessions": 1, "form_stashes": 1, "login_failures": 1}
    assert store.sessions.get(valid) is not None


def test_a_stashed_form_is_taken_back_once_and_only_by_its_user(app_db, second_server):
    users = Users(app_db)
    typist, other = users.create("stash_a", PASSWORD, "lawyer"), users.create("stash_b", PASSWORD, "lawyer")
    a, b = Sessions(app_db), Sessions(second_server)
    token = a.stash_form(typist.id, "/lawyer/cases/new", {"title": "标题", "n": 1})
    assert b.pop_form(token, other.id) is None
    results = together(lambda: a.pop_form(token, typist.id), lambda: b.pop_form(token, typist.id))
    assert sorted(results, key=bool) == [None, ("/lawyer/cases/new", {"title": "标题", "n": 1})]
    anonymous = a.stash_form(None, "/help", {})
    assert b.pop_form(anonymous, typist.id) is None


# ---- bearer tokens -------------------------------------------------------------------------------


def test_personal_api_tokens_are_created_checked_and_revoked_on_either_server(app_db, second_server):
    users = Users(app_db)
    user = users.create("tool", PASSWORD, "lawyer", districts=["市北区"])
    stranger = users.create("stranger", PASSWORD, "lawyer")
    a, b = ApiTokens(app_db), ApiTokens(second_server)
    token = a.create(user.id, "  importer  ")
    assert token.startswith("lkb_") and b.user_for(token) == user
    assert b.user_for(token + "x") is None
    (row,) = a.list(user.id)
    assert (row["name"], row["revoked"]) == ("importer", 0) and row["last_used_at"]
    assert a.list(stranger.id) == []
    with app_db.connect() as conn:
        assert token not in conn.column("SELECT token_hash FROM api_tokens")
    assert not a.revoke(stranger.id, row["id"])
    assert not a.revoke(user.id, 0) and not a.revoke(user.id, 2**62) and not a.revoke(user.id, 2**64)
    assert b.revoke(user.id, row["id"])
    assert a.user_for(token) is None and a.list(user.id)[0]["revoked"] == 1


def test_scoped_tokens_hold_their_scopes_until_revoked(app_db, database_url, tmp_path):
    settings = make_settings(tmp_path, database_url=database_url)  # its app store is app_db
    raw = create_token(settings, " monitor ", ["logs:read", "help:read", "logs:read"])
    assert raw.startswith("lkbr_")
    info = check_token(settings, raw, "logs:read")
    assert (info.name, info.scopes, info.revoked) == ("monitor", ("help:read", "logs:read"), False)
    assert check_token(settings, raw, "help:personal") is None
    assert check_token(settings, raw + "x", "logs:read") is None and check_token(settings, None, "logs:read") is None
    for name, scopes in (("x", ["logs:write"]), ("", ["logs:read"]), ("x" * 101, ["logs:read"]), ("x", [])):
        with pytest.raises(TokenRefused):
            create_token(settings, name, scopes)
    (listed,) = list_tokens(settings)
    assert listed.id == info.id and listed.last_used_at  # its use was noted
    with app_db.connect() as conn:
        assert conn.column("SELECT name FROM scoped_tokens") == ["monitor"]
    assert not revoke_token(settings, 2**62) and not revoke_token(settings, info.id + 1)
    assert revoke_token(settings, info.id)
    assert check_token(settings, raw, "logs:read") is None and list_tokens(settings)[0].revoked


# ---- login throttle ------------------------------------------------------------------------------


def test_login_failures_count_across_servers(app_db, second_server):
    a, b = Users(app_db), Users(second_server)
    a.create("lawyer1", PASSWORD, "lawyer")
    for i in range(FREE_FAILURES - 1):
        (a, b)[i % 2].throttle.failed("lawyer1", NET)
    assert b.throttle.wait("lawyer1", NET) == 0
    with pytest.raises(LoginError) as last:  # the FREE_FAILURES-th, on the other server
        (a, b)[FREE_FAILURES % 2].authenticate("LAWYER1", "a wrong guess", NET)
    assert "分钟" in last.value.message
    assert 0 < a.throttle.wait("lawyer1", NET) <= FIRST_DELAY
    with pytest.raises(LoginError):  # the right password from that network waits too, on any server
        b.authenticate("lawyer1", PASSWORD, NET)
    assert a.authenticate("lawyer1", PASSWORD, OTHER_NET).username == "lawyer1"  # never a lock-out


def test_failures_counted_at_once_on_two_servers_are_all_counted(app_db, second_server):
    a, b = LoginThrottle(app_db), LoginThrottle(second_server)

    def fail(throttle: LoginThrottle) -> list[float]:
        return [throttle.failed("lawyer1", NET) for _ in range(5)]

    results = together(lambda: fail(a), lambda: fail(b), lambda: fail(a), lambda: fail(b))
    delays = sorted(d for r in results for d in r)
    assert delays == sorted(delay_after(n) for n in range(1, 21))  # each count given out once
    with app_db.connect() as conn:
        assert conn.scalar("SELECT failures FROM login_failures") == 20
    b.succeeded("lawyer1", NET)
    assert a.wait("lawyer1", NET) == 0


# ---- backup ----------------------------------------------------------------------------------


def test_backup_copies_a_sqlite_store_and_points_postgresql_to_pg_dump(app_db, tmp_path):
    store = Store(app_db)
    store.users.create("writer", PASSWORD, "lawyer")
    dest = tmp_path / "backups" / "app-copy.sqlite3"
    if app_db.is_postgresql:
        with pytest.raises(BackupRefused, match="pg_dump"):
            store.backup(dest)
        assert not dest.exists()
        return
    with sqlite3.connect(store.backup(dest)) as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("writer",)]
