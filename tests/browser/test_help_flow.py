"""Issue 15 end to end on a 360×740 phone: 我要维权 from a search without a confident answer to a
published 问答 that the next search finds.

One real server over a copy of the ingested corpus (the index file lives inside the data
directory, so the final walk for the phone number covers it too), Debian's Chromium, no
mocks. Each person has their own browser context (their own cookies): the worker (without
JavaScript, as on a cheap phone), the 崂山区 desk, the lawyer on its rota, a reviewer, and a
市南区 desk that must be refused on every route of the request, by page and by API token.
The form's minimum fill time is set to 0 so the test need not wait for it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.browser.conftest import serve
from tests.browser.test_calc import WIDER_THAN_SCREEN_JS
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD

# Checked against the corpus: GET /api/search answers "confident": false with some results.
QUERY = "老板不让我上厕所"
PHONE = "13912345678"
MASKED = "139****5678"
EMPLOYER = "青岛海岸电子有限公司"
STORY = f"我在{EMPLOYER}流水线上班三年，班长规定上班时间一天只能去两次厕所，多去一次罚款五十元，还要当众点名批评。"
NOTE = "已电话联系，约定周四上午来工会面谈"
ANSWER = (
    "限制上厕所并以罚款相逼，可能构成以非法限制人身自由的手段强迫劳动。"
    "依照《劳动合同法》第三十八条，这种情况下劳动者可以立即解除劳动合同，不需要事先告知用人单位，"
    "并可以要求经济补偿。请保留罚款记录和聊天记录。"
)
QA_TITLE = "上班时间老板限制上厕所还罚款，可以立即辞职吗"
QA_QUESTION = "工厂规定上班时间一天只能上两次厕所，多去一次就罚款并当众批评，这合法吗？我可以怎么办？"
DESK_DISTRICT = "崂山区"
OTHER_DISTRICT = "市南区"


@pytest.fixture(scope="module")
def help_app(tmp_path_factory, corpus_index):
    """The app over a private copy of the corpus index (publishing a 问答 writes to it), with the
    desk, lawyer and reviewer accounts of the flow."""
    from search_api.app import create_app

    data = tmp_path_factory.mktemp("help-flow") / "data"
    data.mkdir()
    shutil.copy(corpus_index, data / "index.sqlite3")
    app = create_app(make_settings(data, help_min_fill_seconds=0))
    users = app.state.store.users
    users.create("laoshan-desk", PASSWORD, "staff", districts=[DESK_DISTRICT])
    users.create("shinan-desk", PASSWORD, "staff", districts=[OTHER_DISTRICT])
    users.create("lawyer-laoshan", PASSWORD, "lawyer", display_name="张律师", districts=[DESK_DISTRICT])
    users.create("lawyer-shinan", PASSWORD, "lawyer", display_name="李律师", districts=[OTHER_DISTRICT])
    users.create("reviewer1", PASSWORD, "reviewer")
    return app


@pytest.fixture(scope="module")
def live_server(help_app):
    """Overrides the shared server: the flow needs this app's accounts and a writable index."""
    with serve(help_app) as url:
        yield url


def fits(page) -> None:
    layout = page.evaluate(WIDER_THAN_SCREEN_JS)
    assert layout["width"] == 360, layout
    assert layout["scroll"] <= 360 and not layout["wide"], (page.url, layout)


def log_in(w, username: str) -> str:
    """Log in through the login form; returns the path the login lands on."""
    w.go("/login")
    w.page.fill("#username", username)
    w.page.fill("#password", PASSWORD)
    w.page.get_by_role("button", name="登录").click()
    w.page.wait_for_url(lambda url: urlsplit(url).path != "/login")
    return urlsplit(w.page.url).path


def to_desk(w) -> None:
    """From wherever the login landed, through the account menu's 求助台 link."""
    w.page.locator("nav.account-nav").get_by_role("link", name="求助台").click()
    w.page.wait_for_url("**/desk")


