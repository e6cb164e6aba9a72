"""Documents a remote engine sent before, kept per index generation (engines.doc_cache), in isolation
and on a real Elasticsearch node."""

from __future__ import annotations

import pytest

from ingest.model import Document
from search_api.engines.base import Related, SearchHit
from search_api.engines.doc_cache import DocumentCache, text_bytes


def doc(i: str, text: str = "正文") -> Document:
    return Document(id=i, kind="article", title=f"第{i}条", text=text, source_id="law")


class Node:
    """A stand-in for the engine's node: its documents, what was asked, and its generation."""

    def __init__(self, *ids: str):
        self.docs = {i: doc(i) for i in ids}
        self.asked: list[list[str]] = []
        self.generation = 1

    def fetch(self, ids: list[str], light: bool) -> list[Document]:
        self.asked.append(list(ids))
        return [self.docs[i] for i in ids if i in self.docs]


def test_documents_sent_before_are_not_asked_again_and_come_in_the_order_asked():
    node = Node("a", "b", "c")
    cache = DocumentCache(lambda: node.generation)
    assert [d.id for d in cache.get_many(["b", "a"], False, node.fetch)] == ["b", "a"]
    assert [d.id for d in cache.get_many(["c", "a", "x", "b"], False, node.fetch)] == ["c", "a", "b"]
    assert node.asked == [["b", "a"], ["c", "x"]]  # a missing id is asked each time: it may appear
    assert [d.id for d in cache.get_many(["a", "b", "c"], False, node.fetch)] == ["a", "b", "c"]
    assert len(node.asked) == 2


def test_light_and_full_documents_are_kept_apart():
    node = Node("a")
    cache = DocumentCache(lambda: node.generation)
    cache.get_many(["a"], True, node.fetch)
    cache.get_many(["a"], False, node.fetch)
    assert node.asked == [["a"], ["a"]]


def test_a_new_generation_drops_what_was_kept():
    node = Node("a")
    cache = DocumentCache(lambda: node.generation)
    cache.get_many(["a"], False, node.fetch)
    node.docs["a"] = doc("a", "改过的正文")
    node.generation = 2
    assert cache.get_many(["a"], False, node.fetch)[0].text == "改过的正文"


def test_a_caller_editing_its_document_does_not_change_the_next_callers():
    node = Node("a")
    cache = DocumentCache(lambda: node.generation)
    first = cache.get_many(["a"], False, node.fetch)[0]
    first.questions = ["工资什么时候发"]
    first.text = "被改了"
    again = cache.get_many(["a"], False, node.fetch)[0]
    assert again.text == "正文" and again.questions == [] and len(node.asked) == 1


def test_without_a_generation_nothing_is_kept_and_the_fetch_says_what_is_wrong():
    node = Node("a")

    def down():
        raise ConnectionError("node down")

    cache = DocumentCache(down)
    cache.get_many(["a"], False, node.fetch)
    cache.get_many(["a"], False, node.fetch)
    assert len(node.asked) == 2
    with pytest.raises(RuntimeError):
        cache.get_many(["a"], False, lambda ids, light: (_ for _ in ()).throw(RuntimeError("检索服务不可用")))


def test_full_documents_stay_within_their_budget(monkeypatch):
    import search_api.engines.doc_cache as doc_cache

    big = "字" * 1000
    monkeypatch.setattr(doc_cache, "FULL_BUDGET", 3 * text_bytes(doc("x", big)))
    node = Node()
    node.docs = {str(i): doc(str(i), big) for i in range(10)}
    cache = DocumentCache(lambda: node.generation)
    for i in range(10):
        cache.get_many([str(i)], False, node.fetch)
    assert len(cache.full) == 3 and cache.full.used <= doc_cache.FULL_BUDGET
    node.asked.clear()
    cache.get_many(["9", "0"], False, node.fetch)
    assert node.asked == [["0"]]  # the least recently used went first


def test_related_cases_are_kept_per_articles_and_shape():
    node = Node()
    calls = []

    def fetch(ids, related):
        calls.append((tuple(ids), related.per_article))
        return [SearchHit(id="case.1", score=1.0, doc=doc("case.1"))]

    cache = DocumentCache(lambda: node.generation)
    first = cache.related_cases(["law.1", "law.2"], Related(), fetch)
    first[0].doc.title = "被改了"
    again = cache.related_cases(["law.1", "law.2"], Related(), fetch)
    assert [h.id for h in again] == ["case.1"] and again[0].doc.title == "第case.1条" and len(calls) == 1
    cache.related_cases(["law.2", "law.1"], Related(), fetch)
    cache.related_cases(["law.1", "law.2"], Related(per_article=5), fetch)
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
