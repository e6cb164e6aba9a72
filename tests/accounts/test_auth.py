"""Logins, cookies, CSRF, roles, API tokens and expired sessions, through the real app."""

from __future__ import annotations

import time
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from search_api.accounts.auth import require_role
from search_api.accounts.sessions import SESSION_COOKIE
from search_api.accounts.users import User
from tests.conftest import make_settings
from tests.fixtures.cases import CASE, PASSWORD, csrf_from, login, make_app


@pytest.fixture
def app(settings):
    app = make_app(settings, engine_docs=False)
    store = app.state.store
    store.users.create("lawyer1", PASSWORD, "lawyer")
    store.users.create("reviewer1", PASSWORD, "reviewer")
    store.users.create("admin1", PASSWORD, "admin")
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def test_login_sets_httponly_samesite_cookie_and_logout_ends_it(client):
    response = login(client, "lawyer1")
    assert response.status_code == 303 and response.headers["location"] == "/lawyer/"
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/lawyer/", follow_redirects=False).status_code == 200

    page = client.get("/lawyer/")
    out = client.post("/logout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/lawyer/", follow_redirects=False).status_code == 303


def test_secure_flag_when_cookie_secure(tmp_path):
    settings = make_settings(tmp_path / "data").model_copy(update={"cookie_secure": True})
    app = make_app(settings, engine_docs=False)
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    with TestClient(app, base_url="https://testserver") as client:
        response = login(client, "lawyer1")
        assert "Secure" in response.headers["set-cookie"]
        assert client.get("/lawyer/", follow_redirects=False).status_code == 200


def test_wrong_password_is_refused_without_saying_which_part(client):
    for name in ("lawyer1", "nobody"):
        response = login(client, name, "wrong password!")
        assert response.status_code == 400 and "用户名或密码错误" in response.text


def test_login_form_needs_csrf(client):
    response = client.post("/login", data={"username": "lawyer1", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403


def test_csrf_missing_or_wrong_on_case_form_is_403(client, app):
    login(client, "lawyer1")
    for token in (None, "forged"):
        data = dict(CASE) if token is None else {**CASE, "csrf_token": token}
        assert client.post("/lawyer/cases/new", data=data, follow_redirects=False).status_code == 403
    assert app.state.store.cases.list() == []


def test_open_redirect_after_login_is_refused(client):
    response = login(client, "lawyer1", next="https://evil.example/")
    assert response.headers["location"] == "/lawyer/"
    response = login(client, "lawyer1", next="//evil.example/")
    assert response.headers["location"] == "/lawyer/"


def test_pages_need_login_and_role(client):
    response = client.get("/lawyer/cases/new?x=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    login(client, "lawyer1")
    assert client.get("/admin/users").status_code == 403


def test_require_role_dependency_for_other_modules(tmp_path):
    """The query-log dashboard guards itself with ``require_role("reviewer", "admin")``."""
    app = make_app(make_settings(tmp_path / "data"), engine_docs=False)
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    app.state.store.users.create("reviewer1", PASSWORD, "reviewer")

    @app.get("/dashboard-probe")
    def probe(user: Annotated[User, Depends(require_role("reviewer", "admin"))]):
        return {"user": user.username}

    with TestClient(app) as client:
        assert client.get("/dashboard-probe", follow_redirects=False).status_code == 303
        login(client, "lawyer1")
        assert client.get("/dashboard-probe").status_code == 403
    with TestClient(app) as client:
        login(client, "reviewer1")
        assert client.get("/dashboard-probe").json() == {"user": "reviewer1"}


def test_admin_creates_user_through_the_site(client, app):
    login(client, "admin1")
    page = client.get("/admin/users")
    token = csrf_from(page.text)
    bad = client.post(
        "/admin/users", data={"csrf_token": token, "username": "new_lawyer", "password": "short", "role": "lawyer"}
    )
    assert bad.status_code == 422 and "密码至少" in bad.text and 'value="new_lawyer"' in bad.text
    ok = client.post(
        "/admin/users", data={"csrf_token": token, "username": "new_lawyer", "password": PASSWORD, "role": "lawyer"}
    )
    assert ok.status_code == 200 and "已创建账户 new_lawyer" in ok.text
    assert app.state.store.users.with_hash("new_lawyer")[0].role == "lawyer"


def test_expired_session_keeps_the_typed_form(client, app):
    login(client, "lawyer1")
    token = csrf_from(client.get("/lawyer/cases/new").text)
    store = app.state.store
    with store.database.transaction() as conn:  # the session runs out while the lawyer is typing
        conn.execute("UPDATE sessions SET expires_at = :t", {"t": time.time() - 10})
    typed = {**CASE, "facts": "打了很久的基本案情……", "csrf_token": token}
    response = client.post("/lawyer/cases/new", data=typed, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?")
    assert "restore=" in response.headers["location"]
    assert store.cases.list() == []

    login_page = client.get(response.headers["location"])
    assert "恢复" in login_page.text
    restore = login_page.text.split('name="restore" value="')[1].split('"')[0]
    after = client.post(
        "/login",
        data={
            "csrf_token": csrf_from(login_page.text),
            "username": "lawyer1",
            "password": PASSWORD,
            "next": "/lawyer/cases/new",
            "restore": restore,
        },
        follow_redirects=False,
    )
    assert after.headers["location"].startswith("/lawyer/cases/new?restore=")
    form = client.get(after.headers["location"])
    assert "打了很久的基本案情……" in form.text and CASE["title"] in form.text
    # Restored once only, and never for another user.
    assert "打了很久的基本案情" not in client.get(after.headers["location"]).text


def test_expired_session_with_forged_csrf_stashes_nothing(client, app):
    login(client, "lawyer1")
    with app.state.store.database.transaction() as conn:
        conn.execute("UPDATE sessions SET expires_at = :t", {"t": time.time() - 10})
    response = client.post("/lawyer/cases/new", data={**CASE, "csrf_token": "forged"}, follow_redirects=False)
    assert response.status_code == 303 and "restore=" not in response.headers["location"]


def test_api_needs_a_bearer_token_not_a_cookie(client, app):
    login(client, "lawyer1")
    assert client.post("/api/cases", json=CASE).status_code == 401  # the session cookie is not enough
    token = app.state.store.tokens.create(app.state.store.users.with_hash("lawyer1")[0].id)
    response = client.post("/api/cases", json=CASE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert client.get("/api/cases", headers={"Authorization": "Bearer lkb_wrong"}).status_code == 401


def test_api_token_page_issues_and_revokes(client, app):
    login(client, "lawyer1")
    page = client.post(
        "/account/tokens", data={"csrf_token": csrf_from(client.get("/account/tokens").text), "name": "脚本"}
    )
    token = page.text.split("<code>lkb_")[1].split("</code>")[0]
    headers = {"Authorization": f"Bearer lkb_{token}"}
    assert client.get("/api/cases", headers=headers).status_code == 200
    token_id = app.state.store.tokens.list(app.state.store.users.with_hash("lawyer1")[0].id)[0]["id"]
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page.text)})
    assert client.get("/api/cases", headers=headers).status_code == 401
