"""Elasticsearch: what an API search and a health check cost the node (issue 13).

Against a real server (tests/fixtures/es.py): a ranked page's documents and its related cases
come in one round trip, the cases found with the page are the ones the separate browse query
finds, the service shows the same related cases either way, and an API search costs the node
two requests (candidates, then the page with its cases); a health check costs two.
"""

from __future__ import annotations

import dataclasses

import elastic_transport
import pytest

from ingest.model import Document
from search_api.engines.base import Related, SearchQuery, Term
from search_api.engines.ranking import SPILL
from search_api.search.service import RELATED, SearchService


def article(n: int, body: str) -> Document:
    return Document(
        id=f"law.{n}",
        kind="article",
        title=f"第{n}条",
        text=f"第{n}条 {body}",
        source_id="law",
        source_title="中华人民共和国测试法",
        article=n,
        prior=1.2,
        tokens={"title": f"第{n}条", "keywords": "", "body": body},
    )


def case(n: int, cites: list[str], prior: float = 1.0) -> Document:
    return Document(
        id=f"case.{n}",
        kind="case",
        title=f"案例{n}",
        text="法院认为……" * 50,
        case_number=n,
        cites=cites,
        prior=prior,
        tokens={"title": f"案例 {n}", "keywords": "", "body": "其他 事实"},
    )


DOCS = [
    article(1, "拖欠 工资 解除 合同"),
    article(2, "拖欠 工资 补偿"),
    article(3, "加班 工资"),
    # a law-level hit among the leading ones: not an article, so no cases are looked up for it
    Document(
        id="law",
        kind="law",
        title="测试法",
        text="拖欠 工资",
        source_id="law",
        source_title="中华人民共和国测试法",
        tokens={"title": "测试法", "body": "拖欠 工资"},
    ),
    *(case(n, ["law.1"], prior=1.0 + n / 100) for n in range(1, 6)),
    case(6, ["law.1", "law.2"]),
    case(7, ["law.3"]),
    case(8, ["law"]),
]


def counted(monkeypatch) -> list[str]:
    """The paths of the requests sent to the node from now on (real requests, counted)."""
    requests: list[str] = []
    original = elastic_transport.Transport.perform_request

    def counting(self, method, target, *args, **kwargs):
        requests.append(target.split("?")[0])
        return original(self, method, target, *args, **kwargs)

    monkeypatch.setattr(elastic_transport.Transport, "perform_request", counting)
    return requests


@pytest.fixture
def engine(es_engine):
    assert es_engine.index_documents(DOCS).failed == []
    es_engine.refresh()
    return es_engine


def test_related_cases_come_with_the_page_as_the_browse_query_finds_them(engine):
    query = SearchQuery(terms=[Term("拖欠"), Term("工资")], size=5, related=Related())
    result = engine.search(query)

    articles, cases = result.related
    leading = [h for h in result.hits[:3] if h.doc.kind == "article"]
    assert articles == tuple(h.id for h in leading) and articles
    browsed = engine.search(Related().query(list(articles))).hits
    assert [c.id for c in cases] == [c.id for c in browsed]
    assert [(c.doc.title, c.doc.cites, c.doc.case_number) for c in cases] == [
        (c.doc.title, c.doc.cites, c.doc.case_number) for c in browsed
    ]
    # what a related-case link shows, not the case's text or tokens
    assert all(c.doc.text == "" and c.doc.tokens == {} for c in cases)
    # the page's own documents: their text for snippets, not the tokens
    assert all(
        h.doc.text.startswith(h.doc.title) and h.doc.tokens == {} for h in result.hits if h.doc.kind == "article"
    )


def test_without_related_or_without_articles_nothing_is_looked_up(engine):
    assert engine.search(SearchQuery(terms=[Term("拖欠")], size=5)).related is None
    only_cases = engine.search(SearchQuery(terms=[Term("事实")], size=5, related=Related()))
    assert only_cases.hits and only_cases.related == ((), [])


def test_the_service_shows_the_same_related_cases_in_two_requests(engine, settings, monkeypatch):
    # what a question met for the first time costs (asked again, it is answered from the result cache)
    service = SearchService(settings.model_copy(update={"result_cache_mb": 0}), engine)
    requests = counted(monkeypatch)
    service.search("拖欠工资")  # the law titles for citations are read once
    requests.clear()

    answer = service.search("拖欠工资").as_dict()

    assert len(requests) == 2 and requests[1].endswith("/_msearch"), requests
    shown = {h["id"]: h.get("related_cases") for h in answer["hits"]}
    assert any(shown.values()), shown
    # the same as the service finds by asking the engine itself (the path other engines take)
    again = [{"id": h["id"], "kind": h["kind"]} for h in answer["hits"][: RELATED.hits]]
    service._attach_related_cases(again)
    assert {h["id"]: h.get("related_cases") for h in again} == {h["id"]: shown[h["id"]] for h in again}


