"""The case workflow through the site and the token API, down to a search hit on the embedded engine."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import get_args
from urllib.parse import quote_from_bytes

import pytest
from fastapi.testclient import TestClient

from search_api.cases.workflow import STATE_LABELS, CaseState
from tests.fixtures.cases import CASE, PASSWORD, csrf_from, login, make_app


@pytest.fixture
def app(settings):
    app = make_app(settings)
    store = app.state.store
    for name, role in (("lawyer1", "lawyer"), ("lawyer2", "lawyer"), ("reviewer1", "reviewer")):
        store.users.create(name, PASSWORD, role)
    return app


def client_for(app, username: str) -> TestClient:
    client = TestClient(app)
    assert login(client, username).status_code == 303
    return client


def bearer(app, username: str) -> dict[str, str]:
    store = app.state.store
    return {"Authorization": f"Bearer {store.tokens.create(store.users.with_hash(username)[0].id)}"}


def post_form(client: TestClient, path: str, data: dict, page: str | None = None):
    token = csrf_from(client.get(page or "/lawyer/cases/new").text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def search_ids(client: TestClient, q: str) -> list[str]:
    body = client.get("/api/search", params={"q": q, "size": 20}).json()
    return [h["id"] for h in body["hits"]]


def test_site_walk_from_draft_to_search_hit_and_withdrawal(app):
    lawyer, reviewer = client_for(app, "lawyer1"), client_for(app, "reviewer1")
    created = post_form(lawyer, "/lawyer/cases/new", CASE)
    assert created.status_code == 303
    case_url = created.headers["location"]
    case_id = int(case_url.rsplit("/", 1)[1])

    page = lawyer.get(case_url)
    assert "草稿" in page.text and 'href="/doc/labor-contract-law.47"' in page.text
    assert "《某某省欠薪条例》第五条" in page.text and "未能对应到法条" in page.text

    # Submitting asks the lawyer to confirm the detected citations first.
    token = csrf_from(page.text)
    unconfirmed = lawyer.post(f"{case_url}/submit", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "核对" in unconfirmed.text
    assert lawyer.post(f"{case_url}/submit", data={"csrf_token": token, "confirm_citations": "1"}).status_code == 200

    queue = reviewer.get("/lawyer/")
    assert CASE["title"] in queue.text
    review_page = reviewer.get(case_url)
    returned = reviewer.post(
        f"{case_url}/review",
        data={"csrf_token": csrf_from(review_page.text), "action": "return", "comment": "请补充证据"},
    )
    assert "已退回" in returned.text and "请补充证据" in returned.text

    edited = post_form(
        lawyer,
        f"{case_url}/edit",
        {**CASE, "facts": CASE["facts"] + "\n张某保存了全部工资条。", "base_version": "1"},
        page=f"{case_url}/edit",
    )
    assert edited.status_code == 303
    page = lawyer.get(case_url)
    lawyer.post(f"{case_url}/submit", data={"csrf_token": csrf_from(page.text), "confirm_citations": "1"})

    diff = reviewer.get(f"{case_url}/diff")
    assert diff.status_code == 200 and "<ins>张某保存了全部工资条。</ins>" in diff.text and "基本案情" in diff.text

    assert f"lawyer-case-{case_id}" not in search_ids(reviewer, "餐饮公司拖欠工资")
    published = reviewer.post(
        f"{case_url}/review", data={"csrf_token": csrf_from(reviewer.get(case_url).text), "action": "publish"}
    )
    assert "已发布" in published.text
    assert f"lawyer-case-{case_id}" in search_ids(reviewer, "餐饮公司拖欠工资")
    public = TestClient(app).get(f"/doc/lawyer-case-{case_id}")
    assert public.status_code == 200 and CASE["title"] in public.text

    withdrawn = lawyer.post(f"{case_url}/withdraw", data={"csrf_token": csrf_from(lawyer.get(case_url).text)})
    assert "已撤回" in withdrawn.text
    assert f"lawyer-case-{case_id}" not in search_ids(reviewer, "餐饮公司拖欠工资")


def test_another_users_draft_is_403(app):
    owner, other = client_for(app, "lawyer1"), client_for(app, "lawyer2")
    case_url = post_form(owner, "/lawyer/cases/new", CASE).headers["location"]
    assert other.get(case_url).status_code == 403
    assert other.get(f"{case_url}/edit").status_code == 403
    assert post_form(other, f"{case_url}/edit", {**CASE, "title": "别人改的"}).status_code == 403
    assert app.state.store.cases.get(int(case_url.rsplit("/", 1)[1])).current_version == 1


def test_form_errors_keep_everything_typed(app):
    lawyer = client_for(app, "lawyer1")
    typed = {
        **CASE,
        "title": "",
        "keywords": "一、二、三、四、五、六、七、八",
        "judgment_date": (date.today() + timedelta(days=30)).isoformat(),
    }
    response = post_form(lawyer, "/lawyer/cases/new", typed)
    assert response.status_code == 422
    for message in ("请填写标题", "关键词最多 7 个", "裁判日期不能晚于今天"):
        assert message in response.text
    assert CASE["facts"] in response.text and "一、二、三、四、五、六、七、八" in response.text
    assert app.state.store.cases.list() == []


def test_oversized_request_is_413_and_oversized_field_is_a_field_error(app):
    lawyer = client_for(app, "lawyer1")
    huge = post_form(lawyer, "/lawyer/cases/new", {**CASE, "facts": "长" * (2 * 1024 * 1024)})  # ~6 MB encoded
    assert huge.status_code == 413 and "提交内容过大" in huge.text
    big = post_form(lawyer, "/lawyer/cases/new", {**CASE, "facts": "长" * 100_000})  # 300 KB
    assert big.status_code == 422 and "基本案情过长" in big.text
    assert app.state.store.cases.list() == []


def test_invalid_utf8_in_form_is_a_field_error(app):
    lawyer = client_for(app, "lawyer1")
    token = csrf_from(lawyer.get("/lawyer/cases/new").text)
    body = "&".join(f"{k}={quote_from_bytes(v.encode())}" for k, v in {**CASE, "csrf_token": token}.items())
    body = body.replace("gist=", "gist=%FF%FE", 1)
    response = lawyer.post(
        "/lawyer/cases/new", content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 422 and "裁判要点含有无效的 UTF-8 字符" in response.text
    assert CASE["facts"] in response.text
    assert app.state.store.cases.list() == []


def test_api_create_update_submit_review(app):
    lawyer, reviewer = bearer(app, "lawyer1"), bearer(app, "reviewer1")
    client = TestClient(app)
    created = client.post("/api/cases", json=CASE, headers=lawyer)
    assert created.status_code == 201
    case = created.json()
    assert case["state"] == "draft" and case["doc_id"] == f"lawyer-case-{case['id']}"
    assert any("某某省欠薪条例" in w for w in case["warnings"])

    bad = client.post("/api/cases", json={**CASE, "keywords": list("abcdefgh")}, headers=lawyer)
    assert bad.status_code == 422 and "最多 7 个" in bad.json()["errors"]["keywords"]
    broken = client.post(
        "/api/cases", content=b'{"title": "\xff"}', headers={**lawyer, "content-type": "application/json"}
    )
    assert broken.status_code == 400 and "UTF-8" in broken.json()["error"]

    updated = client.put(f"/api/cases/{case['id']}", json={**CASE, "base_version": 1, "result": "改判"}, headers=lawyer)
    assert updated.json()["version"] == 2
    stale = client.put(f"/api/cases/{case['id']}", json={**CASE, "base_version": 1}, headers=lawyer)
    assert stale.status_code == 409
    assert client.put(f"/api/cases/{case['id']}", json=CASE, headers=bearer(app, "lawyer2")).status_code == 403

    assert client.post(f"/api/cases/{case['id']}/submit", headers=lawyer).json()["state"] == "submitted"
    assert client.post(f"/api/cases/{case['id']}/review", json={"action": "publish"}, headers=lawyer).status_code == 403
    published = client.post(f"/api/cases/{case['id']}/review", json={"action": "publish"}, headers=reviewer)
    assert published.json()["state"] == "published"
    assert case["doc_id"] in search_ids(client, "餐饮公司拖欠工资")
    assert (
        "+改判" in client.get(f"/api/cases/{case['id']}/diff", params={"a": 1, "b": 2}, headers=reviewer).json()["diff"]
    )
    assert client.post(f"/api/cases/{case['id']}/withdraw", headers=lawyer).json()["state"] == "withdrawn"
    assert case["doc_id"] not in search_ids(client, "餐饮公司拖欠工资")


def test_api_jsonl_import_with_a_bad_utf8_line(app):
    lines = [
        json.dumps(CASE, ensure_ascii=False).encode(),
        b'{"title": "\xc3\x28 broken"}',
        json.dumps({**CASE, "judgment_date": "2999-01-01"}).encode(),
    ]
    response = TestClient(app).post(
        "/api/cases/import?submit=true", content=b"\n".join(lines), headers=bearer(app, "lawyer1")
    )
    assert response.status_code == 200
    report = response.json()
    assert (report["ok"], report["failed"]) == (1, 2)
    assert report["lines"][0]["state"] == "submitted"
    assert "UTF-8" in report["lines"][1]["errors"]["line"]
    assert "不能晚于今天" in report["lines"][2]["errors"]["judgment_date"]
    assert len(app.state.store.cases.list()) == 1


def test_odd_requests_never_500(app):
    lawyer, reviewer = client_for(app, "lawyer1"), client_for(app, "reviewer1")
    huge = "9" * 30
    case_url = post_form(lawyer, "/lawyer/cases/new", CASE).headers["location"]
    token = csrf_from(lawyer.get(case_url).text)
    checks = [
        (lawyer.get("/lawyer/cases/999999"), 404),
        (lawyer.get(f"/lawyer/cases/{huge}"), 404),
        (lawyer.get(f"{case_url}/diff?a={huge}&b=1"), 404),
        (lawyer.get("/lawyer/cases/abc"), 400),
        (lawyer.post(f"/account/tokens/{huge}/revoke", data={"csrf_token": token}), 404),
        (lawyer.post("/lawyer/cases/new", files={"title": (None, "x")}, data={"csrf_token": token}), 415),
        (
            reviewer.post(
                f"{case_url}/review", data={"csrf_token": csrf_from(reviewer.get(case_url).text), "action": "drop"}
            ),
            422,
        ),
        (lawyer.post(f"{case_url}/withdraw", data={"csrf_token": token}), 409),
    ]
    for response, status in checks:
        assert response.status_code == status, (response.url, response.text[:200])
    api = TestClient(app)
    headers = bearer(app, "reviewer1")
    assert api.post("/api/cases/import", content=b"", headers=headers).json()["total"] == 0
    assert api.post(f"/api/cases/{huge}/review", content=b"[]", headers=headers).status_code == 400
    assert api.post(f"/api/cases/{huge}/submit", headers=headers).status_code == 404
    assert api.post("/api/cases", content=b"not json", headers=headers).status_code == 400


def test_api_base_version_that_is_not_an_integer_is_refused_not_ignored(app):
    # A tool sending the version as text ("1") used to lose the guard: its stale edit was saved.
    lawyer = bearer(app, "lawyer1")
    client = TestClient(app)
    case_id = client.post("/api/cases", json=CASE, headers=lawyer).json()["id"]
    assert client.put(f"/api/cases/{case_id}", json={**CASE, "result": "改判"}, headers=lawyer).status_code == 200
    for stale in ("1", 1.0, True, [1]):
        refused = client.put(f"/api/cases/{case_id}", json={**CASE, "base_version": stale}, headers=lawyer)
        assert refused.status_code == 422 and "base_version" in refused.json()["errors"], stale
    assert client.get(f"/api/cases/{case_id}", headers=lawyer).json()["version"] == 2
    unguarded = client.put(f"/api/cases/{case_id}", json={**CASE, "base_version": None}, headers=lawyer)
    assert unguarded.json()["version"] == 3


def test_api_review_comment_must_be_text(app):
    lawyer, reviewer = bearer(app, "lawyer1"), bearer(app, "reviewer1")
    client = TestClient(app)
    case_id = client.post("/api/cases", json=CASE, headers=lawyer).json()["id"]
    client.post(f"/api/cases/{case_id}/submit", headers=lawyer)
    for comment in (5, ["缺少证据"], {"text": "缺少证据"}):
        refused = client.post(
            f"/api/cases/{case_id}/review", json={"action": "return", "comment": comment}, headers=reviewer
        )
        assert refused.status_code == 422 and "comment" in refused.json()["errors"], comment
    assert client.get(f"/api/cases/{case_id}", headers=lawyer).json()["state"] == "submitted"


def test_api_unknown_state_filter_is_400_not_an_empty_list(app):
    client = TestClient(app)
    lawyer = bearer(app, "lawyer1")
    client.post("/api/cases", json=CASE, headers=lawyer)
    assert get_args(CaseState) == tuple(STATE_LABELS)
    for state in STATE_LABELS:
        found = client.get("/api/cases", params={"state": state}, headers=lawyer).json()["cases"]
        assert len(found) == (state == "draft"), state
    refused = client.get("/api/cases", params={"state": "drafts"}, headers=lawyer)
    assert refused.status_code == 400 and refused.json()["detail"] == "query.state"


def test_api_case_ids_are_digits_so_import_is_never_taken_for_one(app):
    client = TestClient(app)
    headers = bearer(app, "lawyer1")
    wrong_method = client.put("/api/cases/import", json=CASE, headers=headers)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert client.get("/api/cases/import", headers=headers).status_code == 405
    assert client.get("/api/cases/abc", headers=headers).status_code == 404
    assert client.get("/api/cases/0", headers=headers).status_code == 400


def test_no_dead_ends_in_the_review_workflow(app):
    """Found: a reviewer landed on the lawyer page with no way to /review; /review had no navigation
    or logout; a return without a comment gave a bare 422 page; the edit page did not say why."""
    reviewer = TestClient(app)
    landed = login(reviewer, "reviewer1")
    assert landed.headers["location"] == "/review"
    dashboard = reviewer.get("/review").text
    assert 'action="/logout"' in dashboard and 'href="/lawyer/"' in dashboard and 'href="/review/qa"' in dashboard
    lawyer = client_for(app, "lawyer1")
    assert login(TestClient(app), "lawyer1").headers["location"] == "/lawyer/"
    case_url = post_form(lawyer, "/lawyer/cases/new", CASE).headers["location"]
    token = csrf_from(lawyer.get(case_url).text)
    lawyer.post(f"{case_url}/submit", data={"csrf_token": token, "confirm_citations": "1"})
    page = reviewer.get(case_url)
    typed = "   "
    refused = reviewer.post(
        f"{case_url}/review", data={"csrf_token": csrf_from(page.text), "action": "return", "comment": typed}
    )
    assert refused.status_code == 422 and "退回时请写明原因" in refused.text
    assert refused.text.count("退回时请写明原因") == 1 and 'name="comment"' in refused.text  # the form, once
    assert 'action="/logout"' in refused.text
    reviewer.post(
        f"{case_url}/review", data={"csrf_token": csrf_from(page.text), "action": "return", "comment": "请补充证据清单"}
    )
    edit = lawyer.get(f"{case_url}/edit").text
    assert "审核人退回的原因" in edit and "请补充证据清单" in edit
    unconfirmed = lawyer.post(f"{case_url}/submit", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "请先核对上面的法条引用并勾选确认" in unconfirmed.text
    assert 'action="/logout"' in unconfirmed.text
