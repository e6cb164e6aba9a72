"""我要维权 over HTTP: the worker's form and status page, the desk and its API, the figures, QA publishing."""

from __future__ import annotations

import re
import sqlite3

import pytest
from fastapi.testclient import TestClient

from search_api import db
from search_api.accounts.tokens import create_token
from search_api.accounts.users import Users
from search_api.help.fields import validate_request
from search_api.routes import desk
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, csrf_from, login, make_app
from tests.fixtures.help import HELP_REQUEST, PHONE

FORM = {k: ("1" if v is True else v) for k, v in HELP_REQUEST.items()}


@pytest.fixture
def app(tmp_path):
    app = make_app(make_settings(tmp_path / "data", help_min_fill_seconds=0))
    users = app.state.store.users
    users.create("staff1", PASSWORD, "staff", districts=["崂山区"])
    users.create("staff2", PASSWORD, "staff", districts=["市南区"])
    users.create("lawyer1", PASSWORD, "lawyer")
    users.create("lawyer2", PASSWORD, "lawyer")
    users.create("reviewer1", PASSWORD, "reviewer")
    return app


def as_user(app, name: str) -> TestClient:
    client = TestClient(app)
    assert login(client, name).status_code == 303
    return client


def bearer(app, name: str) -> dict[str, str]:
    store = app.state.store
    return {"Authorization": f"Bearer {store.tokens.create(store.users.with_hash(name)[0].id)}"}


def stamp_of(html: str) -> str:
    return re.search(r'name="stamp" value="([^"]+)"', html).group(1)


def submit_form(client: TestClient, **change):
    page = client.get("/help", params={"q": "老板拖欠工资怎么办"})
    return client.post("/help", data={**FORM, "stamp": stamp_of(page.text), **change}, follow_redirects=False)


def test_the_form_carries_the_question_and_leads_to_a_private_status_page(app):
    worker = TestClient(app)
    page = worker.get("/help", params={"q": "老板拖欠工资怎么办", "district": "崂山区"})
    assert 'value="老板拖欠工资怎么办"' in page.text and "<option selected>崂山区</option>" in page.text
    assert "保存多久" in page.text and page.headers["cache-control"] == "no-store"
    sent = submit_form(worker)
    assert sent.status_code == 303
    status = worker.get(sent.headers["location"])
    assert re.search(r"崂山-\d{4}-000001", status.text) and "139****5678" in status.text
    assert PHONE not in status.text and "工资条或银行流水" in status.text and "预计回电" in status.text
    assert status.headers["cache-control"] == "no-store"
    assert worker.get("/help/hr_not-a-real-ticket-at-all").status_code == 404


@pytest.mark.parametrize(
    ("change", "field_words"),
    [
        ({"description": "故事" * 5_000}, "最多 2000 个字"),
        ({"phone": "12345"}, "正确的手机号"),
        ({"district": "火星区"}, "没有这个区"),
        ({"consent": ""}, "同意"),
    ],
)
def test_a_refused_form_comes_back_with_everything_typed(app, change, field_words):
    answer = submit_form(TestClient(app), **change)
    assert answer.status_code == 422 and field_words in answer.text
    for name in ("wants", "employer", "name"):
        assert FORM[name] in answer.text
    typed = change.get("description", FORM["description"])
    assert typed in answer.text  # even the 10,000-character story
    assert app.state.store.help.list() == []


def test_simple_bots_are_refused(app, tmp_path):
    client = TestClient(app)
    assert "表单已失效" in submit_form(client, website="http://spam.example").text
    assert "表单已失效" in submit_form(client, stamp="1700000000.forged").text
    slow = make_app(make_settings(tmp_path / "slow", help_min_fill_seconds=60))
    assert "太快" in submit_form(TestClient(slow)).text
    assert app.state.store.help.list() == [] and slow.state.store.help.list() == []


def test_the_json_api_for_workers(app):
    client = TestClient(app)
    created = client.post("/api/help-requests", json=HELP_REQUEST)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"reference", "ticket", "status_url", "contact_due"}
    view = client.get(f"/api/help-requests/{body['ticket']}").json()
    assert view["fields"]["phone"] == "139****5678" and view["state"] == "new" and view["materials"]
    refused = client.post("/api/help-requests", json={**HELP_REQUEST, "phone": "110", "district": "火星区"})
    assert refused.status_code == 422 and set(refused.json()["errors"]) == {"phone", "district"}
    for _ in range(app.state.settings.help_per_hour - 1):
        assert client.post("/api/help-requests", json=HELP_REQUEST).status_code == 201
    limited = client.post("/api/help-requests", json=HELP_REQUEST)
    assert limited.status_code == 429 and "12351" in limited.json()["error"]


