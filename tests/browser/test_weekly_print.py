"""The weekly report in a real browser: a reviewer opens it from the dashboard and prints it on A4."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS, serve
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD
from tests.monitoring.test_dashboard_glance import ask


@pytest.fixture(scope="module")
def weekly_app(tmp_path_factory):
    from search_api.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("weekly")))
    app.state.store.users.create("weekly-reviewer", PASSWORD, "reviewer")
    for i in range(6):
        ask(app, "公司拖欠工资怎么办", f"10.8.{i}.1", at="2026-11-18T02:00:00.000Z", district="即墨区")
    ask(app, "竞业限制违约金", "10.8.9.1", at="2026-11-19T02:00:00.000Z", tokens=("竞业限制",))
    return app


@pytest.fixture(scope="module")
def live_server(weekly_app):
    with serve(weekly_app) as url:
        yield url


def test_reviewer_prints_the_weekly_report_on_a4(open_page):
    w = open_page("desktop", javascript=False)
    page = w.page
    w.go("/login?next=/review")
    page.get_by_label("用户名").fill("weekly-reviewer")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/review")
    w.go("/review?since=2026-11-02&until=2026-11-29")
    labels = page.locator("#topics-by-week svg").first.locator("text.x-label")
    assert labels.count() == 4 and labels.first.bounding_box()["height"] >= 10  # readable, not 7 px
    w.shot("review-dashboard-desktop")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#topics-by-week").screenshot(path=str(SCREENSHOTS / "review-dashboard-weeks.png"))
    page.get_by_role("link", name="周报（可打印）").click()
    page.wait_for_url("**/review/weekly?week=2026-W48*")
    w.go("/review/weekly?week=2026-W47")
    assert page.get_by_role("heading", level=1).inner_text() == "劳动法知识库周报 2026-W47"
    assert page.locator("#weekly-searches").inner_text().count("7") >= 1
    w.shot("weekly-report-desktop")
    page.emulate_media(media="print")
    assert not page.locator(".account-nav").is_visible() and not page.locator("header.top").is_visible()
    assert page.eval_on_selector("body", "e => getComputedStyle(e).color") == "rgb(0, 0, 0)"
    pdf = page.pdf(format="A4", print_background=False)
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 1 <= pages <= 4, pages
