"""Issue 12, finding 7: versions, diffs and review comments are for the author, reviewers and
admins only; another lawyer sees a published case's published version and nothing else —
the same through the pages and the token API."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.fixtures.cases import CASE, PASSWORD, login, make_app

PARTY = "当事人李某某"
COMMENT = "内部意见：请删去李某某的姓名"


@pytest.fixture
def app(settings):
    app = make_app(settings)
    store = app.state.store
    for name, role in (("lawyer1", "lawyer"), ("lawyer2", "lawyer"), ("reviewer1", "reviewer"), ("admin1", "admin")):
        store.users.create(name, PASSWORD, role)
    return app


def bearer(app, username: str) -> dict[str, str]:
    store = app.state.store
    return {"Authorization": f"Bearer {store.tokens.create(store.users.with_hash(username)[0].id)}"}


def browser(app, username: str) -> TestClient:
    client = TestClient(app)
    assert login(client, username).status_code == 303
    return client


@pytest.fixture
def published(app) -> int:
    """A case whose first version named a party; returned with a comment, cleaned, published."""
    api = TestClient(app)
    author, reviewer = bearer(app, "lawyer1"), bearer(app, "reviewer1")
    case = api.post("/api/cases", json={**CASE, "facts": f"{PARTY}在某餐饮公司工作三年。"}, headers=author).json()
    case_id = case["id"]
    assert api.post(f"/api/cases/{case_id}/submit", headers=author).status_code == 200
    returned = api.post(f"/api/cases/{case_id}/review", json={"action": "return", "comment": COMMENT}, headers=reviewer)
    assert returned.json()["state"] == "returned"
    assert api.put(f"/api/cases/{case_id}", json=CASE, headers=author).json()["version"] == 2
    assert api.post(f"/api/cases/{case_id}/submit", headers=author).status_code == 200
    assert api.post(f"/api/cases/{case_id}/review", json={"action": "publish"}, headers=reviewer).status_code == 200
    return case_id


def test_another_lawyer_gets_403_for_versions_and_diffs_through_the_api(app, published):
    api, other = TestClient(app), bearer(app, "lawyer2")
    diff = api.get(f"/api/cases/{published}/diff", params={"a": 1, "b": 2}, headers=other)
    assert diff.status_code == 403 and PARTY not in diff.text
    # The published version itself is not secret.
    case = api.get(f"/api/cases/{published}", headers=other)
    assert case.status_code == 200 and case.json()["fields"]["title"] == CASE["title"]
    assert PARTY not in case.text and COMMENT not in case.text


def test_another_lawyer_sees_the_published_case_page_without_history_or_comments(app, published):
    other = browser(app, "lawyer2")
    page = other.get(f"/lawyer/cases/{published}")
    assert page.status_code == 200 and CASE["title"] in page.text
    assert COMMENT not in page.text and "版本与审核记录" not in page.text and "比较版本" not in page.text
    for path in (f"/lawyer/cases/{published}/diff", f"/lawyer/cases/{published}/diff?a=1&b=2"):
        response = other.get(path)
        assert response.status_code == 403 and PARTY not in response.text
    edit = other.get(f"/lawyer/cases/{published}/edit")
    assert edit.status_code == 403


@pytest.mark.parametrize("username", ["lawyer1", "reviewer1", "admin1"])
def test_author_reviewers_and_admins_see_versions_diffs_and_comments(app, published, username):
    page = browser(app, username).get(f"/lawyer/cases/{published}")
    assert page.status_code == 200 and COMMENT in page.text and "版本与审核记录" in page.text
    diff = browser(app, username).get(f"/lawyer/cases/{published}/diff?a=1&b=2")
    # (the side-by-side view marks changed characters: read the text, not the markup)
    assert diff.status_code == 200 and PARTY in BeautifulSoup(diff.text, "html.parser").get_text()
    api = TestClient(app).get(f"/api/cases/{published}/diff", params={"a": 1, "b": 2}, headers=bearer(app, username))
    assert api.status_code == 200 and PARTY in api.json()["diff"]


def test_a_returned_case_and_its_comment_stay_with_author_and_reviewers(app):
    api, author = TestClient(app), bearer(app, "lawyer1")
    case_id = api.post("/api/cases", json=CASE, headers=author).json()["id"]
    api.post(f"/api/cases/{case_id}/submit", headers=author)
    api.post(
        f"/api/cases/{case_id}/review",
        json={"action": "return", "comment": COMMENT},
        headers=bearer(app, "reviewer1"),
    )
    other = browser(app, "lawyer2")
    assert other.get(f"/lawyer/cases/{case_id}").status_code == 403
    assert api.get(f"/api/cases/{case_id}", headers=bearer(app, "lawyer2")).status_code == 403
    diff = api.get(f"/api/cases/{case_id}/diff", params={"a": 1, "b": 1}, headers=bearer(app, "lawyer2"))
    assert diff.status_code == 403
    assert COMMENT in browser(app, "lawyer1").get(f"/lawyer/cases/{case_id}").text
