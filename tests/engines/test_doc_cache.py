"""Documents a remote engine sent before, kept per index generation (engines.doc_cache), in isolation
and on a real Elasticsearch node."""

from __future__ import annotations

import pytest

from ingest.model import Document
from search_api.engines.base import LIGHT_FIELDS, Related, SearchHit, SearchQuery, Term
from search_api.engines.doc_cache import DocumentCache, text_bytes


def doc(i: str, text: str = "正文") -> Document:
    return Document(id=i, kind="article", title=f"第{i}条", text=text, source_id="law")


class Node:
    """A stand-in for the engine's node: its documents, what was asked, and its generation."""

    def __init__(self, *ids: str):
        self.docs = {i: doc(i) for i in ids}
        self.asked: list[list[str]] = []
        self.generation = 1

    def fetch(self, ids: list[str]) -> list[Document]:
        self.asked.append(list(ids))
        return [self.docs[i] for i in ids if i in self.docs]


def test_documents_sent_before_are_not_asked_again_and_come_in_the_order_asked():
    node = Node("a", "b", "c")
    cache = DocumentCache(lambda: node.generation)
    assert [d.id for d in cache.get_many(["b", "a"], node.fetch)] == ["b", "a"]
    assert [d.id for d in cache.get_many(["c", "a", "x", "b"], node.fetch)] == ["c", "a", "b"]
    assert node.asked == [["b", "a"], ["c", "x"]]  # a missing id is asked each time: it may appear
    assert [d.id for d in cache.get_many(["a", "b", "c"], node.fetch)] == ["a", "b", "c"]
    assert len(node.asked) == 2


def test_doc_values_are_kept_per_generation_and_shared_between_documents_alike():
    generation = [1]
    asked: list[list[str]] = []
    node = {
        "law.1": {"id": ["law.1"], "kind": ["article"], "prior": [1.0], "topics": ["wages"]},
        "law.2": {"id": ["law.2"], "kind": ["article"], "prior": [1.0], "topics": ["wages"]},
        "law.3": {"id": ["law.3"], "kind": ["article"], "prior": [1.0], "topics": ["leave"]},
    }

    def fetch(ids):
        asked.append(list(ids))
        return [(i, node[i]) for i in ids if i in node]

    cache = DocumentCache(lambda: generation[0])
    first = cache.doc_values(["law.1", "law.2", "law.9"], fetch)
    assert set(first) == {"law.1", "law.2"} and first["law.1"] == {
        "kind": ["article"],
        "prior": [1.0],
        "topics": ["wages"],
    }
    assert first["law.1"] is first["law.2"]  # one dict for documents with the same values
    again = cache.doc_values(["law.2", "law.3", "law.1"], fetch)
    assert asked == [["law.1", "law.2", "law.9"], ["law.3"]]
    assert again["law.3"]["topics"] == ["leave"] and again["law.1"] is first["law.1"]
    node["law.1"] = {"id": ["law.1"], "kind": ["article"], "prior": [1.0], "topics": ["leave"]}
    generation[0] = 2  # a write: everything kept is dropped
    assert cache.doc_values(["law.1"], fetch)["law.1"]["topics"] == ["leave"] and asked[-1] == ["law.1"]


def test_a_new_generation_drops_what_was_kept():
    node = Node("a")
    cache = DocumentCache(lambda: node.generation)
    cache.get_many(["a"], node.fetch)
    node.docs["a"] = doc("a", "改过的正文")
    node.generation = 2
    assert cache.get_many(["a"], node.fetch)[0].text == "改过的正文"


def test_a_caller_editing_its_document_does_not_change_the_next_callers():
    node = Node("a")
    cache = DocumentCache(lambda: node.generation)
    first = cache.get_many(["a"], node.fetch)[0]
    first.questions = ["工资什么时候发"]
    first.text = "被改了"
    again = cache.get_many(["a"], node.fetch)[0]
    assert again.text == "正文" and again.questions == [] and len(node.asked) == 1


def test_without_a_generation_nothing_is_kept_and_the_fetch_says_what_is_wrong():
    node = Node("a")

    def down():
        raise ConnectionError("node down")

    cache = DocumentCache(down)
    cache.get_many(["a"], node.fetch)
    cache.get_many(["a"], node.fetch)
    assert len(node.asked) == 2
    with pytest.raises(RuntimeError):
        cache.get_many(["a"], lambda ids: (_ for _ in ()).throw(RuntimeError("检索服务不可用")))


def test_full_documents_stay_within_their_budget(monkeypatch):
    import search_api.engines.doc_cache as doc_cache

    big = "字" * 1000
    monkeypatch.setattr(doc_cache, "FULL_BUDGET", 3 * text_bytes(doc("x", big)))
    node = Node()
    node.docs = {str(i): doc(str(i), big) for i in range(10)}
    cache = DocumentCache(lambda: node.generation)
    for i in range(10):
        cache.get_many([str(i)], node.fetch)
    assert len(cache.full) == 3 and cache.full.used <= doc_cache.FULL_BUDGET
    node.asked.clear()
    cache.get_many(["9", "0"], node.fetch)
    assert node.asked == [["0"]]  # the least recently used went first


