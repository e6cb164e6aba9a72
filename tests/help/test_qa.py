"""An answered request published as a 问答: only with consent, only anonymised, searchable at once on both engines."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from search_api.errors import Conflict, Invalid
from search_api.help.fields import validate_request
from search_api.help.qa import publish_qa, published_qa_documents
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, make_app
from tests.fixtures.help import HELP_REQUEST

TITLE = "公司连续三个月拖欠工资，可以马上辞职并要经济补偿吗"
QUESTION = "公司连续三个月没有发工资，老板总说下个月再发。我想辞职，能不能要经济补偿？"
ANSWER = "可以。依照《劳动合同法》第三十八条，用人单位未及时足额支付劳动报酬的，劳动者可以解除劳动合同；依照《劳动合同法》第四十六条，用人单位应当支付经济补偿。"


def answered(app, publish_consent: bool = True) -> int:
    service, users = app.state.help, app.state.store.users
    users.create("staff1", PASSWORD, "staff", districts=["崂山区"])
    users.create("lawyer1", PASSWORD, "lawyer")
    users.create("reviewer1", PASSWORD, "reviewer")
    row, _ = service.submit(validate_request({**HELP_REQUEST, "publish_consent": publish_consent}, ["崂山区"]))
    service.assign(users.with_hash("staff1")[0], row.id, users.with_hash("lawyer1")[0].id)
    service.save_answer(users.with_hash("lawyer1")[0], row.id, ANSWER)
    return row.id


def publish(app, request_id: int, **change) -> str:
    reviewer = app.state.store.users.with_hash("reviewer1")[0]
    values = {"title": TITLE, "question": QUESTION, "answer": ANSWER, **change}
    return publish_qa(app.state.help, app.state.case_service.index, reviewer, request_id, **values)


def check_found(app) -> None:
    request_id = answered(app)
    doc_id = publish(app, request_id)
    client = TestClient(app)
    doc = client.get(f"/api/documents/{doc_id}").json()
    assert doc["kind"] == "qa" and doc["title"] == TITLE
    assert {"labor-contract-law.38", "labor-contract-law.46"} <= set(doc["cites"])
    hits = client.get("/api/search", params={"q": "拖欠工资三个月 辞职 经济补偿", "size": 10}).json()["hits"]
    assert doc_id in [h["id"] for h in hits]
    page = client.get(f"/doc/{doc_id}").text
    assert "问答" in page and 'href="/doc/labor-contract-law.38"' in page
    with pytest.raises(Conflict):
        publish(app, request_id)  # once only
    assert [d.id for d in published_qa_documents(app.state.store.help)] == [doc_id]  # what a rebuild re-indexes


def test_published_and_found_on_the_embedded_engine(settings):
    check_found(make_app(settings))


def test_published_and_found_on_elasticsearch(tmp_path, es_url):
    settings = make_settings(
        tmp_path / "data",
        engine="elasticsearch",
        es_url=es_url,
        es_index_prefix=f"labourkb-test-{uuid.uuid4().hex[:8]}",
    )
    app = make_app(settings)
    try:
        check_found(app)
    finally:
        app.state.engine.drop_indices()
        app.state.engine.close()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"question": QUESTION + "我是王女士。"}, "question", "姓名"),
        ({"answer": ANSWER + "有事请打 139 1234 5678。"}, "answer", "电话"),
        ({"title": "青岛某某电子有限公司拖欠工资"}, "title", "单位名称"),
        ({"question": QUESTION + "身份证 370202199001011234"}, "question", "号码"),
        ({"title": "欠薪"}, "title", "6–80 个字"),
    ],
)
def test_anything_identifying_is_refused(settings, change, field, words):
    app = make_app(settings)
    request_id = answered(app)
    with pytest.raises(Invalid) as refused:
        publish(app, request_id, **change)
    assert words in refused.value.errors[field]
    assert published_qa_documents(app.state.store.help) == []


def test_no_consent_no_publication(settings):
    app = make_app(settings)
    request_id = answered(app, publish_consent=False)
    with pytest.raises(Conflict):
        publish(app, request_id)
    reviewer = TestClient(app)
    from tests.fixtures.cases import login

    login(reviewer, "reviewer1")
    assert "求助人没有同意" in reviewer.get(f"/review/qa/{request_id}").text
