"""Questions asked again are answered from the result cache — the same answer, never a stale one
(search/result_cache.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from ingest.pipeline import token_fields
from search_api.engines.sqlite import SqliteEngine
from search_api.monitoring.querylog import QueryLog, logged_search
from search_api.search.result_cache import ResultCache, request_key
from search_api.search.service import SearchService
from tests.conftest import EVAL, make_settings
from tests.monitoring.test_querylog_durable import stored

QUESTIONS = [
    json.loads(line)["q"]
    for line in (EVAL / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def comparable(response) -> dict:
    """The answer as the API sends it, without the time it took."""
    data = json.loads(json.dumps(response.as_dict(), ensure_ascii=False))
    data.pop("took_ms")
    return data


@pytest.fixture
def private_index(tmp_path, corpus_index):
    path = tmp_path / "index.sqlite3"
    shutil.copy(corpus_index, path)
    return path


def service_on(settings, path, **overrides) -> SearchService:
    return SearchService(settings.model_copy(update=overrides), SqliteEngine(path))


def test_a_kept_answer_is_the_answer(corpus_settings):
    cached = service_on(corpus_settings, corpus_settings.index_path)
    fresh = service_on(corpus_settings, corpus_settings.index_path, result_cache_mb=0)
    for q in QUESTIONS[:60]:
        for args in ({}, {"facets": True}, {"page": 2, "facets": True}, {"filters": {"kind": ["article"]}}):
            first = comparable(cached.search(q, **args))
            again = cached.search(q, **args)
            assert comparable(again) == first == comparable(fresh.search(q, **args)), (q, args)
    assert cached.results.hits == 60 * 4 and fresh.results.hits == 0


def test_each_search_gets_its_own_response_object(corpus_settings):
    service = service_on(corpus_settings, corpus_settings.index_path)
    first = service.search("拖欠工资怎么办")
    first.query_id = "q1"  # as the query log does
    first.hits.clear()
    again = service.search("拖欠工资怎么办")
    assert again is not first and again.query_id is None and again.hits


def test_a_write_by_another_process_is_seen_at_once(corpus_settings, private_index):
    service = service_on(corpus_settings, private_index)
    q = "劳务派遣工被退回后工资怎么算"
    before = service.search(q, filters={"kind": ["article"]})
    assert before.hits and service.search(q, filters={"kind": ["article"]}).total == before.total
    assert service.results.hits == 1
    # another process (another worker, `labourkb ingest`) writes to the same index file
    other = SqliteEngine(private_index)
    copy = replace(other.get(before.hits[0]["id"]), id="article.copy-for-the-cache-test")
    copy.tokens = token_fields(copy, service.tok)
    other.index_documents([copy])
    after = service.search(q, filters={"kind": ["article"]})
    assert after.total == before.total + 1
    assert copy.id in [h["id"] for h in after.hits]


def test_invalidate_drops_kept_answers(corpus_settings):
    service = service_on(corpus_settings, corpus_settings.index_path)
    service.search("试用期多长")
    service.invalidate()  # an ingest, a publish or approved additions in this process
    service.search("试用期多长")
    assert service.results.hits == 0 and service.results.misses == 2


def test_off_when_zero(corpus_settings):
    service = service_on(corpus_settings, corpus_settings.index_path, result_cache_mb=0)
    service.search("试用期多长")
    service.search("试用期多长")
    assert not service.results.enabled and len(service.results) == 0 and service.results.hits == 0


def test_bounded_in_bytes_least_recent_dropped(corpus_settings):
    service = service_on(corpus_settings, corpus_settings.index_path)
    generation = service._generation()
    sample = service.search("试用期多长")
    cache = ResultCache(max_bytes=20_000)
    for q in QUESTIONS[:40]:
        assert cache.get(generation, request_key(q, None, 1, 10, False, True)) is None  # as the service does
        cache.put(generation, request_key(q, None, 1, 10, False, True), sample)
        assert cache.bytes <= 20_000
        assert cache.get(generation, request_key(q, None, 1, 10, False, True)) is not None  # the newest stays
    assert 0 < len(cache) < 40
    assert cache.get(generation, request_key(QUESTIONS[0], None, 1, 10, False, True)) is None


def test_an_answer_computed_on_a_replaced_index_is_not_kept(corpus_settings):
    service = service_on(corpus_settings, corpus_settings.index_path)
    sample = service.search("试用期多长")
    cache = ResultCache(max_bytes=1_000_000)
    key = request_key("试用期多长", None, 1, 10, False, True)
    assert cache.get(("new",), key) is None  # a search on the new index looked first
    cache.put(("old",), key, sample)  # a slower search begun on the old one finishes
    assert cache.get(("new",), key) is None and len(cache) == 0


def test_every_search_is_still_logged(corpus_settings, tmp_path):
    service = service_on(corpus_settings, corpus_settings.index_path)
    querylog = QueryLog(make_settings(tmp_path, secret_key="s"))
    try:
        ids = [logged_search(service, querylog, "公司不交社保可以辞职吗", source="api").query_id for _ in range(3)]
        querylog.flush()  # journaled on return, stored by the background thread (monitoring.journal)
        rows = stored(querylog)
    finally:
        querylog.close()
    assert service.results.hits == 2
    assert len(set(ids)) == 3 and sorted(r["query_id"] for r in rows) == sorted(ids)


def test_on_elasticsearch_answers_are_kept_and_another_process_write_is_seen_within_the_period(
    es_engine_factory, tmp_path
):
    import time

    from ingest.pipeline import ingest
    from search_api.engines.elasticsearch import ElasticsearchEngine
    from tests.conftest import CORPUS, LEXICON

    engine = es_engine_factory()
    ingest([CORPUS / "laws" / "labor-contract-law.md"], engine, lexicon_dir=LEXICON)
    engine._generation.period = 0.3  # Elasticsearch's refresh interval is 1 s; shorter for the test
    settings = make_settings(tmp_path, engine="elasticsearch", es_url=engine.settings.es_url)
    settings = settings.model_copy(update={"es_index_prefix": engine.settings.es_index_prefix})
    service = SearchService(settings, engine)
    q = "试用期最长多久"
    before = service.search(q)
    asked = engine._generation.fetches
    assert comparable(service.search(q)) == comparable(before) and service.results.hits == 1
    assert engine._generation.fetches == asked  # the node is not asked on every search
    other = ElasticsearchEngine(engine.settings)  # another worker on the same indices
    copy = replace(other.get(before.hits[0]["id"]), id="labor-contract-law.copy-for-the-cache-test")
    copy.tokens = token_fields(copy, service.tok)
    other.index_documents([copy])
    other.refresh()  # searchable now: seen here within the period
    deadline = time.monotonic() + 0.3 + 2.0
    while service.search(q).total != before.total + 1:
        assert time.monotonic() < deadline, "the other process's write was never seen"
        time.sleep(0.05)
    # this process's own refresh is seen at once
    engine.delete([copy.id])
    engine.refresh()
    assert service.search(q).total == before.total


def test_on_elasticsearch_a_node_that_does_not_answer_keeps_and_serves_nothing(es_engine_factory, tmp_path):
    from ingest.pipeline import ingest
    from tests.conftest import CORPUS, LEXICON

    engine = es_engine_factory()
    ingest([CORPUS / "laws" / "labor-contract-law.md"], engine, lexicon_dir=LEXICON)
    settings = make_settings(tmp_path, engine="elasticsearch", es_url=engine.settings.es_url)
    settings = settings.model_copy(update={"es_index_prefix": engine.settings.es_index_prefix})
    service = SearchService(settings, engine)
    service.search("试用期最长多久")
    engine._generation.expire()
    real = engine._searchable_state

    def down():
        raise ConnectionError("node down")

    engine._generation._fetch = down
    assert service._generation() is None  # nothing served from the cache; the search itself says what is wrong
    engine._generation._fetch = real
    assert service._generation() is not None