def test_with_too_many_cases_related_cases_are_kept_per_articles_and_shape():
    node = Node()
    counted = []

    def too_many(limit):
        counted.append(limit)
        return None

    calls = []

    def fetch(ids, related):
        calls.append((tuple(ids), related.per_article))
        return [SearchHit(id="case.1", score=1.0, doc=doc("case.1"))]

    cache = DocumentCache(lambda: node.generation)
    first = cache.related_cases(["law.1", "law.2"], Related(), fetch, too_many)
    first[0].doc.title = "被改了"
    again = cache.related_cases(["law.1", "law.2"], Related(), fetch, too_many)
    assert [h.id for h in again] == ["case.1"] and again[0].doc.title == "第case.1条" and len(calls) == 1
    cache.related_cases(["law.2", "law.1"], Related(), fetch, too_many)
    cache.related_cases(["law.1", "law.2"], Related(per_article=5), fetch, too_many)
    assert len(counted) == 1  # counted once a generation
    assert calls == [
        (("law.1", "law.2"), Related().per_article),
        (("law.2", "law.1"), Related().per_article),
        (("law.1", "law.2"), 5),
    ]


def test_on_elasticsearch_a_changed_document_is_read_again_after_its_refresh(es_engine):
    es_engine.index_documents([doc("law.1"), doc("law.2")])
    es_engine.refresh()
    assert [d.text for d in es_engine.get_many(["law.1", "law.2"])] == ["正文", "正文"]
    requests = []
    original = es_engine.client.mget
    es_engine.client.mget = lambda **kw: requests.append(kw["ids"]) or original(**kw)
    assert [d.text for d in es_engine.get_many(["law.2", "law.1"])] == ["正文", "正文"]
    assert requests == []  # both kept from the first read
    es_engine.index_documents([doc("law.1", "新的正文")])
    es_engine.refresh()
    assert [d.text for d in es_engine.get_many(["law.1", "law.2"])] == ["新的正文", "正文"]
    assert requests == [["law.1", "law.2"]]


def test_on_elasticsearch_candidates_take_their_doc_values_from_the_cache_and_see_a_changed_region(es_engine):
    def local(n: int, region: str, level: str = "local") -> Document:
        return Document(
            id=f"rule.{n}",
            kind="article",
            title=f"第{n}条",
            text=f"第{n}条 拖欠工资",
            source_id=f"rule-{n}",
            source_title=f"条例{n}",
            region=region,
            level=level,
            tokens={"title": f"第{n}条", "keywords": "", "body": "拖欠 工资"},
        )

    es_engine.index_documents([local(1, "上海"), local(2, "上海"), local(3, "全国", "national")])
    es_engine.refresh()
    sent = []
    original = es_engine.client.search
    es_engine.client.search = lambda **kw: sent.append(kw) or original(**kw)
    query = SearchQuery(terms=[Term("工资")], facets=True, boosts={"region": {"北京": 3.0}})
    first = es_engine.search(query)
    assert first.facets["region"] == {"上海": 2, "全国": 1}
    assert [kw.get("docvalue_fields") for kw in sent] == [["id"], list(LIGHT_FIELDS)]  # the values asked once
    sent.clear()
    assert es_engine.search(SearchQuery(terms=[Term("拖欠")], facets=True)).facets == first.facets
    assert [kw.get("docvalue_fields") for kw in sent] == [["id"]]  # kept from the first search
    assert es_engine.get_many(["rule.2"], light=True)[0].region == "上海" and len(sent) == 1
    # a rule moves to Beijing: after its refresh the facets count it there and the boost lifts it
    es_engine.index_documents([local(2, "北京")])
    es_engine.refresh()
    again = es_engine.search(query)
    assert again.facets["region"] == {"上海": 1, "北京": 1, "全国": 1}
    assert again.hits[0].id == "rule.2" and again.hits[0].doc.region == "北京"


def case_citing(n: int, cites: list[str], prior: float) -> Document:
    return Document(
        id=f"case.{n:02d}",
        kind="case",
        title=f"案例{n}",
        text="法院认为……" * 20,
        annotation="律师点评",
        case_number=n,
        cites=cites,
        prior=prior,
        source_id=f"court-{n % 3}",
        tokens={"title": f"案例 {n}", "keywords": "", "body": "事实"},
    )


def test_on_elasticsearch_cases_beside_articles_are_picked_from_every_case_as_the_node_finds_them(es_engine):
    import random

    from search_api.engines.base import SearchEngine

    rng = random.Random(7)
    articles = [f"law.{i}" for i in range(1, 9)]
    cases = [case_citing(n, rng.sample(articles, rng.randint(1, 3)), rng.choice([0.7, 0.9, 1.0])) for n in range(40)]
    es_engine.index_documents([doc(a) for a in articles] + cases)
    es_engine.refresh()
    asked = []
    original = es_engine.client.search
    es_engine.client.search = lambda **kw: asked.append(kw) or original(**kw)
    for _ in range(30):
        ids = rng.sample(articles, rng.randint(1, 3))
        related = Related(per_article=rng.randint(1, 3))
        picked = es_engine.related_cases(ids, related)
        node = SearchEngine.related_cases(es_engine, ids, related)  # the browse query itself
        assert [(h.id, h.doc.cites) for h in picked] == [(h.id, h.doc.cites) for h in node]
        assert picked and not picked[0].doc.text  # titles and links: no texts kept
    assert len(asked) == 1 + 30  # every case once; each browse query above is the comparison's own
    # a lawyer publishes a case: it is beside its article after the refresh, without a restart
    es_engine.index_documents([case_citing(99, ["law.1"], 2.0)])
    es_engine.refresh()
    assert es_engine.related_cases(["law.1"], Related())[0].id == "case.99"
