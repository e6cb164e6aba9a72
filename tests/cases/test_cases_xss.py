"""Script, event-handler and javascript: payloads in every case field stay inert on every page."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api.cases.fields import FIELDS
from search_api.web.markdown import render_markdown
from tests.fixtures.cases import CASE, PASSWORD, csrf_from, login, make_app

PAYLOADS = (
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "<a href='javascript:alert(1)'>点我</a>",
    "<svg onload=alert(1)>",
)
MARKDOWN_PAYLOADS = (
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "![图](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    '[t](https://example.org "x\\" onmouseover=\\"alert(1)")',
    "<iframe src='https://evil.example'></iframe>",
)


def assert_inert(html: str) -> None:
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find_all(["script", "iframe", "svg", "object", "embed"]) == []
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            assert not attr.lower().startswith("on"), f"event handler on <{tag.name}>: {attr}"
            text = " ".join(value) if isinstance(value, list) else value
            if attr.lower() in ("href", "src", "action", "formaction", "xlink:href"):
                assert not text.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (tag.name, text)


def hostile_case() -> dict[str, str]:
    payload = " ".join(PAYLOADS)
    case = {name: f"{CASE[name]} {payload}" for name in FIELDS}
    case["judgment_date"] = CASE["judgment_date"]  # validated, cannot carry a payload
    case["keywords"] = "工资、<script>x</script>、<i onclick=x>"
    case["source"] = PAYLOADS[0]  # plain text source (a javascript: source is refused by validation)
    case["annotation"] = "\n\n".join((CASE["annotation"], *MARKDOWN_PAYLOADS))
    return case


@pytest.mark.parametrize("source", MARKDOWN_PAYLOADS)
def test_markdown_payloads_are_inert(source):
    html = render_markdown(source)
    assert_inert(html)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html


def test_markdown_links_get_nofollow_noopener():
    html = render_markdown("[法条](https://flk.npc.gov.cn/) 和 **重点**")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.a["href"] == "https://flk.npc.gov.cn/" and soup.a["rel"] == ["nofollow", "noopener"]
    assert soup.strong.text == "重点"


def test_every_field_is_inert_on_every_page(settings):
    app = make_app(settings)
    store = app.state.store
    store.users.create("lawyer1", PASSWORD, "lawyer")
    store.users.create("reviewer1", PASSWORD, "reviewer")
    lawyer, reviewer = TestClient(app), TestClient(app)
    login(lawyer, "lawyer1")
    login(reviewer, "reviewer1")

    token = csrf_from(lawyer.get("/lawyer/cases/new").text)
    case_url = lawyer.post(
        "/lawyer/cases/new", data={**hostile_case(), "csrf_token": token}, follow_redirects=False
    ).headers["location"]
    page = lawyer.get(case_url)
    # The text survives (escaped), it is just not markup.
    assert "&lt;script&gt;" in page.text and "onerror=alert(1)" in BeautifulSoup(page.text, "html.parser").get_text()
    edit_token = csrf_from(lawyer.get(f"{case_url}/edit").text)
    lawyer.post(f"{case_url}/edit", data={**hostile_case(), "title": "改 " + PAYLOADS[1], "csrf_token": edit_token})
    lawyer.post(f"{case_url}/submit", data={"csrf_token": csrf_from(page.text), "confirm_citations": "1"})
    reviewer.post(
        f"{case_url}/review", data={"csrf_token": csrf_from(reviewer.get(case_url).text), "action": "publish"}
    )
    case_id = case_url.rsplit("/", 1)[1]

    pages = [
        lawyer.get(case_url),
        lawyer.get(f"{case_url}/edit"),
        lawyer.get("/lawyer/"),
        reviewer.get(f"{case_url}/diff?a=1&b=2"),
        reviewer.get("/lawyer/"),
        TestClient(app).get(f"/doc/lawyer-case-{case_id}"),
        TestClient(app).get("/search", params={"q": "餐饮公司拖欠工资"}),
    ]
    for response in pages:
        assert response.status_code == 200, response.url
        assert_inert(response.text)

    # A form re-shown with errors (payload in the date too) is inert as well.
    bad = {**hostile_case(), "judgment_date": PAYLOADS[1], "source": "javascript:alert(1)"}
    shown = lawyer.post(
        "/lawyer/cases/new", data={**bad, "csrf_token": csrf_from(lawyer.get("/lawyer/cases/new").text)}
    )
    assert shown.status_code == 422
    assert_inert(shown.text)
