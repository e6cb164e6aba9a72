"""The dashboard at a glance: Beijing time, counts that add up, charts with axes, filters that persist."""

from __future__ import annotations

import csv
import io

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api import db
from search_api.app import create_app
from search_api.monitoring import stats as qs
from search_api.monitoring.employer_list import recogniser_for
from search_api.settings import Settings
from search_api.web.charts import column_chart, nice_ticks
from tests.monitoring.helpers import login


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=tmp_path, secret_key="s", engine="sqlite", cookie_secure=False))


def ask(app, q, ip, *, at, district=None, tokens=("欠薪",)):
    """Log a search, then stamp it at ``at`` (stored UTC)."""
    qid = app.state.querylog.log_search(
        q=q, tokens=list(tokens), engine="sqlite", total=3, top_ids=["x.1"], district=district, client_ip=ip
    )
    app.state.querylog.flush()
    with db.log_database(app.state.settings).transaction() as conn:
        conn.execute("UPDATE queries SET timestamp = :at WHERE query_id = :qid", {"at": at, "qid": qid})
    return qid


def page(client, **params):
    resp = client.get("/review", params=params)
    assert resp.status_code == 200, resp.text
    return BeautifulSoup(resp.text, "html.parser")


def test_district_totals_count_queries_not_topics(app):
    """ "未选择（共 N）" summed topic counts: a query with two topics counted twice, above the total."""
    with TestClient(app) as client:
        login(client, app, "reviewer")
        for i in range(3):
            ask(app, "欠薪又要加班费怎么办", f"10.3.{i}.1", at="2026-11-20T02:00:00.000Z", tokens=("欠薪", "加班费"))
        ask(app, "你好", "10.3.9.1", at="2026-11-20T02:00:00.000Z", tokens=("你好",))  # no topic at all
        soup = page(client, since="2026-11-01", until="2026-11-29")
        assert "查询 4 次" in soup.select_one("#summary").get_text()
        caption = soup.select_one("#topics-by-district figcaption").get_text()
        assert caption == "未选择（查询 4 次）"
    with db.log_database(app.state.settings).connect() as conn:
        figures = qs.stats(conn, qs.LogFilter(), qs.Presenter(conn, recogniser_for(app.state.settings)))
    assert sum(figures["queries_by_district"].values()) == figures["queries"] == 4


def test_dates_are_beijing_days_and_csv_is_local_time(app):
    with TestClient(app) as client:
        login(client, app, "reviewer")
        # 2026-11-29 17:30 UTC is 2026-11-30 01:30 in Beijing
        ask(app, "工伤认定要多久", "10.4.0.1", at="2026-11-29T17:30:00.000Z", tokens=("工伤认定",))
        assert "查询 1 次" in page(client, since="2026-11-30", until="2026-11-30").select_one("#summary").get_text()
        assert "查询 0 次" in page(client, since="2026-11-29", until="2026-11-29").select_one("#summary").get_text()
        text = client.get("/review/export.csv", params={"since": "2026-11-30", "until": "2026-11-30"}).text
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert rows[0]["time_asia_shanghai"] == "2026-11-30 01:30:00"
        assert "T17:30" not in text and ".000" not in text


def test_week_chart_has_a_bar_per_week_and_a_y_axis(app):
    with TestClient(app) as client:
        login(client, app, "reviewer")
        ask(app, "拖欠工资", "10.5.0.1", at="2026-11-03T02:00:00.000Z")
        ask(app, "拖欠工资", "10.5.0.2", at="2026-11-17T02:00:00.000Z")
        ask(app, "拖欠工资", "10.5.0.3", at="2026-11-18T02:00:00.000Z")
        soup = page(client, since="2026-11-02", until="2026-11-29")
        chart = soup.select_one("#topics-by-week svg")
        assert len(chart.select("g.bar rect")) == 4  # weeks of 11-02, 11-09, 11-16, 11-23
        assert [t.get_text() for t in chart.select("text.x-label")] == ["11/2", "11/9", "11/16", "11/23"]
        assert [t.get_text() for t in chart.select("g.y-axis text")] == ["0", "1", "2"]
        assert int(chart["font-size"]) >= 11


def test_chart_geometry_thins_and_rotates_many_labels():
    chart = column_chart([f"11/{d}" for d in range(1, 31)], list(range(30)))
    shown = [b for b in chart["bars"] if b["show_label"]]
    assert chart["rotate"] and 8 <= len(shown) <= 12
    assert nice_ticks(223) == [0, 100, 200, 300] and nice_ticks(7) == [0, 2, 4, 6, 8]


def test_filter_persists_across_links_export_and_return(app):
    with TestClient(app) as client:
        login(client, app, "reviewer")
        ask(app, "加班费怎么算", "10.6.0.1", at="2026-11-20T02:00:00.000Z", district="越秀区", tokens=("加班费",))
        ask(app, "拖欠工资", "10.6.0.2", at="2026-11-20T02:00:00.000Z", district="天河区")
        soup = page(client, since="2026-11-16", until="2026-11-22", district="越秀区")
        export = soup.find("a", string="导出 CSV")["href"]
        assert "since=2026-11-16" in export and "until=2026-11-22" in export and "district=" in export
        assert "week=2026-W47" in soup.find("a", string="周报（可打印）")["href"]
        # back to /review without parameters: the same filter, said so on the page
        again = page(client)
        assert again.select_one("input[name=since]")["value"] == "2026-11-16"
        assert again.select_one("select[name=district] option[selected]")["value"] == "越秀区"
        assert "沿用上次选择" in again.get_text()
        rows = list(csv.DictReader(io.StringIO(client.get("/review/export.csv").text.lstrip("\ufeff"))))
        assert [r["district"] for r in rows] == ["越秀区"]
        # reset goes back to the default range and every district
        assert page(client, reset="1").select_one("select[name=district] option[selected]")["value"] == ""