def csrf(page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value")


def hit_ids(page) -> list[str]:
    """The document ids of the result links on a results page (direct or through /go)."""
    ids = []
    for href in page.locator("li.hit h2 a").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        parts = urlsplit(href)
        ids.append(parse_qs(parts.query)["id"][0] if parts.path == "/go" else parts.path.removeprefix("/doc/"))
    return ids


def test_help_request_from_search_to_published_qa(open_page, help_app, live_server, capfd, caplog):
    help_store = help_app.state.store.help
    data_dir: Path = help_app.state.settings.data_dir
    lawyer_id = next(u.id for u in help_app.state.store.users.list() if u.username == "lawyer-laoshan")

    # ---- the worker: a search without a confident answer leads to the form -------------------
    worker = open_page("phone", javascript=False)
    page = worker.page
    assert page.request.get(live_server + "/api/search?q=" + quote(QUERY)).json()["confident"] is False
    worker.go("/")
    page.get_by_label("输入你的问题").fill(QUERY)
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search?*")
    unsure = page.locator("section.unsure")
    assert unsure.get_by_role("heading", name="没有找到有把握的答案").is_visible()
    unsure.get_by_role("link", name="找工会帮忙").click()
    page.wait_for_url("**/help?q=*")
    assert page.get_by_role("heading", name="找工会帮忙", level=1).is_visible()
    assert page.locator("#f-question").input_value() == QUERY  # carried over from the search
    fits(page)
    worker.shot("help-form-phone")

    page.locator("#f-district").select_option(DESK_DISTRICT)
    page.locator("input[name=topic][value=other]").check()
    page.locator("input[name=is_dispute][value=yes]").check()
    page.locator("#f-description").fill(STORY)
    page.locator("#f-wants").fill("想知道能不能辞职并要补偿")
    page.locator("#f-employer").fill(EMPLOYER)
    page.locator("#f-name").fill("王女士")
    page.locator("#f-phone").fill(PHONE)
    page.locator("#f-call_time").select_option("morning")
    page.locator("input[name=consent]").check()
    page.locator("input[name=publish_consent]").check()
    page.get_by_role("button", name="提交求助").click()
    page.wait_for_url(re.compile(r"/help/hr_[A-Za-z0-9_\-]+\?sent=1$"))
    status_url = page.url.removesuffix("?sent=1")
    notice = page.get_by_role("status")
    reference = notice.locator("strong.ref").inner_text()
    assert re.fullmatch(r"崂山-\d{4}-\d{6}", reference), reference
    body = page.inner_text("body")
    assert "已收到，等待工会工作人员给您回电" in body
    assert MASKED in body and PHONE not in page.content()
    assert page.get_by_role("heading", name="先准备好这些材料").is_visible()
    assert "身份证" in page.locator("section[aria-labelledby=mat-h]").inner_text()
    fits(page)
    worker.shot("help-status-phone")
    row = next(r for r in help_store.list([DESK_DISTRICT], ()) if r.reference == reference)

    # ---- the 崂山区 desk: reveal (audited), contacted with a note, assign the rota's lawyer ------
    desk = open_page("phone")
    dpage = desk.page
    log_in(desk, "laoshan-desk")
    to_desk(desk)
    dpage.get_by_role("link", name=reference).click()
    dpage.wait_for_url(f"**/desk/{row.id}")
    assert MASKED in dpage.inner_text("body") and PHONE not in dpage.content()
    assert help_store.audit_log() == []
    with dpage.expect_navigation() as revealed:
        dpage.get_by_role("button", name="显示完整电话号码（会记录查看人）").click()
    assert "no-store" in (revealed.value.headers.get("cache-control") or "")
    assert dpage.locator(f"a[href='tel:{PHONE}']").inner_text() == PHONE
    assert "此次查看已记录" in dpage.inner_text("body")
    assert "查看了电话号码" in dpage.locator("ol.events").inner_text()
    audit = [dict(a) for a in help_store.audit_log()]
    assert [(a["username"], a["reference"], a["action"]) for a in audit] == [
        ("laoshan-desk", reference, "phone_revealed")
    ]

    dpage.locator("#f-state").select_option("contacted")
    dpage.locator("#f-note").fill(NOTE)
    dpage.get_by_role("button", name="保存").click()
    dpage.wait_for_url(f"**/desk/{row.id}")
    assert "已联系" in dpage.locator("dl.inputs").inner_text()
    assert NOTE in dpage.locator("ol.events").inner_text()
    assert PHONE not in dpage.content()  # revealed for that one page only

    lawyers = dpage.locator("#f-lawyer option")
    assert lawyers.all_inner_texts() == ["张律师"]  # only the district's rota
    dpage.locator("#f-lawyer").select_option(label="张律师")
    dpage.get_by_role("button", name="分配").click()
    dpage.wait_for_url(f"**/desk/{row.id}")
    assert "张律师" in dpage.locator("dl.inputs").inner_text()
    assert "分配给律师 张律师" in dpage.locator("ol.events").inner_text()
    fits(dpage)

    # ---- the lawyer answers with a citation -------------------------------------------------
    lawyer = open_page("phone")
    lpage = lawyer.page
    log_in(lawyer, "lawyer-laoshan")
    lawyer.go("/lawyer/help")
    lpage.get_by_role("link", name=reference).click()
    lpage.wait_for_url(f"**/lawyer/help/{row.id}")
    assert STORY in lpage.inner_text("body")
    assert PHONE not in lpage.content() and MASKED not in lpage.content()  # the lawyer never sees the phone
    lpage.locator("#f-body").fill(ANSWER)
    lpage.get_by_role("button", name="保存并发给求助人").click()
    lpage.wait_for_url(f"**/lawyer/help/{row.id}?saved=1")
    assert lpage.get_by_role("status").is_visible()

    # ---- the worker's status page (the same link) shows the answer, its citation linked -------
    worker.go(urlsplit(status_url).path)
    answer = page.locator("section.answer-lawyer")
    assert answer.get_by_role("heading", name="律师的答复").is_visible()
    assert "立即解除劳动合同" in answer.inner_text() and "张律师" in answer.inner_text()
    cite = answer.locator("a[href='/doc/labor-contract-law.38']")
    assert cite.inner_text() == "《劳动合同法》第三十八条"
    body = page.inner_text("body")
    assert "工会工作人员已经和您联系" in body
    assert NOTE not in body  # the desk's notes are internal
    assert MASKED in body and PHONE not in page.content()
    fits(page)
    worker.shot("help-answer-phone")
    cite.click()
    page.wait_for_url("**/doc/labor-contract-law.38")
    assert "第三十八条" in page.inner_text("h1")

    # ---- a reviewer publishes the anonymised 问答; search finds it at once ----------------------
    reviewer = open_page("phone")
    rpage = reviewer.page
    log_in(reviewer, "reviewer1")
    reviewer.go("/review/qa")
    rpage.get_by_role("link", name=reference).click()
    rpage.wait_for_url(f"**/review/qa/{row.id}")
    assert rpage.locator("#f-question").input_value() == STORY  # the worker's words, to be rewritten
    rpage.locator("#f-title").fill(QA_TITLE)
    rpage.get_by_role("button", name="公开（立即可被搜索到）").click()
    assert rpage.get_by_role("alert").is_visible()  # the employer's name is still in the question
    assert "单位名称" in rpage.locator("#f-question ~ strong.error").inner_text()
    rpage.locator("#f-question").fill(QA_QUESTION)
    rpage.get_by_role("button", name="公开（立即可被搜索到）").click()
    rpage.wait_for_url(re.compile(r"/doc/qa-\d+$"))
    qa_id = urlsplit(rpage.url).path.removeprefix("/doc/")
    assert QA_TITLE in rpage.inner_text("h1")
    assert rpage.locator("a[href='/doc/labor-contract-law.38']").count() >= 1
    qa_text = rpage.inner_text("body")
    assert EMPLOYER not in qa_text and "王女士" not in qa_text and PHONE not in qa_text

    found = page.request.get(live_server + "/api/search?q=" + quote(QA_TITLE)).json()
    assert any(h["id"] == qa_id and h["kind"] == "qa" for h in found["hits"]), found["hits"][:5]
    worker.go("/search?q=" + quote(QA_TITLE))
    assert qa_id in hit_ids(page)[:3], hit_ids(page)
    worker.go("/search?q=" + quote(QUERY))  # the next worker with the same question
    assert qa_id in hit_ids(page), hit_ids(page)

    # ---- the 市南区 desk is refused on every route of the request, by page and by token -------
    other = open_page("phone")
    opage = other.page
    log_in(other, "shinan-desk")
    to_desk(other)
    assert reference not in opage.inner_text("body")
    token_csrf = csrf(opage)
    refused = "这个求助不属于您负责的区"
    response = other.go(f"/desk/{row.id}")
    assert response.status == 403 and refused in opage.inner_text("body")
    assert PHONE not in opage.content() and "王女士" not in opage.content()
    for path, form in (
        (f"/desk/{row.id}/reveal", {}),
        (f"/desk/{row.id}/state", {"state": "closed", "outcome": "resolved", "note": "别的区的人关掉它"}),
        (f"/desk/{row.id}/assign", {"lawyer_id": str(lawyer_id)}),
    ):
        r = opage.request.post(live_server + path, form={"csrf_token": token_csrf, **form}, max_redirects=0)
        assert r.status == 403 and refused in r.text(), (path, r.status)
    for path in (f"/lawyer/help/{row.id}", f"/review/qa/{row.id}"):
        assert other.go(path).status == 403, path
    r = opage.request.post(
        live_server + f"/lawyer/help/{row.id}/answer", form={"csrf_token": token_csrf, "body": "x" * 20}
    )
    assert r.status == 403
    r = opage.request.post(live_server + f"/review/qa/{row.id}", form={"csrf_token": token_csrf, "title": "x" * 10})
    assert r.status == 403

    other.go("/account/tokens")
    opage.locator("#name").fill("desk script")
    opage.get_by_role("button", name="生成新令牌").click()
    token = opage.locator("p.notice code").inner_text().strip()
    bearer = {"Authorization": f"Bearer {token}"}
    queue = opage.request.get(live_server + "/api/help-requests", headers=bearer)
    assert queue.status == 200 and queue.json()["requests"] == []
    assert opage.request.get(live_server + f"/api/help-requests/{row.id}", headers=bearer).status == 403
    for path, payload in (
        ("reveal-phone", None),
        ("state", {"state": "closed", "outcome": "resolved", "note": "别的区"}),
        ("assign", {"lawyer_id": lawyer_id}),
        ("answer", {"body": "别的区的人写的答复内容"}),
    ):
        r = opage.request.post(live_server + f"/api/help-requests/{row.id}/{path}", headers=bearer, data=payload or {})
        assert r.status == 403 and PHONE not in r.text(), (path, r.status, r.text())

    # nothing the 市南区 desk tried changed the request or revealed the number
    after = help_store.get(row.id)
    assert (after.state, after.lawyer) == ("contacted", "张律师")
    assert [a["username"] for a in help_store.audit_log()] == ["laoshan-desk"]

    # ---- the phone number is nowhere in the server's output, nor in plain text under its data directory
    out, err = capfd.readouterr()
    assert PHONE not in out + err + caplog.text
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"app.sqlite3", "index.sqlite3"} <= names and any(n.endswith("-wal") for n in names), names
    contents = {p: p.read_bytes() for p in files}
    # the walk does read the store: the reference number is stored in the clear
    assert any(reference.encode() in blob for blob in contents.values())
    for needle in (PHONE, STORY):
        holding = [str(p.relative_to(data_dir)) for p, blob in contents.items() if needle.encode() in blob]
        assert not holding, f"{needle!r} in plain text in {holding}"


def test_staff_login_through_the_form_lands_on_the_desk(open_page):
    w = open_page("phone")
    assert log_in(w, "laoshan-desk") == "/desk"
