"""Early warnings count networks, not User-Agent strings, and trust X-Forwarded-For only from named proxies.

Searches go through ``/api/search`` from chosen peer addresses (TestClient's ``client``), so the
client address is decided exactly as in production (``deps.client_ip``).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from pydantic import ValidationError

from search_api import db
from search_api.accounts.sessions import SESSION_COOKIE
from search_api.app import create_app
from search_api.db import parse_iso
from search_api.monitoring.alerts import list_warnings
from search_api.monitoring.redact import make_network_id
from search_api.monitoring.webhooks import verify
from search_api.settings import Settings
from tests.conftest import make_settings
from tests.monitoring.test_warnings import SECRET

QUESTION = "深圳华强电子厂欠薪怎么办"
CHROME = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"
WECHAT = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.40"

# The query-log file as the release before network ids and warning evidence created it.
OLD_SCHEMA = """
CREATE TABLE queries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
    timestamp TEXT NOT NULL, user_query TEXT NOT NULL, tokens TEXT NOT NULL, filters TEXT NOT NULL,
    engine TEXT NOT NULL, total INTEGER, hit_ids TEXT NOT NULL, took_ms REAL, failed INTEGER NOT NULL,
    source TEXT NOT NULL, district TEXT, topics TEXT NOT NULL, employers TEXT NOT NULL
);
CREATE INDEX queries_ts ON queries(timestamp);
CREATE INDEX queries_district_ts ON queries(district, timestamp);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, query_id TEXT NOT NULL,
    client_id TEXT NOT NULL, timestamp TEXT NOT NULL, action_name TEXT NOT NULL, object_id TEXT NOT NULL,
    position INTEGER
);
CREATE TABLE warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL,
    window_start TEXT NOT NULL, window_end TEXT NOT NULL, topics TEXT NOT NULL, visitors INTEGER NOT NULL,
    district TEXT, created_at TEXT NOT NULL, UNIQUE (kind, subject, window_start)
);
CREATE TABLE webhook_deliveries (
    warning_id INTEGER NOT NULL, url TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, delivered_at TEXT, PRIMARY KEY (warning_id, url)
);
"""


class Site:
    def __init__(self, tmp_path, receiver, **overrides):
        settings = make_settings(
            tmp_path / "data",
            secret_key="s",
            webhook_urls=receiver.url,
            webhook_secret=SECRET,
            webhook_timeout=2,
            **overrides,
        )
        self.settings = settings
        self.app = create_app(settings)
        self.querylog = self.app.state.querylog
        self.watcher, self.sender = self.app.state.monitor
        self.sender.backoff = 0.05

    def ask(self, peer: str, user_agent: str = CHROME, forwarded_for: str | None = None, q: str = QUESTION) -> str:
        headers = {"User-Agent": user_agent}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        resp = TestClient(self.app, client=(peer, 40_000)).get("/api/search", params={"q": q}, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()["query_id"]

    def settle(self) -> None:
        self.querylog.flush()
        assert self.sender.wait_idle(10)

    def warnings(self):
        with db.log_database(self.settings).connect() as conn:
            return list_warnings(conn)

    def query_field(self, query_id: str, column: str) -> str:
        with db.log_database(self.settings).connect() as conn:
            return conn.scalar(f"SELECT {column} FROM queries WHERE query_id = :id", {"id": query_id})

    def network_of_query(self, query_id: str) -> str:
        return self.query_field(query_id, "network_id")

    def network_id(self, ip: str, query_id: str) -> str:
        return make_network_id(b"s", ip, parse_iso(self.query_field(query_id, "timestamp")))

    def close(self) -> None:
        self.querylog.close()
        self.sender.close()
        self.watcher.close()
        self.app.state.engine.close()


@pytest.fixture
def site(tmp_path, receiver):
    s = Site(tmp_path, receiver)
    yield s
    s.close()


def test_three_browsers_from_one_address_raise_no_warning(site, receiver):
    for ua in (CHROME, FIREFOX, SAFARI, WECHAT):
        site.ask("203.0.113.5", ua)
    site.settle()
    assert site.warnings() == [] and receiver.calls == []


def test_three_addresses_of_one_network_raise_no_warning(site, receiver):
    for peer, ua in (("203.0.113.5", CHROME), ("203.0.113.6", FIREFOX), ("203.0.113.200", SAFARI)):
        site.ask(peer, ua)
    site.settle()
    assert site.warnings() == [] and receiver.calls == []


def test_three_networks_raise_a_warning_that_shows_its_evidence(site, receiver):
    site.ask("198.51.100.7", CHROME)
    site.ask("198.51.100.7", FIREFOX)  # same network, another browser: still one network
    site.ask("203.0.113.5", CHROME)
    site.settle()
    assert site.warnings() == []
    site.ask("2001:db8:1:2::5", CHROME)
    site.settle()
    (w,) = site.warnings()
    assert (w.kind, w.subject, w.visitors) == ("employer", "深圳华强电子厂", 3)
    assert w.evidence == {"networks": 3, "days": 1, "browsers": 2}
    # the webhook payload carries the evidence
    (call,) = receiver.calls
    headers, body = call
    assert verify(body, SECRET, headers["x-labourkb-signature"])
    payload = json.loads(body)
    assert payload["visitors"] == 3
    assert payload["evidence"] == {"networks": 3, "days": 1, "browsers": 2}
    for secret in ("198.51.100", "203.0.113", "2001:db8", "Firefox", "Chrome/"):
        assert secret not in body.decode()
    # and so does the dashboard
    store = site.app.state.store
    user = store.users.create("reviewer1", "a-long-password-1", "reviewer")
    token, _ = store.sessions.create(user.id, 3600)
    client = TestClient(site.app)
    client.cookies.set(SESSION_COOKIE, token)
    page = BeautifulSoup(client.get("/review").text, "html.parser")
    row = page.select_one("#warnings tbody tr")
    assert "深圳华强电子厂" in row.get_text()
    cells = {c: row.select_one(f"td.{c}").get_text(strip=True) for c in ("networks", "days", "browsers")}
    assert cells == {"networks": "3", "days": "1", "browsers": "2"}


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(site, receiver):
    ids = [
        site.ask("10.20.30.40", CHROME, forwarded_for=client)
        for client in ("198.51.100.7", "203.0.113.5", "192.0.2.9", "2001:db8::1")
    ]
    site.settle()
    assert site.warnings() == [] and receiver.calls == []
    for qid in ids:
        assert site.network_of_query(qid) == site.network_id("10.20.30.40", qid)


def test_a_trusted_proxy_names_the_client_right_to_left(tmp_path, receiver):
    site = Site(tmp_path, receiver, trusted_proxies="10.0.0.0/8, 2001:db8:ffff::/48")
    try:
        cases = [
            # (peer, X-Forwarded-For, the client it means)
            ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
            # the left part is whatever the client wrote: never believed past an untrusted hop
            ("10.0.0.2", "1.2.3.4, 203.0.113.5", "203.0.113.5"),
            # two trusted proxies in a row
            ("10.0.0.2", "192.0.2.9, 10.0.0.3", "192.0.2.9"),
            # garbage: the nearest proxy we trust is all we know
            ("10.0.0.2", "not-an-address, 10.9.9.9", "10.9.9.9"),
            # a peer outside the trusted set: its header counts for nothing
            ("198.51.100.200", "203.0.113.77", "198.51.100.200"),
        ]
        ids = [site.ask(peer, CHROME, forwarded_for=xff) for peer, xff, _ in cases]
        site.settle()
        for qid, (peer, xff, client) in zip(ids, cases, strict=True):
            assert site.network_of_query(qid) == site.network_id(client, qid), (peer, xff, client)
        # 198.51.100.0/24 (twice), 203.0.113.0/24 and 192.0.2.0/24: three networks behind the proxy
        (w,) = site.warnings()
        assert w.evidence["networks"] >= 3
    finally:
        site.close()


def test_trusted_proxies_setting_is_checked():
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8, not-a-network")
    assert Settings(trusted_proxies="").trusted_proxies == ""


def test_a_log_file_from_before_network_ids_is_upgraded(tmp_path, receiver):
    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(tmp_path / "data" / "querylog.sqlite3")
    conn.executescript(OLD_SCHEMA)
    conn.close()
    site = Site(tmp_path, receiver)
    try:
        for peer in ("198.51.100.7", "203.0.113.5", "192.0.2.9"):
            site.ask(peer)
        site.settle()
        (w,) = site.warnings()
        assert w.evidence == {"networks": 3, "days": 1, "browsers": 1}
    finally:
        site.close()
