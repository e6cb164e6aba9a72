"""The case library: validation, workflow, versions and diffs, indexing in a real SQLite engine."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from ingest.pipeline import registry_from
from ingest.tokenise import get_tokeniser
from search_api import db
from search_api.accounts.store import Store
from search_api.cases.fields import diff_text, diff_versions, validate_case
from search_api.cases.importer import import_jsonl
from search_api.cases.index import CaseIndex, case_to_document, preparer, published_documents
from search_api.cases.workflow import CaseService
from search_api.engines.base import EngineUnavailable, SearchQuery, Term
from search_api.engines.sqlite import SqliteEngine
from search_api.errors import Conflict, Forbidden, Invalid, Unavailable
from tests.fixtures.cases import CASE, law_documents

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def tok():
    # No lexicon: these tests are about the workflow, not about segmentation quality.
    return get_tokeniser(None)


def _loaded(engine, tok):
    prepare = preparer(tok)
    engine.index_documents([prepare(d) for d in law_documents()])
    engine.refresh()
    return engine


@pytest.fixture
def engine(tmp_path, tok):
    engine = _loaded(SqliteEngine(tmp_path / "index.sqlite3"), tok)
    yield engine
    engine.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def both_engines(request, tmp_path, tok):
    """The walk-through runs on both engines (ES from tests/fixtures/es.py, its indices dropped after)."""
    if request.param == "sqlite":
        engine = _loaded(SqliteEngine(tmp_path / "index.sqlite3"), tok)
        yield engine
        engine.close()
    else:
        yield _loaded(request.getfixturevalue("es_engine"), tok)


@pytest.fixture
def store(tmp_path):
    return Store(db.open_database(tmp_path / "app.sqlite3", "app"))


@pytest.fixture
def users(store):
    return {
        "lawyer": store.users.create("lawyer1", PASSWORD, "lawyer"),
        "other": store.users.create("lawyer2", PASSWORD, "lawyer"),
        "reviewer": store.users.create("reviewer1", PASSWORD, "reviewer"),
        "admin": store.users.create("admin1", PASSWORD, "admin"),
    }


@pytest.fixture
def service(store, engine, tok):
    return CaseService(store.cases, CaseIndex(engine, prepare=preparer(tok)))


def search_ids(engine, tok, q: str) -> list[str]:
    result = engine.search(SearchQuery(terms=[Term(t) for t in tok.tokenise(q)], size=20))
    return [h.id for h in result.hits]


def count_cases(store) -> int:
    with store.cases.database.connect() as conn:
        return conn.scalar("SELECT count(*) FROM cases")


def test_draft_to_review_to_search_hit_to_withdrawal(store, users, both_engines, tok):
    engine = both_engines
    # The app hands over the search service's registry; build the same from the law documents.
    registry = registry_from(law_documents())
    service = CaseService(store.cases, CaseIndex(engine, registry=registry, prepare=preparer(tok)))
    lawyer, reviewer = users["lawyer"], users["reviewer"]
    case = service.create(lawyer, CASE)
    assert (case.state, case.current_version) == ("draft", 1)
    assert "lawyer-case-1" not in search_ids(engine, tok, "餐饮公司拖欠工资")

    assert service.submit(lawyer, case.id).state == "submitted"
    published = service.review(reviewer, case.id, "publish")
    assert published.state == "published" and published.published_version == 1

    assert search_ids(engine, tok, "餐饮公司拖欠工资")[0] == "lawyer-case-1"
    doc = engine.get("lawyer-case-1")
    assert (doc.kind, doc.doc_type, doc.region, doc.court) == ("case", "lawyer_case", "北京", CASE["court"])
    assert doc.sections["裁判要点"] == CASE["gist"]
    assert list(doc.sections) == ["关键词", "裁判要点", "基本案情", "争议焦点", "裁判结果", "裁判理由", "相关法条"]
    assert doc.annotation == CASE["annotation"]
    assert doc.cites == ["labor-contract-law.38", "labor-contract-law.46", "labor-contract-law.47"]
    # The article page can list the case through the cites filter.
    terms = [Term(t) for t in tok.tokenise("拖欠工资")]
    cited = engine.search(SearchQuery(terms=terms, filters={"cites": ["labor-contract-law.47"]}))
    assert [h.id for h in cited.hits] == ["lawyer-case-1"]

    assert service.withdraw(lawyer, case.id).state == "withdrawn"
    assert engine.get("lawyer-case-1") is None
    assert "lawyer-case-1" not in search_ids(engine, tok, "餐饮公司拖欠工资")
    actions = [e["action"] for e in service.cases.list_events(case.id)]
    assert actions == ["created", "submitted", "published", "withdrawn"]


def test_return_with_comment_then_edit_is_new_version_with_diff(service, users):
    lawyer, reviewer = users["lawyer"], users["reviewer"]
    case = service.create(lawyer, CASE)
    service.submit(lawyer, case.id)
    with pytest.raises(Invalid) as err:
        service.review(reviewer, case.id, "return", "  ")
    assert "comment" in err.value.errors
    returned = service.review(reviewer, case.id, "return", "请补充裁判理由中的计算过程")
    assert returned.state == "returned"
    assert service.cases.list_events(case.id)[-1]["comment"] == "请补充裁判理由中的计算过程"

    edited = service.update(lawyer, case.id, {**CASE, "reasoning": CASE["reasoning"] + "\n经济补偿为三个月工资。"})
    assert (edited.state, edited.current_version) == ("draft", 2)
    versions = service.cases.list_versions(case.id)
    assert [v.number for v in versions] == [1, 2] and all(v.author == "lawyer1" for v in versions)
    diffs = diff_versions(versions[0], versions[1])
    assert [d.label for d in diffs] == ["裁判理由"]
    assert ("add", "经济补偿为三个月工资。") in diffs[0].lines
    assert "+经济补偿为三个月工资。" in diff_text(versions[0], versions[1])


def test_permissions(service, users):
    lawyer, other, reviewer, admin = users["lawyer"], users["other"], users["reviewer"], users["admin"]
    case = service.create(lawyer, CASE)
    with pytest.raises(Forbidden):
        service.update(other, case.id, CASE)
    with pytest.raises(Forbidden):
        service.get(other, case.id)
    with pytest.raises(Forbidden):
        service.submit(other, case.id)
    assert service.update(reviewer, case.id, {**CASE, "title": "审核人修改的标题"}).current_version == 2
    service.submit(lawyer, case.id)
    with pytest.raises(Forbidden):
        service.review(lawyer, case.id, "publish")
    with pytest.raises(Conflict):
        service.update(lawyer, case.id, CASE)  # under review

    own = service.create(reviewer, CASE)
    service.submit(reviewer, own.id)
    with pytest.raises(Forbidden):
        service.review(reviewer, own.id, "publish")  # nobody reviews their own case …
    assert service.review(admin, own.id, "publish").state == "published"  # … except an admin
    with pytest.raises(Forbidden):
        service.update(other, own.id, CASE)  # a published case is corrected by its author or a reviewer only
    with pytest.raises(Forbidden):
        service.withdraw(other, own.id)
    assert service.get(other, own.id).state == "published"  # published cases are public


def test_a_published_case_is_corrected_without_taking_it_down(store, users, both_engines, tok):
    """Found: a published case had to be withdrawn (gone from search) before a typo could be fixed."""
    engine = both_engines
    service = CaseService(
        store.cases, CaseIndex(engine, registry=registry_from(law_documents()), prepare=preparer(tok))
    )
    lawyer, reviewer, other = users["lawyer"], users["reviewer"], users["other"]
    case = service.create(lawyer, CASE)
    service.submit(lawyer, case.id)
    service.review(reviewer, case.id, "publish")
    corrected = {**CASE, "facts": CASE["facts"] + "同事王某出庭作证。"}
    draft = service.update(lawyer, case.id, corrected)
    assert (draft.state, draft.current_version, draft.published_version, draft.live) == ("draft", 2, 1, True)
    # while the correction is drafted and reviewed, version 1 stays public and searchable
    seen = service.get(other, case.id)
    assert seen.current_version == 1 and "王某出庭作证" not in seen.current.data["facts"]
    assert search_ids(engine, tok, "餐饮公司拖欠工资")[0] == "lawyer-case-1"
    assert "王某出庭作证" not in engine.get("lawyer-case-1").text
    assert [d.id for d in published_documents(store.cases)] == ["lawyer-case-1"]  # a rebuild keeps it too
    service.submit(lawyer, case.id)
    assert service.get(other, case.id).current_version == 1
    republished = service.review(reviewer, case.id, "publish")
    assert (republished.state, republished.published_version) == ("published", 2)
    assert "王某出庭作证" in engine.get("lawyer-case-1").text
    assert service.get(other, case.id).current_version == 2
    # withdrawing takes it down; an edit after that is not public until published again
    service.withdraw(lawyer, case.id)
    service.update(lawyer, case.id, CASE)
    with pytest.raises(Forbidden):
        service.get(other, case.id)
    assert engine.get("lawyer-case-1") is None and published_documents(store.cases) == []


def test_stale_edit_is_refused(service, users):
    case = service.create(users["lawyer"], CASE)
    service.update(users["lawyer"], case.id, CASE, base_version=1)
    with pytest.raises(Conflict):
        service.update(users["lawyer"], case.id, CASE, base_version=1)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"court": ""}, "court", "请填写法院"),
        ({"judgment_date": (date.today() + timedelta(days=3)).isoformat()}, "judgment_date", "不能晚于今天"),
        ({"judgment_date": "2022-13-40"}, "judgment_date", "格式"),
        ({"keywords": ["一", "二", "三", "四", "五", "六", "七", "八"]}, "keywords", "最多 7 个"),
        ({"facts": "长" * 100_000}, "facts", "过长"),
        ({"facts": "x" * 5 * 1024 * 1024}, "facts", "过长"),
        ({"gist": "坏\ud800字"}, "gist", "UTF-8"),
        ({"title": ["not", "text"]}, "title", "须为文本"),
        ({"source": "javascript:alert(1)"}, "source", "http"),
    ],
)
def test_bad_input_is_refused_and_nothing_saved(service, users, store, change, field, message):
    with pytest.raises(Invalid) as err:
        service.create(users["lawyer"], {**CASE, **change}, complete=True)
    assert message in err.value.errors[field]
    assert count_cases(store) == 0


def test_draft_needs_only_title_but_submit_needs_template(service, users, store):
    case = service.create(users["lawyer"], {"title": "只有标题的草稿"})
    with pytest.raises(Invalid) as err:
        service.submit(users["lawyer"], case.id)
    assert {"court", "facts", "annotation"} <= set(err.value.errors)
    assert store.cases.get(case.id).state == "draft"


def test_validation_collects_every_error_at_once():
    data, errors = validate_case({"keywords": "a b c d e f g h"}, complete=True, today=date(2024, 1, 1))
    assert errors["title"] == "请填写标题" and errors["keywords"] == "关键词最多 7 个（现有 8 个）"
    assert data["keywords"] == list("abcdefgh")  # what was typed is kept for the form


def test_citations_resolved_and_unknown_ones_flagged(service, users):
    case = service.create(users["lawyer"], CASE)
    by_raw = {c["raw"]: c for c in case.current.citations}
    assert by_raw["《中华人民共和国劳动合同法》第四十七条"]["target"] == "labor-contract-law.47"
    assert by_raw["《劳动合同法》第九百九十九条"]["resolved"] is False  # known law, no such article
    assert by_raw["《某某省欠薪条例》第五条"]["resolved"] is False  # unknown law: kept, flagged
    doc = case_to_document(case.current)
    assert "labor-contract-law.999" not in doc.cites
    assert any(c["raw"] == "《某某省欠薪条例》第五条" for c in doc.citations)


def test_engine_failure_leaves_case_unpublished(store, users, tmp_path):
    class DownEngine(SqliteEngine):
        def index_documents(self, docs):
            raise EngineUnavailable("connection refused")

    service = CaseService(store.cases, CaseIndex(DownEngine(tmp_path / "down.sqlite3")))
    case = service.create(users["lawyer"], CASE)
    service.submit(users["lawyer"], case.id)
    with pytest.raises(Unavailable):
        service.review(users["reviewer"], case.id, "publish")
    record = store.cases.get(case.id)
    assert (record.state, record.published_version) == ("submitted", None)
    assert [e["action"] for e in store.cases.list_events(case.id)] == ["created", "submitted"]


def test_published_documents_for_rebuild(service, users):
    a = service.create(users["lawyer"], CASE)
    service.create(users["lawyer"], {**CASE, "title": "仍是草稿"})
    service.submit(users["lawyer"], a.id)
    service.review(users["reviewer"], a.id, "publish")
    docs = published_documents(service.cases)
    assert [d.id for d in docs] == [f"lawyer-case-{a.id}"]
    assert docs[0].published and docs[0].source_path == f"store:lawyer-case-{a.id}"


def test_jsonl_import_reports_per_line(service, users, store):
    lines = [
        json.dumps(CASE, ensure_ascii=False).encode(),
        b"",
        json.dumps({**CASE, "title": "\u574f"}, ensure_ascii=False).encode().replace("\u574f".encode(), b"\xff\xfe"),
        b"{not json",
        json.dumps({**CASE, "keywords": list("abcdefgh")}).encode(),
        b"[1, 2]",
        json.dumps({**CASE, "title": "第二个好案例"}).encode(),
    ]
    report = import_jsonl(service, users["lawyer"], b"\n".join(lines), submit=True)
    assert (report["total"], report["ok"], report["failed"]) == (6, 2, 4)
    by_line = {e["line"]: e for e in report["lines"]}
    assert by_line[1]["ok"] and by_line[1]["state"] == "submitted"
    assert any("某某省欠薪条例" in w for w in by_line[1]["warnings"])
    assert "UTF-8" in by_line[3]["errors"]["line"]
    assert "JSON" in by_line[4]["errors"]["line"]
    assert "最多 7 个" in by_line[5]["errors"]["keywords"]
    assert "JSON 对象" in by_line[6]["errors"]["line"]
    assert by_line[7]["ok"]
    assert count_cases(store) == 2
