"""HTTPS behind a reverse proxy: the scheme comes from X-Forwarded-Proto of trusted proxies only.

The proxy terminates TLS and forwards plain HTTP. With ``LABOURKB_TRUSTED_PROXIES`` naming it,
a login through it works with Secure cookies; a client that writes the header itself (or any
peer when no proxy is trusted) is still on plain HTTP, and the login page says what to do.
"""

from __future__ import annotations

import re

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from search_api.accounts.forms import CSRF_COOKIE
from search_api.accounts.sessions import SESSION_COOKIE
from search_api.deps import request_scheme
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, csrf_from, make_app

PROXY = "10.0.0.2"
OUTSIDER = "203.0.113.9"
NOTICE = "LABOURKB_COOKIE_SECURE=false"


def secure_app(tmp_path, trusted_proxies: str):
    settings = make_settings(tmp_path / "data", cookie_secure=True, trusted_proxies=trusted_proxies)
    app = make_app(settings, engine_docs=False)
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    return app


def cookie_value(response, name: str) -> str:
    match = re.search(rf"{name}=([^;]+);[^,]*Secure", response.headers.get("set-cookie", ""))
    assert match, (name, response.headers.get("set-cookie"))
    return match.group(1)


def login_through(client: TestClient, proto: str):
    """A login as the browser would make it: the page, then the form with the cookie it was given.

    The cookie is passed by hand, as a browser on HTTPS sends a Secure cookie whatever the proxy
    forwards (the test client would not send it to an http:// URL).
    """
    page = client.get("/login", headers={"X-Forwarded-Proto": proto})
    data = {"csrf_token": csrf_from(page.text), "username": "lawyer1", "password": PASSWORD}
    cookie = f"{CSRF_COOKIE}={cookie_value(page, CSRF_COOKIE)}"
    response = client.post(
        "/login", data=data, headers={"X-Forwarded-Proto": proto, "Cookie": cookie}, follow_redirects=False
    )
    return page, response


def test_login_through_a_trusted_tls_proxy_works_with_secure_cookies(tmp_path):
    app = secure_app(tmp_path, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    with TestClient(app, base_url="http://testserver", client=(PROXY, 40000)) as client:
        page, response = login_through(client, "https")
        assert NOTICE not in page.text
        assert response.status_code == 303 and response.headers["location"] == "/lawyer/"
        assert cookie_value(response, SESSION_COOKIE)


@pytest.mark.parametrize(
    ("trusted", "peer", "proto"),
    [
        ("10.0.0.0/8", OUTSIDER, "https"),  # the client wrote the header itself
        ("", PROXY, "https"),  # no proxy is trusted: the header is nobody's word
        ("10.0.0.0/8", PROXY, "http"),  # the proxy itself was reached over plain HTTP
    ],
)
def test_plain_http_is_not_hidden_by_an_untrusted_header(tmp_path, trusted, peer, proto):
    app = secure_app(tmp_path, trusted_proxies=trusted)
    with TestClient(app, base_url="http://testserver", client=(peer, 40000)) as client:
        page = client.get("/login", headers={"X-Forwarded-Proto": proto})
        assert NOTICE in page.text and "HTTPS" in page.text
        # the browser on plain HTTP drops the Secure cookie: the answer says why, not "CSRF"
        data = {"csrf_token": csrf_from(page.text), "username": "lawyer1", "password": PASSWORD}
        refused = client.post("/login", data=data, headers={"X-Forwarded-Proto": proto}, follow_redirects=False)
        assert refused.status_code == 400 and NOTICE in refused.text and "CSRF" not in refused.text


def test_the_nearest_trusted_proxy_has_the_last_word(tmp_path):
    app = secure_app(tmp_path, trusted_proxies="10.0.0.0/8")
    seen: list[str] = []

    @app.get("/test-scheme")
    def scheme(request: Request) -> dict:
        seen.append(request_scheme(request))
        return {}

    with TestClient(app, base_url="http://testserver", client=(PROXY, 40000)) as client:
        for value in ("https", "http, https", "https, http", "gopher", ""):
            client.get("/test-scheme", headers={"X-Forwarded-Proto": value} if value else {})
    assert seen == ["https", "https", "http", "http", "http"]


@pytest.mark.parametrize(
    ("host", "notice"),
    [("127.0.0.1:8000", False), ("localhost:8000", False), ("[::1]:8000", False), ("192.168.1.20:8000", True)],
)
def test_loopback_needs_no_https_but_the_lan_does(tmp_path, host, notice):
    # browsers keep Secure cookies for loopback hosts (tests/browser/test_login_loopback.py), so
    # `make serve` on http://127.0.0.1:8000 logs in; a LAN address over http cannot
    app = secure_app(tmp_path, trusted_proxies="")
    with TestClient(app, base_url=f"http://{host}") as client:
        assert (NOTICE in client.get("/login").text) is notice