def test_staff_of_another_district_get_403_on_every_route(app):
    row, _ = app.state.help.submit(validate_request(HELP_REQUEST, app.state.settings.district_list))
    other, api = as_user(app, "staff2"), bearer(app, "staff2")
    token = csrf_from(other.get("/desk").text)
    routes = [r for router in (desk.router, desk.api_router) for r in router.routes if "{request_id" in r.path]
    assert len(routes) >= 10
    for route in routes:
        path = re.sub(r"\{request_id[^}]*\}", str(row.id), route.path)
        for method in route.methods - {"HEAD"}:
            if path.startswith("/api/"):
                answer = other.request(method, path, headers=api, json={"state": "contacted", "note": "x"})
            else:
                answer = other.request(method, path, data={"csrf_token": token, "state": "contacted", "note": "x"})
            # (the /lawyer/ and /review/ ones refuse staff altogether)
            assert answer.status_code == 403, (method, path, answer.status_code)
    assert PHONE not in str(app.state.store.help.audit_log()) and app.state.store.help.audit_log() == []
    # and their own queue does not list it
    assert row.reference not in other.get("/desk").text
    assert other.get("/api/help-requests", headers=api).json() == {"requests": []}


def test_the_desk_api_and_the_lawyers_answer(app):
    row, ticket = app.state.help.submit(validate_request(HELP_REQUEST, app.state.settings.district_list))
    client, staff = TestClient(app), bearer(app, "staff1")
    queue = client.get("/api/help-requests", headers=staff).json()["requests"]
    assert [r["reference"] for r in queue] == [row.reference] and queue[0]["fields"]["phone"] == "139****5678"
    assert client.post(f"/api/help-requests/{row.id}/reveal-phone", headers=staff).json() == {"phone": PHONE}
    moved = client.post(
        f"/api/help-requests/{row.id}/state", headers=staff, json={"state": "contacted", "note": "已联系"}
    )
    assert moved.status_code == 200 and moved.json()["state"] == "contacted"
    bad = client.post(f"/api/help-requests/{row.id}/state", headers=staff, json={"state": "new", "note": "x"})
    assert bad.status_code == 409
    lawyer_id = app.state.store.users.with_hash("lawyer1")[0].id
    assert (
        client.post(f"/api/help-requests/{row.id}/assign", headers=staff, json={"lawyer_id": lawyer_id}).status_code
        == 200
    )
    answer = {"body": "依照《劳动合同法》第三十八条，用人单位未及时足额支付劳动报酬的，您可以解除劳动合同。"}
    assert (
        client.post(f"/api/help-requests/{row.id}/answer", headers=bearer(app, "lawyer2"), json=answer).status_code
        == 403
    )
    assert (
        client.post(f"/api/help-requests/{row.id}/answer", headers=bearer(app, "lawyer1"), json=answer).status_code
        == 200
    )
    page = client.get(f"/help/{ticket}")
    assert "律师的答复" in page.text and 'href="/doc/labor-contract-law.38"' in page.text
    with app.state.help.store.connect() as conn:
        audit = [tuple(r.values()) for r in conn.rows("SELECT username, reference, action FROM help_audit")]
    assert audit == [("staff1", row.reference, "phone_revealed")]


def test_figures_and_feed_need_their_own_scopes(app):
    app.state.help.submit(validate_request(HELP_REQUEST, app.state.settings.district_list))
    client, settings = TestClient(app), app.state.settings
    reader = {"Authorization": f"Bearer {create_token(settings, 'union', ['help:read'])}"}
    personal = {"Authorization": f"Bearer {create_token(settings, 'legal-aid', ['help:personal'])}"}
    logs = {"Authorization": f"Bearer {create_token(settings, 'monitor', ['logs:read'])}"}
    assert client.get("/api/help/stats", headers=logs).status_code == 401
    assert client.get("/api/help/stats", headers=reader).json()["by_district"] == {"崂山区": 1}
    plain = client.get("/api/help/events", headers=reader)
    assert plain.headers["content-type"].startswith("application/x-ndjson") and PHONE not in plain.text
    assert "王女士" not in plain.text and '"action": "created"' in plain.text
    assert PHONE in client.get("/api/help/events", headers=personal).text


