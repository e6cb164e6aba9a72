"""Two ``labourkb serve`` processes sharing one PostgreSQL and one Elasticsearch (issue 18's "done when").

A lawyer logs in on the first server and submits a case, a reviewer on the second publishes it,
and a search on the first finds it at once; the session made on one server is valid on the
other (no secret configured: the servers share the one kept in the database). Searches on both
appear in one ``/api/logs`` feed, none lost when one server is killed mid-load. An employer asked
about by K visitors spread over both servers raises exactly one warning and one webhook delivery.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from search_api import db
from search_api.accounts.users import Users
from search_api.engines.elasticsearch import ElasticsearchEngine
from search_api.engines.polled import PERIOD_S
from search_api.search.rebuild import rebuild_index
from search_api.settings import Settings
from tests.fixtures.cases import CASE, PASSWORD, csrf_from
from tests.monitoring.helpers import Receiver
from tests.monitoring.server import SearchLoad, Server

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
LAW = CORPUS / "laws" / "labor-contract-law.md"
K = 3
EMPLOYER_QUESTION = "深圳华强电子厂欠薪怎么办"
BROWSERS = (
    "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
)


@pytest.fixture
def cluster(tmp_path, pg_url, es_url):
    """Two servers A and B on one PostgreSQL schema and one Elasticsearch index prefix."""
    prefix = f"labourkb-test-{uuid.uuid4().hex[:8]}"
    corpus = tmp_path / "corpus"
    (corpus / "laws").mkdir(parents=True)
    (corpus / "laws" / LAW.name).symlink_to(LAW)
    env = {
        "LABOURKB_ENGINE": "elasticsearch",
        "LABOURKB_ES_URL": es_url,
        "LABOURKB_ES_INDEX_PREFIX": prefix,
        "LABOURKB_DATABASE_URL": pg_url,
        "LABOURKB_SECRET_KEY": "",  # none configured: the servers agree through the database
        "LABOURKB_SEMANTIC": "false",
        "LABOURKB_COOKIE_SECURE": "false",
        "LABOURKB_TRUSTED_PROXIES": "127.0.0.1/32",
        "LABOURKB_WARNING_MIN_VISITORS": str(K),
        "LABOURKB_CORPUS_DIR": str(corpus),
    }
    settings = Settings(
        data_dir=tmp_path / "setup",
        engine="elasticsearch",
        es_url=es_url,
        es_index_prefix=prefix,
        database_url=pg_url,
        corpus_dir=corpus,
        semantic=False,
    )
    engine = ElasticsearchEngine(settings)
    rebuild_index(settings, engine)
    users = Users(db.app_database(settings))
    users.create("lawyer1", PASSWORD, "lawyer")
    users.create("reviewer1", PASSWORD, "reviewer")
    receiver = Receiver()
    env["LABOURKB_WEBHOOK_URLS"] = receiver.url
    servers = [Server(tmp_path / name, env=env, startup_timeout=180) for name in ("a", "b")]
    yield servers, settings, receiver
    for server in servers:
        server.stop()
    receiver.close()
    engine.client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    db.dispose_all()


def _login(http: httpx.Client, username: str) -> None:
    page = http.get("/login")
    resp = http.post("/login", data={"csrf_token": csrf_from(page.text), "username": username, "password": PASSWORD})
    assert resp.status_code == 303, resp.text


def _form(http: httpx.Client, path: str, data: dict, page: str) -> httpx.Response:
    return http.post(path, data={**data, "csrf_token": csrf_from(http.get(page).text)})


def _hit_ids(http: httpx.Client, q: str) -> list[str]:
    return [h["id"] for h in http.get("/api/search", params={"q": q, "size": 20}).json()["hits"]]


def _feed_ids(base_url: str, token: str) -> set[str]:
    resp = httpx.get(base_url + "/api/logs", params={"limit": 1000}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    records = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
    return {r["query_id"] for r in records if r.get("query_id")}


def test_a_case_written_on_one_server_is_published_on_the_other_and_found_on_the_first(cluster):
    (a, b), _, _ = cluster
    with httpx.Client(base_url=a.url, timeout=30) as on_a, httpx.Client(base_url=b.url, timeout=30) as on_b:
        _login(on_a, "lawyer1")
        created = _form(on_a, "/lawyer/cases/new", CASE, "/lawyer/cases/new")
        assert created.status_code == 303, created.text
        case_url = created.headers["location"]
        case_id = int(case_url.rsplit("/", 1)[1])
        submitted = _form(on_a, f"{case_url}/submit", {"confirm_citations": "1"}, case_url)
        assert submitted.status_code == 303, submitted.text

        # the session cookie made by A is a session on B as well (shared store, shared secret)
        on_b.cookies.update(on_a.cookies)
        assert CASE["title"] in on_b.get(case_url).text
        on_b.cookies.clear()

        _login(on_b, "reviewer1")
        assert f"lawyer-case-{case_id}" not in _hit_ids(on_a, "餐饮公司拖欠工资")
        published = _form(on_b, f"{case_url}/review", {"action": "publish"}, case_url)
        assert published.status_code == 303, published.text
        assert "已发布" in on_b.get(case_url).text
        assert f"lawyer-case-{case_id}" in _hit_ids(on_b, "餐饮公司拖欠工资")  # at once on the publishing server
        # on the other server within the period its kept answers are checked in (engines.polled: the
        # node's own refresh interval), not after a restart
        deadline = time.monotonic() + PERIOD_S + 2.0
        while f"lawyer-case-{case_id}" not in _hit_ids(on_a, "餐饮公司拖欠工资"):
            assert time.monotonic() < deadline, "the published case never reached the other server"
            time.sleep(0.1)


def test_searches_on_both_servers_reach_one_feed_none_lost_when_one_is_killed(cluster):
    (a, b), settings, _ = cluster
    from search_api.accounts.tokens import create_token

    token = create_token(settings, "monitor", ["logs:read"])
    load = SearchLoad([a, a, b, b], lambda n, i: f"加班费怎么算 {n}-{i}")
    deadline = time.monotonic() + 60
    while load.count() < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    a.kill()  # mid-load: answers in flight on A die with it
    time.sleep(1.0)
    answered = load.stop()
    assert len(answered) >= 40
    # what A answered last may wait in A's journal (monitoring.journal), on A's disk, until A runs again
    restarted = Server(a.workdir, env=a.env, startup_timeout=180)
    try:
        deadline = time.monotonic() + 30
        while (missing := set(answered) - _feed_ids(b.url, token)) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        restarted.kill()
    assert not missing, f"{len(missing)} of {len(answered)} answered searches are not in the feed"


def test_an_employer_asked_on_both_servers_warns_once_with_one_delivery(cluster):
    (a, b), settings, receiver = cluster
    for i in range(K):
        server = (a, b)[i % 2]
        resp = httpx.get(
            server.url + "/api/search",
            params={"q": EMPLOYER_QUESTION},
            headers={"X-Forwarded-For": f"10.{i + 1}.0.7", "User-Agent": BROWSERS[i % len(BROWSERS)]},
            timeout=30,
        )
        assert resp.status_code == 200
    deadline = time.monotonic() + 30
    while not receiver.calls and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)  # long enough for a second server's duplicate, were there one
    with db.log_database(settings).connect() as conn:
        rows = conn.rows("SELECT kind, subject FROM warnings")
    assert [r["kind"] for r in rows] == ["employer"], rows
    assert len(receiver.calls) == 1
