"""The monitoring feed, its stats, tokens, and the /go click redirect, in-process."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from search_api import db
from search_api.accounts.tokens import check_token, create_token, list_tokens, revoke_token
from search_api.app import create_app
from search_api.monitoring.stats import decode_cursor, encode_cursor
from search_api.routes import logs
from search_api.settings import Settings
from tests.monitoring.helpers import index_docs

ID_CARD = "440301199508082316"
PHONE = "13912345678"


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, secret_key="s", engine="sqlite", cookie_secure=False)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    if not any(getattr(r, "path", "") == "/api/logs" for r in app.routes):
        app.include_router(logs.router)
    return app


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def token(settings):
    return create_token(settings, "monitor", ["logs:read"])


def log_many(app, n, district="天河区", q="拖欠工资怎么办"):
    ql = app.state.querylog
    ids = [
        ql.log_search(
            q=f"{q}{i}",
            tokens=["拖欠工资"],
            engine="sqlite",
            total=i % 3,
            top_ids=[f"doc-{i}"],
            district=district,
            client_ip=f"10.0.0.{i}",
            user_agent="ua",
        )
        for i in range(n)
    ]
    ql.flush()
    return ids


def read_feed(client, token, **params):
    resp = client.get("/api/logs", params=params, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return [json.loads(line) for line in resp.text.splitlines()], resp.headers["x-next-cursor"]


def test_tokens_store_only_hashes(settings):
    raw = create_token(settings, "monitor", ["logs:read"])
    assert check_token(settings, raw, "logs:read").name == "monitor"
    assert check_token(settings, raw, "warnings:read") is None
    assert check_token(settings, raw + "x", "logs:read") is None
    assert raw.encode() not in settings.store_path.read_bytes()
    with pytest.raises(ValueError):
        create_token(settings, "x", ["logs:write"])
    (info,) = list_tokens(settings)
    assert revoke_token(settings, info.id)
    assert check_token(settings, raw, "logs:read") is None


def test_feed_needs_a_token(client, settings):
    assert client.get("/api/logs").status_code == 401
    assert client.get("/api/logs", headers={"Authorization": "Bearer nope"}).status_code == 401
    other = create_token(settings, "other scope", ["logs:read"])
    with db.connect(settings.store_path) as conn:  # a live token whose only scope is another one
        conn.execute("UPDATE scoped_tokens SET scopes = 'warnings:read' WHERE name = 'other scope'")
    assert client.get("/api/logs/stats", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_feed_resumes_exactly_from_its_cursor(client, app, token):
    ids = log_many(app, 25)
    first, cur1 = read_feed(client, token, limit=10)
    assert [r["query_id"] for r in first] == ids[:10]
    # a consumer that died after line 7 resumes from that line's cursor
    again, _ = read_feed(client, token, limit=10, cursor=first[6]["cursor"])
    assert [r["query_id"] for r in again] == ids[7:17]
    rest, cur2 = read_feed(client, token, cursor=cur1)
    assert [r["query_id"] for r in rest] == ids[10:]
    # nothing new: an empty page and the same cursor; new records appear after it
    empty, cur3 = read_feed(client, token, cursor=cur2)
    assert empty == [] and cur3 == cur2
    more = log_many(app, 3, q="工伤")
    tail, _ = read_feed(client, token, cursor=cur3)
    assert [r["query_id"] for r in tail] == more
    rec = first[0]
    for field in ("query_id", "query_response_id", "client_id", "timestamp", "user_query", "query_response_hit_ids"):
        assert field in rec
    assert {"topics", "district", "tokens"} <= set(rec["query_attributes"])


def test_feed_filters_by_district_and_time(client, app, token):
    log_many(app, 3, district="天河区")
    log_many(app, 2, district="越秀区")
    rows, _ = read_feed(client, token, district="越秀区")
    assert len(rows) == 2 and {r["query_attributes"]["district"] for r in rows} == {"越秀区"}
    assert len(read_feed(client, token, since="2000-01-01")[0]) == 5
    assert read_feed(client, token, until="2000-01-01")[0] == []
    assert read_feed(client, token, since="2999-01-01T00:00:00Z")[0] == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": encode_cursor(5)[:-3]},
        {"cursor": "eyJ2IjogMSwgInNlcSI6IC0xfQ"},  # {"v": 1, "seq": -1}
        {"since": "yesterday"},
        {"until": "2024-13-45"},
        {"since": "2024-05-01T25:00"},
    ],
)
def test_malformed_cursor_or_date_is_400(client, token, params):
    resp = client.get("/api/logs", params=params, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400
    body = resp.json()
    assert "游标" in json.dumps(body, ensure_ascii=False) or "日期" in json.dumps(body, ensure_ascii=False)
    if "cursor" not in params:
        assert (
            client.get("/api/logs/stats", params=params, headers={"Authorization": f"Bearer {token}"}).status_code
            == 400
        )


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor(123)) == 123
    assert decode_cursor(None) == 0


def test_stats_and_clicks(client, app, token):
    index_docs(app.state.engine, "labor-contract-law.30")
    ids = log_many(app, 6)
    resp = client.get(f"/go?qid={ids[1]}&id=labor-contract-law.30&pos=2", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/doc/labor-contract-law.30"
    app.state.querylog.flush()
    stats = client.get("/api/logs/stats", headers={"Authorization": f"Bearer {token}"}).json()
    assert stats["queries"] == 6 and stats["visitors"] == 6
    assert stats["zero_results"] == 2  # totals 0,1,2,0,1,2
    assert stats["clicked_queries"] == 1 and stats["click_through_rate"] == 0.25
    assert stats["topics_by_district"]["天河区"]["wage_arrears"] == 6
    assert sum(stats["topics_by_week"][w]["wage_arrears"] for w in stats["topics_by_week"]) == 6
    assert len(stats["unclicked_queries"]) == 3


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/x", "../admin", "", "a/b"])
def test_go_only_redirects_inside_the_site(client, target):
    resp = client.get("/go", params={"id": target, "qid": "abc", "pos": "1"}, follow_redirects=False)
    assert resp.status_code == 400


def test_no_trace_of_personal_numbers_anywhere(client, app, settings, token):
    index_docs(app.state.engine, "labor-law.50")
    ql = app.state.querylog
    qid = ql.log_search(
        q=f"我叫张三 身份证{ID_CARD} 手机{PHONE} 华强电子厂欠薪",
        tokens=[ID_CARD, PHONE, "欠薪"],
        engine="sqlite",
        total=1,
        top_ids=["labor-law.50"],
        district="天河区",
        client_ip="198.51.100.7",
        user_agent="Mozilla/5.0 Secret-Agent",
    )
    client.get(f"/go?qid={qid}&id=labor-law.50&pos=1", follow_redirects=False)
    ql.flush()
    rows, _ = read_feed(client, token)
    stats = client.get("/api/logs/stats", headers={"Authorization": f"Bearer {token}"}).text
    shown = json.dumps(rows, ensure_ascii=False) + stats
    assert "[身份证号]" in shown and "[手机号]" in shown
    # one visitor only: the employer is masked in everything shown
    assert "华强电子厂" not in shown and "[用人单位]" in shown
    ql.close()
    stored = b"".join(_read(p) for p in settings.data_dir.rglob("*") if p.is_file())
    for secret in (ID_CARD, PHONE, "198.51.100.7", "Secret-Agent"):
        assert secret not in shown
        assert secret.encode() not in stored


def _read(path) -> bytes:
    """A file's bytes, or nothing when SQLite removed it (a -shm/-wal file) between listing and reading."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
