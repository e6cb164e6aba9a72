"""Issue 16 on a 360×740 phone: the answer card, the next steps after the third result, every page and form fits.

The server is the real app over the ingested corpus, with a lawyer, a reviewer and an admin in
its store so the staff forms can be opened through the real login form.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.browser.conftest import serve
from tests.browser.test_calc import WIDER_THAN_SCREEN_JS
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD

ARBITRATION_FEE = "去仲裁委告老板要花钱吗"
DISMISSED = "公司把我开了能要多少补偿"
PUBLIC_PAGES = (
    "/",
    "/search?q=" + quote(ARBITRATION_FEE),
    "/search?q=" + quote(DISMISSED),
    "/search?q=" + quote(DISMISSED) + "&script=trad",
    "/doc/labor-contract-law.47",
    "/doc/labor-dispute-mediation-arbitration-law",
    "/calc",
    "/calc/severance",
    "/login",
)
STAFF_PAGES = {
    "lawyer": ("/lawyer/", "/lawyer/cases/new", "/account/tokens"),
    "reviewer": ("/review",),
    "admin": ("/admin/users",),
}


@pytest.fixture(scope="module")
def staff_app(tmp_path_factory, corpus_index):
    """The app over the shared corpus index (read only), with one account per staff role."""
    from search_api.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("answer-first"), sqlite_path=corpus_index))
    for role in STAFF_PAGES:
        app.state.store.users.create(f"phone-{role}", PASSWORD, role)
    return app


@pytest.fixture(scope="module")
def live_server(staff_app):
    """Overrides the shared server: the staff pages need the accounts of this app's store."""
    with serve(staff_app) as url:
        yield url


def fits(page) -> None:
    layout = page.evaluate(WIDER_THAN_SCREEN_JS)
    assert layout["width"] == 360, layout
    assert layout["scroll"] <= 360 and not layout["wide"], (page.url, layout)


def top(locator) -> float:
    return locator.bounding_box()["y"]


def test_answer_card_for_the_arbitration_fee_on_a_phone(open_page):
    w = open_page("phone", javascript=False)
    page = w.page
    w.go("/")
    page.get_by_label("输入你的问题").fill(ARBITRATION_FEE)
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search?*")
    card = page.locator("section.answer")
    assert card.is_visible()
    quote_text = card.locator("blockquote").inner_text()
    assert "劳动争议仲裁不收费。" in quote_text and "《劳动争议调解仲裁法》第五十三条" in quote_text
    assert card.locator("mark", has_text="收费").count() == 1
    # the card is the first thing under the header: above the first result, inside the first screen
    assert top(card) < top(page.locator("li.hit").first)
    assert card.bounding_box()["y"] + card.bounding_box()["height"] < 740
    fits(page)
    w.shot("answer-card-phone")
    card.get_by_role("link", name="《劳动争议调解仲裁法》第五十三条").click()
    page.wait_for_url("**/doc/labor-dispute-mediation-arbitration-law.53")


def test_dismissal_next_steps_and_severance_link_above_the_fourth_result(open_page):
    w = open_page("phone", javascript=False)
    page = w.page
    w.go("/search?q=" + quote(DISMISSED))
    hits = page.locator("li.hit")
    assert hits.count() >= 4
    panel = page.locator("aside.steps")
    assert panel.get_attribute("data-topic") == "dismissal"
    assert "被辞退" in panel.locator("h2").inner_text()
    severance = panel.get_by_role("link", name="经济补偿", exact=True)
    assert severance.get_attribute("href") == "/calc/severance"
    fourth, third = top(hits.nth(3)), top(hits.nth(2))
    assert third < top(panel) < fourth
    assert top(severance) < fourth
    assert panel.get_by_role("link", name="《劳动争议调解仲裁法》第二十七条").is_visible()
    fits(page)
    w.shot("dismissal-steps-phone")
    severance.click()
    page.wait_for_url("**/calc/severance")
    assert page.get_by_label("月工资（元）").is_visible()


def test_no_card_when_the_question_is_not_about_labour_law(open_page):
    w = open_page("phone", javascript=False)
    w.go("/search?q=" + quote("今天天气怎么样"))
    assert w.page.locator("section.answer").count() == 0


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_fit_a_phone(open_page, path):
    w = open_page("phone", javascript=False)
    assert w.go(path).ok
    fits(w.page)


@pytest.mark.parametrize("role", sorted(STAFF_PAGES))
def test_staff_forms_fit_a_phone(open_page, role):
    w = open_page("phone", javascript=False)
    page = w.page
    first = STAFF_PAGES[role][0]
    w.go("/login?next=" + quote(first))
    fits(page)
    for field in ("#username", "#password"):  # styled like every other field, the width of the screen
        assert page.eval_on_selector(field, "e => getComputedStyle(e).borderTopWidth") == "2px", field
        assert page.locator(field).bounding_box()["width"] > 300, field
    page.get_by_label("用户名").fill(f"phone-{role}")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**{first}")
    for path in STAFF_PAGES[role]:
        assert w.go(path).ok, path
        fits(page)
        w.shot(f"staff-{role}-{path.strip('/').replace('/', '-')}-phone")
