"""The review dashboard and CSV export: reviewer login, aggregates, SVG charts, masking, no personal data."""

from __future__ import annotations

import csv
import io

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api.app import create_app
from search_api.monitoring.webhooks import attach_monitoring
from search_api.routes import logs, review
from search_api.settings import Settings
from tests.monitoring.helpers import index_docs, login

ID_CARD = "440301199508082316"
PHONE = "13912345678"


@pytest.fixture
def app(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s", engine="sqlite", cookie_secure=False)
    app = create_app(settings)
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/review" not in paths:
        app.include_router(review.router)
    if "/go" not in paths:
        app.include_router(logs.router)
    return app


def ask(app, q, ip, total=2, district="天河区", tokens=("欠薪",)):
    return app.state.querylog.log_search(
        q=q,
        tokens=list(tokens),
        engine="sqlite",
        total=total,
        top_ids=["x.1"],
        district=district,
        client_ip=ip,
        user_agent="ua",
    )


def test_dashboard_needs_a_reviewer(app):
    with TestClient(app) as client:
        resp = client.get("/review", follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
        assert client.get("/review/export.csv", follow_redirects=False).status_code == 303
        login(client, app, "lawyer")
        assert client.get("/review").status_code == 403


def test_dashboard_shows_aggregates_charts_and_warnings(app):
    with TestClient(app) as client:
        watcher, sender = attach_monitoring(app.state.querylog, app.state.settings)
        index_docs(app.state.engine, "x.1")
        login(client, app, "reviewer")
        for ip in ("10.1.1.1", "10.1.2.1", "10.1.3.1"):
            ask(app, "宏达五金厂欠薪怎么办", ip)
        ask(app, "小明鞋厂欠薪", "10.1.0.4")  # one visitor: stays masked
        ask(app, "竞业限制违约金多少", "10.1.0.5", total=0, district="越秀区", tokens=("竞业限制",))
        qid = ask(app, f"身份证{ID_CARD}手机{PHONE}工伤认定", "10.1.0.6", tokens=("工伤认定",))
        client.get(f"/go?qid={qid}&id=x.1&pos=1", follow_redirects=False)
        app.state.querylog.flush()
        resp = client.get("/review")
        assert resp.status_code == 200
        page = BeautifulSoup(resp.text, "html.parser")
        warnings_text = page.select_one("#warnings").get_text()
        assert "宏达五金厂" in warnings_text and "欠薪" in warnings_text
        assert "竞业限制违约金多少" in page.select_one("#zero-results").get_text()
        top = page.select_one("#top-queries").get_text()
        assert "宏达五金厂欠薪怎么办" in top  # warned employer: shown
        assert "小明鞋厂" not in resp.text and "[用人单位]欠薪" in top
        assert page.select("#topics-by-week svg rect") and page.select("#topics-by-district svg rect")
        assert "越秀区" in page.select_one("#topics-by-district").get_text()
        assert not page.select("script")
        for secret in (ID_CARD, PHONE, "10.1.0."):
            assert secret not in resp.text
        # filters: another district, and a range before any record
        only = BeautifulSoup(client.get("/review", params={"district": "越秀区"}).text, "html.parser")
        assert "宏达五金厂欠薪怎么办" not in only.select_one("#top-queries").get_text()
        old = client.get("/review", params={"since": "2001-01-01", "until": "2001-02-01"}).text
        assert "查询 0 次" in old
        assert client.get("/review", params={"since": "2024-99-01"}).status_code == 400
        sender.close()
        watcher.close()


def test_csv_export_is_redacted_and_masked(app):
    with TestClient(app) as client:
        login(client, app, "admin")
        ask(app, f"=HYPERLINK(1) 身份证{ID_CARD} 手机{PHONE} 小明鞋厂欠薪", "10.2.0.1")
        ask(app, "加班费怎么算", "10.2.0.2", district="越秀区", tokens=("加班费",))
        app.state.querylog.flush()
        resp = client.get("/review/export.csv")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        text = resp.content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["district"] for r in rows] == ["天河区", "越秀区"]
        assert rows[0]["user_query"].startswith("'=")  # no formula injection into spreadsheets
        assert "[身份证号]" in rows[0]["user_query"] and "[用人单位]" in rows[0]["user_query"]
        assert rows[1]["topics"] == "加班工时"
        for secret in (ID_CARD, PHONE, "小明鞋厂", "10.2.0."):
            assert secret not in text
        assert "client_id" not in text
        only = client.get("/review/export.csv", params={"district": "越秀区"}).content.decode("utf-8-sig")
        assert len(list(csv.DictReader(io.StringIO(only)))) == 1
