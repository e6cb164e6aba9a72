"""Elasticsearch: the frequencies of a question's terms, for leaving out the negligible ones on a large index.

``ranking.negligible_terms`` decides; the engine asks the node for the frequencies in one
``_termvectors`` request (an artificial document), keeps them per index generation
(``DocumentCache.doc_freqs``) and, on an index of at most ``STOPWORD_MIN_DOCS`` documents, asks nothing.
Against a real server (tests/fixtures/es.py); the threshold is lowered to the test corpus's size.
"""

from __future__ import annotations

import pytest

from ingest.pipeline import ingest
from search_api.engines import ranking
from search_api.engines.base import SearchQuery, Term
from search_api.engines.es_query import doc_freq_request, doc_freqs
from tests.conftest import LEXICON
from tests.engines.test_es_requests import counted
from tests.fixtures.corpus import write_corpus


def test_a_terms_frequency_is_its_most_frequent_field_and_a_phrase_its_rarest_token():
    resp = {
        "term_vectors": {
            "tokens.body": {"terms": {"工资": {"doc_freq": 90}, "在": {"doc_freq": 700}}},
            "tokens.title": {"terms": {"工资": {"doc_freq": 12}, "加班": {"doc_freq": 4}}},
        }
    }
    got = doc_freqs(resp, ["工资", "在", "加班 工资", "加班 无此词", "无此词"])
    assert got == {"工资": 90, "在": 700, "加班 工资": 4, "加班 无此词": 0, "无此词": 0}
    assert doc_freqs({}, ["工资"]) == {"工资": 0}  # nothing found anywhere
    asked = doc_freq_request(["加班 工资", "工资", "在"])
    assert set(asked["doc"]["tokens"].values()) == {" ".join(sorted({"加班", "工资", "在"}))}  # each token once
    assert asked["fields"] == [f"tokens.{f}" for f in asked["doc"]["tokens"]]


def test_skipping_rule_on_small_and_large_indexes():
    weights = {"工资": 1.0, "在": 0.3, "拖欠": 1.0, "无此词": 1.0}
    df = {"工资": 9_000, "在": 17_000, "拖欠": 2_000, "无此词": 0}.__getitem__
    # a quarter of the documents or more, and weight × idf below MIN_TERM_IMPACT, and found nowhere
    assert ranking.negligible_terms(weights, 60_000, df) == {"在", "无此词"}
    assert ranking.negligible_terms(weights, 30_000, df) == {"工资", "在", "无此词"}
    assert ranking.negligible_terms(weights, ranking.STOPWORD_MIN_DOCS, df) == set()  # small: every term
    assert ranking.negligible_terms({"在": 0.3}, 60_000, df) == set()  # a lone term is kept


@pytest.fixture
def engine(es_engine, tmp_path):
    report = ingest([write_corpus(tmp_path / "corpus")], es_engine, lexicon_dir=LEXICON)
    assert not report.failed and es_engine.count() == 8
    return es_engine


def termvectors(requests: list[str]) -> int:
    return sum(path.endswith("/_termvectors") for path in requests)


def test_frequencies_come_from_the_node_once_a_generation(engine, monkeypatch):
    question = SearchQuery(terms=[Term("赔偿金", group=0), Term("劳动者", group=1)], size=10)
    requests = counted(monkeypatch)
    engine.search(question)
    assert termvectors(requests) == 0  # 8 documents: every term is scored, nothing asked
    monkeypatch.setattr(ranking, "STOPWORD_MIN_DOCS", 3)
    engine.refresh()
    found = engine._fetch_doc_freqs(["劳动者", "用人单位", "赔偿金", "无此词"])
    assert found == {"劳动者": 5, "用人单位": 4, "赔偿金": 2, "无此词": 0}  # as the embedded index counts them
    requests.clear()
    engine.search(question)
    engine.search(question)
    engine.search(SearchQuery(terms=[Term("劳动者", group=0), Term("用人单位", group=1)], size=10))
    assert termvectors(requests) == 2  # the first question's terms, then 用人单位 alone
    engine.refresh()  # another generation: the frequencies may have changed
    requests.clear()
    engine.search(question)
    assert termvectors(requests) == 1


def test_warming_keeps_the_frequencies_of_the_lexicons_terms(engine, monkeypatch):
    monkeypatch.setattr(ranking, "STOPWORD_MIN_DOCS", 3)
    engine.refresh()
    requests = counted(monkeypatch)
    assert engine.warm(["赔偿金", "劳动者", "用人单位"]) == 3
    assert termvectors(requests) == 1
    requests.clear()
    engine.search(SearchQuery(terms=[Term("赔偿金", group=0), Term("劳动者", group=1)], size=10))
    assert termvectors(requests) == 0
    monkeypatch.setattr(ranking, "STOPWORD_MIN_DOCS", 20_000)
    engine.refresh()
    assert engine.warm(["赔偿金"]) == 0  # a small index: nothing to keep


def test_without_frequencies_every_term_is_searched():
    """The frequencies only save work: a failed request leaves the question whole, and nothing is kept."""
    from search_api.engines.doc_cache import DocumentCache

    cache = DocumentCache(lambda: 1)
    question = SearchQuery(terms=[Term("在", 0.3, group=0), Term("工资", group=1)], size=10)

    def failing(texts: list[str]) -> dict[str, int]:
        raise ConnectionError("node gone")

    assert cache.without_negligible_terms(question, lambda: 60_000, failing) is question
    kept = cache.without_negligible_terms(question, lambda: 60_000, lambda texts: {"在": 40_000, "工资": 900})
    assert [t.text for t in kept.terms] == ["工资"]
