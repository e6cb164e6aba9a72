"""The weekly report: the printable page, its JSON, and the Monday delivery sent once per week."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api import db
from search_api.app import create_app
from search_api.help.fields import validate_request
from search_api.monitoring import weekly
from search_api.monitoring.webhooks import verify
from search_api.settings import Settings
from tests.fixtures.help import HELP_REQUEST
from tests.monitoring.helpers import login
from tests.monitoring.test_dashboard_glance import ask

SECRET = "hook-secret"


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=tmp_path, secret_key="s", engine="sqlite", cookie_secure=False))


def warn(settings, subject, start="2026-11-17T00:00:00.000Z", end="2026-11-20T00:00:00.000Z"):
    with db.log_database(settings).transaction() as conn:
        conn.execute(
            "INSERT INTO warnings (kind, subject, window_start, window_end, topics, visitors, created_at)"
            " VALUES ('employer', :subject, :start, :end, '[\"wage_arrears\"]', 5, :end)",
            {"subject": subject, "start": start, "end": end},
        )


def fill_week(app):
    """Week 2026-W47 (Mon 11-16 to Sun 11-22, Beijing time), and one search just after it."""
    for i in range(5):
        ask(app, "宏达五金厂拖欠工资", f"10.7.{i}.1", at="2026-11-18T02:00:00.000Z", district="即墨区")
    ask(app, "小明鞋厂倒闭了", "10.7.9.1", at="2026-11-19T02:00:00.000Z")
    ask(app, "竞业限制违约金", "10.7.8.1", at="2026-11-19T03:00:00.000Z", tokens=("竞业限制",))
    # Sunday 23:30 UTC is Monday 07:30 in Beijing: week 48, not 47
    ask(app, "加班费怎么算", "10.7.7.1", at="2026-11-22T23:30:00.000Z", tokens=("加班费",))
    warn(app.state.settings, "宏达五金厂")
    help_row, _ = app.state.help.submit(validate_request(HELP_REQUEST, app.state.settings.district_list), "net1")
    with app.state.help.store.transaction() as conn:
        conn.execute(
            "UPDATE help_requests SET created_at = :at WHERE id = :id",
            {"at": "2026-11-17T01:00:00.000Z", "id": help_row.id},
        )


def test_weekly_page_prints_the_week(app):
    with TestClient(app) as client:
        login(client, app, "reviewer")
        fill_week(app)
        resp = client.get("/review/weekly", params={"week": "2026-W47"})
        assert resp.status_code == 200, resp.text
        soup = BeautifulSoup(resp.text, "html.parser")
        assert "2026-11-16（周一）至 2026-11-22（周日）" in soup.h1.find_next("p").get_text()
        searches = soup.select_one("#weekly-searches").get_text()
        assert "查询次数7" in searches.replace("\n", "").replace(" ", "")  # the Beijing Monday search is not in it
        assert "宏达五金厂" in soup.select_one("#weekly-warnings").get_text()
        top = soup.select_one("#weekly-topics").get_text()
        assert "宏达五金厂拖欠工资" in top and "小明鞋厂" not in resp.text and "[用人单位]倒闭了" in top
        assert "竞业限制违约金" in soup.select_one("#weekly-gaps").get_text()
        assert "新求助1 件" in soup.select_one("#weekly-help").get_text().replace("\n", "")
        # print: navigation marked as not printed, a page break, the stylesheet's A4 rules
        assert soup.select_one(".no-print .account-nav") and soup.select(".page-break")
        css = client.get(soup.select_one("link[rel=stylesheet]")["href"]).text
        assert "@page{size:A4" in css and ".no-print" in css
        assert not soup.select("script")
        data = client.get("/review/weekly", params={"week": "2026-W47", "format": "json"}).json()
        assert data["week"] == "2026-W47" and data["searches"]["queries"] == 7
        assert data["employer_warnings"][0]["subject"] == "宏达五金厂"
        assert data["help_requests"]["total"] == 1
        assert client.get("/review/weekly", params={"week": "2026-W99"}).status_code == 400


def test_weekly_job_sends_last_week_once(app, receiver):
    settings = app.state.settings.model_copy(update={"webhook_urls": receiver.url, "webhook_secret": SECRET})
    with TestClient(app):
        fill_week(app)
    job = weekly.WeeklyJob(settings, lambda: app.state.help, interval=3600)
    try:
        monday_morning = datetime(2026, 11, 23, 8, 0, tzinfo=weekly.qs.SHANGHAI)
        assert job.tick(monday_morning) == {receiver.url: "delivered"}
        assert job.tick(monday_morning) == {}  # already sent: never twice
    finally:
        job.close()
    ((headers, body),) = receiver.calls
    assert verify(body, SECRET, headers["x-labourkb-signature"]) and headers["x-labourkb-delivery"] == "weekly-2026-W47"
    report = json.loads(body)
    assert report["type"] == "weekly_report" and report["searches"]["queries"] == 7
    assert "小明鞋厂" not in body.decode()
    assert weekly.weekly_deliveries(db.log_database(settings))[0]["state"] == "delivered"


def test_several_processes_send_one_report(tmp_path, receiver):
    """Four `labourkb report weekly --send` at once (cron on several hosts, or servers): one POST."""
    env = {
        **os.environ,
        "LABOURKB_DATA_DIR": str(tmp_path),
        "LABOURKB_SECRET_KEY": "s",
        "LABOURKB_WEBHOOK_URLS": receiver.url,
        "LABOURKB_WEBHOOK_SECRET": SECRET,
    }
    cli = Path(sys.executable).with_name("labourkb")
    runs = [
        subprocess.Popen(
            [cli, "report", "weekly", "--week", "2026-W47", "--send"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [err.decode() for _, err in outs]
    assert len(receiver.calls) == 1
    assert json.loads(outs[0][0])["week"] == "2026-W47"
    assert sum("已经发送过" in err.decode() for _, err in outs) == 3
