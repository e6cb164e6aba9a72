"""``/go`` (the no-JS click link) stores a click only for a real document and a query id the site issued."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from search_api.app import create_app
from tests.conftest import make_settings
from tests.monitoring.helpers import index_docs

DOC = "labor-contract-law.47"


@pytest.fixture
def site(tmp_path):
    settings = make_settings(tmp_path / "data", secret_key="s")
    app = create_app(settings)
    index_docs(app.state.engine, DOC)
    with TestClient(app) as client:
        yield app, client


def events(app) -> list[sqlite3.Row]:
    app.state.querylog.flush()
    conn = sqlite3.connect(app.state.querylog.path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM events").fetchall()
    finally:
        conn.close()


def issued_query_id(client) -> str:
    resp = client.get("/api/search", params={"q": "经济补偿"})
    assert resp.status_code == 200
    return resp.json()["query_id"]


def test_a_real_click_is_stored(site):
    app, client = site
    qid = issued_query_id(client)
    resp = client.get("/go", params={"id": DOC, "qid": qid, "pos": "1"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == f"/doc/{DOC}"
    (event,) = events(app)
    assert (event["query_id"], event["object_id"], event["position"]) == (qid, DOC, 1)


@pytest.mark.parametrize("doc_id", ["110101199003071234", "13812345678", "no-such-doc.1", "labor-contract-law.4700"])
def test_an_unknown_document_is_404_and_nothing_is_stored(site, doc_id):
    app, client = site
    qid = issued_query_id(client)
    resp = client.get("/go", params={"id": doc_id, "qid": qid, "pos": "1"}, follow_redirects=False)
    assert resp.status_code == 404
    assert events(app) == []
    assert doc_id.encode() not in app.state.querylog.path.read_bytes()


@pytest.mark.parametrize(
    "qid",
    [
        "13812345678",  # a phone number
        "110101199003071234",  # an identity-card number
        "0123456789abcdef0123456789abcdef",  # right shape, not signed by this site
        "zhang-san",
        "",
    ],
)
def test_a_query_id_the_site_did_not_issue_is_not_stored(site, qid):
    app, client = site
    resp = client.get("/go", params={"id": DOC, "qid": qid, "pos": "1"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == f"/doc/{DOC}"  # the reader still gets there
    assert events(app) == []


def test_query_ids_from_another_site_secret_are_refused(tmp_path):
    other = create_app(make_settings(tmp_path / "other", secret_key="another-secret"))
    foreign = other.state.querylog.new_query_id()
    other.state.querylog.close()
    other.state.engine.close()
    app = create_app(make_settings(tmp_path / "data", secret_key="s"))
    index_docs(app.state.engine, DOC)
    with TestClient(app) as client:
        assert app.state.querylog.issued(app.state.querylog.new_query_id())
        assert not app.state.querylog.issued(foreign)
        client.get("/go", params={"id": DOC, "qid": foreign}, follow_redirects=False)
        assert events(app) == []
