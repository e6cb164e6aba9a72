"""The site secret is one for every app server: configured, kept in the shared PostgreSQL
database, or (SQLite) in the data directory as before."""

from __future__ import annotations

import stat
import threading

from fastapi.testclient import TestClient

from search_api import db
from search_api.accounts.secret import SECRET_FILE, SECRET_NAME, load_secret
from search_api.accounts.sessions import SESSION_COOKIE
from search_api.routes.help import form_stamp, stamp_age
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, csrf_from, login, make_app


def test_a_configured_secret_wins_and_nothing_is_stored(tmp_path, pg_url):
    for database_url in (None, pg_url):
        settings = make_settings(tmp_path / "data", secret_key="configured one", database_url=database_url)
        assert load_secret(settings) == b"configured one"
    assert not (tmp_path / "data" / SECRET_FILE).exists()
    with db.open_database(pg_url, "app").connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM site_values") == 0
    db.dispose_all()


def test_without_a_database_the_secret_is_a_file_in_the_data_directory(tmp_path):
    settings = make_settings(tmp_path / "data")
    secret = load_secret(settings)
    path = tmp_path / "data" / SECRET_FILE
    assert len(secret) == 64 and path.read_text().strip().encode() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(settings) == secret
    assert load_secret(make_settings(tmp_path / "elsewhere")) != secret  # another site


def test_servers_on_one_database_share_one_secret_even_starting_together(tmp_path, pg_url):
    servers = [make_settings(tmp_path / f"server{i}", database_url=pg_url) for i in range(4)]
    secrets: list[bytes] = [b""] * len(servers)
    barrier = threading.Barrier(len(servers))

    def start(i: int) -> None:
        barrier.wait()
        secrets[i] = load_secret(servers[i])

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(secrets[0]) == 64 and set(secrets) == {secrets[0]}
    assert not any((s.data_dir / SECRET_FILE).exists() for s in servers)  # nothing server-local
    with db.open_database(pg_url, "app").connect() as conn:
        assert conn.column("SELECT value FROM site_values WHERE name = :n", {"n": SECRET_NAME}) == [secrets[0].decode()]
    db.dispose_all()


def test_a_session_and_a_help_form_from_one_app_are_good_on_the_other(tmp_path, pg_url):
    apps = [
        make_app(make_settings(tmp_path / name, database_url=pg_url, querylog_enabled=False), engine_docs=False)
        for name in ("a", "b")
    ]
    apps[0].state.store.users.create("lawyer1", PASSWORD, "lawyer")
    with TestClient(apps[0]) as on_a, TestClient(apps[1]) as on_b:
        assert login(on_a, "lawyer1").status_code == 303
        on_b.cookies.set(SESSION_COOKIE, on_a.cookies[SESSION_COOKIE])
        page = on_b.get("/lawyer/", follow_redirects=False)
        assert page.status_code == 200
        out = on_b.post("/logout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert out.status_code == 303  # the session's CSRF token is the same on both
        assert on_a.get("/lawyer/", follow_redirects=False).status_code == 303  # ended for both
    help_a, help_b = (app.state.help for app in apps)
    assert stamp_age(help_b.secret, form_stamp(help_a.secret)) is not None  # served by A, posted to B
    assert help_b.sealer.open(help_a.sealer.seal({"phone": "13800000000"})) == {"phone": "13800000000"}
    db.dispose_all()
