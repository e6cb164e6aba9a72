"""The reviewer's week of issue 17 in a real browser (JavaScript off, as on a union office PC):
a brand-name employer asked about by K distinct visitors raises a warning and is named, an employer
below K is masked; a question nobody was answered shows in the gap report, one reviewer adds it as an
everyday question of the right article, a second approves, and the same search then ranks it first.
(The same loop on Elasticsearch and across worker processes: tests/monitoring/test_gap_loop.py.)
"""

from __future__ import annotations

import time

import httpx
import pytest

from ingest.normalise import normalise
from ingest.tokenise import get_tokeniser
from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, make_app

BRAND = "华为拖欠工资怎么办"
BELOW_K = "宏达电子厂倒闭了工资谁给"
QUESTION = "干满三年走人老板要给几个月钱"  # nothing answers it at first
TARGET = "labor-contract-law.47"


@pytest.fixture(scope="module")
def week_app(tmp_path_factory):
    app = make_app(make_settings(tmp_path_factory.mktemp("reviewer-week")))
    for name in ("week-reviewer1", "week-reviewer2"):
        app.state.store.users.create(name, PASSWORD, "reviewer")
    return app


@pytest.fixture(scope="module")
def live_server(week_app):
    with serve(week_app) as url:
        yield url


def log_search(app, q: str, ip: str) -> None:
    """A search as the site logs it, from its own network (the test server sees only 127.0.0.1)."""
    tokens = get_tokeniser(app.state.settings.lexicon_dir).cut(normalise(q))
    app.state.querylog.log_search(
        q=q, tokens=tokens, engine="sqlite", total=3, top_ids=["x.1"], district="市南区", client_ip=ip, user_agent="ua"
    )


def log_in(w, username: str) -> None:
    w.go("/login")
    w.page.get_by_label("用户名").fill(username)
    w.page.get_by_label("密码").fill(PASSWORD)
    w.page.get_by_role("button", name="登录").click()
    w.page.wait_for_url("**/review")


def test_the_reviewers_week(week_app, live_server, open_page):
    app = week_app
    for i in range(app.state.settings.warning_min_visitors):
        log_search(app, BRAND, f"10.20.{i}.1")
    log_search(app, BELOW_K, "10.21.0.1")
    for agent in ("phone-a", "phone-b"):  # two workers ask; nobody answers them
        answer = httpx.get(f"{live_server}/search", params={"q": QUESTION}, headers={"User-Agent": agent})
        assert answer.status_code == 200
    app.state.querylog.flush()

    w = open_page("desktop", javascript=False)
    log_in(w, "week-reviewer1")  # a reviewer lands on the dashboard
    warnings = w.page.locator("#warnings")
    deadline = time.monotonic() + 20
    while "华为" not in warnings.inner_text() and time.monotonic() < deadline:  # raised in the background
        time.sleep(0.5)
        w.page.reload()
    assert "华为" in warnings.inner_text()
    main = w.page.locator("main").inner_text()
    assert "宏达" not in main  # below K: never named on the page

    # the gap report, from the navigation every staff page has
    w.page.get_by_role("link", name="没答好的问题").first.click()
    w.page.wait_for_url("**/review/gaps*")
    w.page.get_by_role("link", name=QUESTION).first.click()
    w.page.wait_for_url("**/review/gaps/*")
    assert w.page.locator("#f-question").input_value() == QUESTION  # prefilled from the gap
    w.page.locator("#f-article_other").fill(TARGET)
    w.page.locator("#question").get_by_role("button", name="提交复核").click()
    w.page.wait_for_url("**/review/additions*")
    w.page.get_by_role("button", name="退出").click()

    # a second reviewer approves; the same search then ranks the article first
    log_in(w, "week-reviewer2")
    w.go("/review/additions")
    w.page.get_by_role("button", name="通过").first.click()
    w.page.wait_for_url("**/review/additions*")
    w.go("/")
    w.page.locator("#q").fill(QUESTION)
    w.page.get_by_role("button", name="搜索").click()
    w.page.wait_for_url("**/search?*")
    first = w.page.locator("li.hit h2 a").first
    assert TARGET in first.get_attribute("href") and first.inner_text().startswith("《劳动合同法》第")