def test_every_page_links_to_help(app):
    client = TestClient(app)
    assert "/help?q=" in client.get("/search", params={"q": "拖欠工资"}).text
    assert 'href="/help"' in client.get("/doc/labor-contract-law.38").text


def test_staff_role_works_in_a_store_made_before_it(tmp_path):
    """The users table of older stores refuses the role by a CHECK; opening the store rebuilds it."""
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
            " password_hash TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('lawyer', 'reviewer', 'admin')),"
            " display_name TEXT NOT NULL DEFAULT '', active INTEGER NOT NULL DEFAULT 1,"
            " failed_logins INTEGER NOT NULL DEFAULT 0, locked_until REAL NOT NULL DEFAULT 0, created_at TEXT NOT NULL);"
            "CREATE TABLE api_tokens (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
            " token_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, last_used_at TEXT,"
            " revoked INTEGER NOT NULL DEFAULT 0);"
            "INSERT INTO users VALUES (7, 'old', 'x', 'lawyer', 'Old', 1, 0, 0, '2026-01-01');"
            "INSERT INTO api_tokens VALUES (1, 7, 'h', '', '2026-01-01', NULL, 0);"
        )
    users = Users(db.open_database(path, "app"))
    users.create("desk1", PASSWORD, "staff", districts=["崂山区"])
    assert [(u.username, u.role, u.districts) for u in users.list()] == [
        ("desk1", "staff", ("崂山区",)),
        ("old", "lawyer", ()),
    ]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT user_id FROM api_tokens").fetchall() == [(7,)]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'api_tokens'").fetchone()[0]
    assert "REFERENCES users(id)" in sql.replace('"', "")


def test_the_review_dashboard_shows_the_help_figures(app):
    service = app.state.help
    row, _ = service.submit(validate_request(HELP_REQUEST, app.state.settings.district_list), "net1")
    service.submit(validate_request({**HELP_REQUEST, "district": "市南区", "is_dispute": "no"}, ["市南区"]), "net2")
    staff = app.state.store.users.with_hash("staff1")[0]
    service.change_state(staff, row.id, "contacted", note="已联系")
    page = as_user(app, "reviewer1").get("/review")
    section = page.text[page.text.index('id="help-requests"') :]
    section = section[: section.index("</section>")]
    assert "求助 2 件，未结束 2 件" in section and "劳动争议占 50%" in section
    assert "在期限内联系的占 100%" in section and section.count("<svg") == 3
    only = as_user(app, "reviewer1").get("/review", params={"district": "市南区"}).text
    assert "求助 1 件" in only


def test_admins_read_who_saw_which_phone_number(app):
    row, _ = app.state.help.submit(validate_request(HELP_REQUEST, app.state.settings.district_list))
    app.state.store.users.create("admin1", PASSWORD, "admin")
    TestClient(app).post(f"/api/help-requests/{row.id}/reveal-phone", headers=bearer(app, "staff1"))
    page = as_user(app, "admin1").get("/desk/audit")
    assert page.status_code == 200 and row.reference in page.text and "staff1" in page.text
    assert PHONE not in page.text
    assert as_user(app, "staff1").get("/desk/audit").status_code == 403


def test_admins_create_district_staff_on_the_accounts_page(app):
    app.state.store.users.create("admin2", PASSWORD, "admin")
    admin = as_user(app, "admin2")
    page = admin.get("/admin/users")
    form = {"csrf_token": csrf_from(page.text), "username": "desk9", "password": PASSWORD, "role": "staff"}
    refused = admin.post("/admin/users", data=form)
    assert refused.status_code == 422 and "至少一个区" in refused.text and 'value="desk9"' in refused.text
    created = admin.post("/admin/users", data={**form, "district:崂山区": "1", "district:市南区": "1"})
    assert created.status_code == 200 and "已创建账户 desk9" in created.text
    staff = app.state.store.users.with_hash("desk9")[0]
    assert set(staff.districts) == {"崂山区", "市南区"}
    assert login(TestClient(app), "desk9").headers["location"] == "/desk"
    bad = admin.post("/admin/users", data={**form, "username": "desk10", "district:火星区": "1"})
    assert bad.status_code == 422 and "没有这个区" in bad.text