def test_health_names_the_index_and_its_documents_in_two_requests(engine, monkeypatch):
    requests = counted(monkeypatch)
    health = engine.health()
    assert len(requests) == 2, requests

    assert health["ok"] is True and health["status"] in ("green", "yellow")
    assert health["index"] == engine.indices()[0] and health["documents"] == len(DOCS) == engine.count()


def test_health_before_anything_is_indexed(es_engine):
    health = es_engine.health()
    assert health["ok"] is True and health["index"] is None and health["documents"] == 0


def request_cache_hits(engine) -> int:
    stats = engine.client.indices.stats(index=engine.alias, metric="request_cache")
    return sum(i["total"]["request_cache"]["hit_count"] for i in stats["indices"].values())


def test_a_repeated_question_reuses_the_candidates_until_the_index_changes(engine):
    query = SearchQuery(terms=[Term("拖欠"), Term("工资")], size=5)
    first = engine.search(query)
    hits = request_cache_hits(engine)

    again = engine.search(query)
    assert request_cache_hits(engine) == hits + 1
    assert [(h.id, h.score, h.coverage) for h in again.hits] == [(h.id, h.score, h.coverage) for h in first.hits]

    assert engine.index_documents([article(9, "拖欠 工资 工资 拖欠")]).failed == []
    engine.refresh()
    changed = engine.search(query)
    assert "law.9" in {h.id for h in changed.hits}  # the cached candidates were dropped with the change


def test_without_the_result_cache_the_node_ranks_a_repeated_question_anew(es_engine_factory):
    """LABOURKB_RESULT_CACHE_MB=0 means no answer is kept anywhere: the node's request cache is not
    asked either (a benchmark of first-time questions measured it answering repeats, session 28)."""
    engine = es_engine_factory(result_cache_mb=0)
    assert engine.index_documents(DOCS).failed == []
    engine.refresh()
    query = SearchQuery(terms=[Term("拖欠"), Term("工资")], size=5)
    first = engine.search(query)
    hits = request_cache_hits(engine)

    again = engine.search(query)
    assert request_cache_hits(engine) == hits
    assert [(h.id, h.score) for h in again.hits] == [(h.id, h.score) for h in first.hits]


def unit(*hot: int) -> list[float]:
    """A unit vector of the mapping's dimension pointing along the given axes."""
    from search_api.engines.es_vectors import VECTOR_DIMS

    v = [0.0] * VECTOR_DIMS
    for axis in hot:
        v[axis] = 1.0
    norm = len(hot) ** 0.5
    return [x / norm for x in v]


def test_nearest_and_light_documents_read_every_id_from_doc_values(engine, monkeypatch):
    from search_api.engines.es_query import MAX_ID_BYTES

    long_id = "law." + "长" * ((MAX_ID_BYTES - 4) // 3)  # as long as Elasticsearch takes (510 bytes)
    assert engine.index_documents([dataclasses.replace(DOCS[0], id=long_id)]).failed == []
    engine.refresh()
    vectors = [("law.1", unit(0), [unit(1)]), ("law.2", unit(2), []), (long_id, unit(0, 3), [])]
    assert engine.put_vectors((doc_id, "key", own, asks) for doc_id, own, asks in vectors) == 3
    engine.refresh()
    bodies: list[dict] = []
    original = engine.client.search

    def recording(**kwargs):
        bodies.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(engine.client, "search", recording)
    nearest = dict(engine.nearest(unit(0), 3, 0.5))
    assert nearest["law.1"] == pytest.approx(1.0, abs=0.02)
    assert nearest[long_id] == pytest.approx(0.5**0.5, abs=0.02)
    assert "law.2" in nearest
    light = engine.get_many([long_id, "law.2"], light=True)
    assert [(d.id, d.source_id, d.kind) for d in light] == [(long_id, "law", "article"), ("law.2", "law", "article")]
    # no stored field read (an _id decompresses the stored block holding the _source): ids from doc values
    assert bodies and all(b["stored_fields"] == ["_none_"] and "id" in b["docvalue_fields"] for b in bodies)


def test_a_concepts_score_on_the_node_is_its_best_term_and_spill_of_the_others(engine):
    # one named score per concept (es_query._group_clause, a dis_max): the ranking must be the one
    # per-term scores give (Scorer), so each hit's score is checked against the terms asked alone
    def scores(*terms: Term) -> dict[str, float]:
        return {h.id: h.score for h in engine.search(SearchQuery(terms=list(terms), size=10)).hits}

    both = scores(Term("拖欠", 1.0, 0), Term("工资", 0.6, 0))
    alone = [scores(Term("拖欠", 1.0, 0)), scores(Term("工资", 0.6, 0))]
    assert set(both) == {"law.1", "law.2", "law.3", "law"}
    for doc_id, score in both.items():
        weighted = [s[doc_id] for s in alone if doc_id in s]
        assert score == pytest.approx(max(weighted) + SPILL * (sum(weighted) - max(weighted)), rel=1e-5)
    assert len([s for s in alone if "law.1" in s]) == 2  # two terms of the concept matched, not one
