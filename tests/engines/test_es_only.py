"""Elasticsearch-only behaviour, against a real server (see tests/fixtures/es.py).

The shared engine contract lives in test_contract.py; this file covers what only
the Elasticsearch engine has: alias swaps, bulk failures, restarts, retries.
"""

from __future__ import annotations

import fcntl
import os
import signal

import pytest

from ingest.model import Document
from search_api.engines import es_server
from search_api.engines.base import EngineUnavailable, QueryError, SearchQuery, Term

# A second, private node for the test that kills its server, so the shared node
# (and anyone else's test session using it) is never interrupted.
KILL_PORT = int(os.environ.get("LABOURKB_ES_TEST_KILL_PORT", "9262"))


def make_doc(i: int, body: str = "劳动 合同 解除", **extra) -> Document:
    fields = {
        "id": f"doc-{i:04d}",
        "kind": "article",
        "title": f"第{i}条",
        "text": "用人单位解除劳动合同。",
        "source_path": "laws/test.md",
        "content_hash": f"h{i}",
        "tokens": {"title": f"第{i}条", "keywords": "", "body": body},
    }
    fields.update(extra)
    return Document(**fields)


def search_total(engine, *words: str) -> int:
    return engine.search(SearchQuery(terms=[Term(w) for w in words])).total


def test_rebuild_swaps_alias_atomically_and_drops_old_index(es_engine):
    es_engine.writer.bulk_size = 5
    old_docs = [make_doc(i, body="旧 文本") for i in range(12)]
    assert es_engine.index_documents(old_docs).failed == []
    es_engine.refresh()
    [first_index] = es_engine.indices()
    seen_during_load = []

    def new_docs():
        for i in range(20):
            if i % 5 == 0:  # between bulk batches: searches must still see the whole old index
                seen_during_load.append((search_total(es_engine, "旧"), search_total(es_engine, "新")))
            yield make_doc(100 + i, body="新 文本")

    report = es_engine.rebuild(new_docs())

    assert report.indexed == 20 and report.failed == []
    assert seen_during_load == [(12, 0)] * 4
    [second_index] = es_engine.indices()
    assert second_index != first_index
    assert es_engine.count() == 20
    assert search_total(es_engine, "旧") == 0
    assert search_total(es_engine, "新") == 20
    assert es_engine.get("doc-0000") is None

    es_engine.rebuild([make_doc(7)])
    assert len(es_engine.indices()) == 1
    assert es_engine.count() == 1


def test_failed_rebuild_keeps_the_old_index(es_engine):
    es_engine.index_documents([make_doc(i) for i in range(3)])
    es_engine.refresh()
    before = es_engine.indices()

    def broken():
        yield make_doc(10)
        raise RuntimeError("source file vanished")

    with pytest.raises(RuntimeError):
        es_engine.rebuild(broken())
    assert es_engine.indices() == before
    assert es_engine.count() == 3


def test_rejected_document_is_reported_and_the_rest_lands(es_engine):
    docs = [make_doc(i) for i in range(6)]
    docs[2].prior = "很高"  # not a float: the mapping rejects this one document
    docs[4].prior = -1.0  # would give negative scores: refused before sending

    report = es_engine.index_documents(docs)

    assert report.indexed == 4
    failed = dict(report.failed)
    assert set(failed) == {"doc-0002", "doc-0004"}
    assert "prior" in failed["doc-0002"]
    assert "prior" in failed["doc-0004"]
    es_engine.refresh()
    assert es_engine.count() == 4
    assert es_engine.get("doc-0002") is None
    assert es_engine.get("doc-0003").title == "第3条"


@pytest.mark.parametrize(
    "text",
    [
        'title:劳动 AND (合同 OR "解除)~2^3',
        '{"query": {"match_all": {}}}',
        "*",
        "?*:/regex.*/ \\ [1 TO *] -+!",
        "劳" * 10_000,
        "x" * 10_000 + " " + "合同",
        " ".join(str(i) for i in range(20_000)),  # more clauses than Lucene allows, if not capped
        "\x00\u200b😀<script>alert(1)</script>",
    ],
)
def test_hostile_terms_never_error(es_engine, text):
    es_engine.index_documents([make_doc(i, body="工资 拖欠") for i in range(3)])
    es_engine.refresh()

    result = es_engine.search(SearchQuery(terms=[Term(text)], filters={"kind": [text]}, facets=True))
    assert result.total == 0  # no syntax is interpreted: nothing matches everything
    unfiltered = es_engine.search(SearchQuery(terms=[Term(text), Term("工资", 0.1)]))
    assert unfiltered.total == 3


def test_thousands_of_terms_are_capped_not_refused(es_engine):
    es_engine.index_documents([make_doc(1, body="工资 拖欠")])
    es_engine.refresh()
    terms = [Term(f"词{i}") for i in range(5000)] + [Term("工资")]
    # the terms past the cap are dropped, so only the first ones can match
    assert es_engine.search(SearchQuery(terms=terms)).total == 0
    assert es_engine.search(SearchQuery(terms=[Term("工资"), *terms])).total == 1


def test_bad_filter_field_and_paging_are_query_errors(es_engine):
    with pytest.raises(QueryError):
        es_engine.search(SearchQuery(terms=[Term("工资")], filters={"text": ["x"]}))
    with pytest.raises(QueryError):
        es_engine.search(SearchQuery(terms=[Term("工资")], offset=20_000))


def test_prior_and_boosts_multiply_the_score(es_engine):
    es_engine.index_documents(
        [
            make_doc(1, body="加班 费"),
            make_doc(2, body="加班 费", prior=2.0),
            make_doc(3, body="加班 费", kind="case"),
        ]
    )
    es_engine.refresh()
    hits = es_engine.search(SearchQuery(terms=[Term("加班")], boosts={"kind": {"case": 3.0}})).hits
    score = {h.id: h.score for h in hits}
    assert score["doc-0002"] == pytest.approx(2 * score["doc-0001"], rel=1e-5)
    assert score["doc-0003"] == pytest.approx(3 * score["doc-0001"], rel=1e-5)
    assert [h.id for h in hits] == ["doc-0003", "doc-0002", "doc-0001"]


def test_filters_without_terms_browse_in_authority_order(es_engine):
    es_engine.index_documents(
        [
            make_doc(1, source_id="law-b", article=2),
            make_doc(2, source_id="law-b", article=10),
            make_doc(3, source_id="law-a", article=5),
            make_doc(4, source_id="law-c", article=1, prior=3.0),
            make_doc(5, kind="case"),
        ]
    )
    es_engine.refresh()

    result = es_engine.search(SearchQuery(terms=[], filters={"kind": ["article"]}, facets=True))

    assert result.total == 4
    assert [h.id for h in result.hits] == ["doc-0004", "doc-0003", "doc-0001", "doc-0002"]
    assert result.facets["kind"] == {"article": 4}
    assert es_engine.search(SearchQuery(terms=[])).total == 0


def test_delete_by_source_path_pages_through_many_ids(es_engine):
    es_engine.writer.bulk_size = 500
    docs = [make_doc(i) for i in range(1005)] + [make_doc(5000, source_path="other.md")]
    assert es_engine.index_documents(docs).indexed == 1006
    assert len(es_engine.ids_by_source_path("laws/test.md")) == 1005

    removed = es_engine.delete_by_source_path("laws/test.md", keep=["doc-0000"])

    assert removed == 1004
    es_engine.refresh()
    assert sorted(d.id for d in es_engine.get_many(["doc-0000", "doc-0001", "doc-5000"])) == ["doc-0000", "doc-5000"]
    assert es_engine.count() == 2


def test_unreachable_server_is_engine_unavailable(es_engine_factory):
    engine = es_engine_factory(url="http://127.0.0.1:9", es_timeout=2)
    with pytest.raises(EngineUnavailable):
        engine.search(SearchQuery(terms=[Term("工资")]))
    with pytest.raises(EngineUnavailable):
        engine.index_documents([make_doc(1)])
    health = engine.health()
    assert health["ok"] is False and health["engine"] == "elasticsearch"


@pytest.fixture
def private_node_lock():
    """Serialise this test across concurrent pytest sessions sharing the machine."""
    lock_path = es_server.pid_file(KILL_PORT).parent.parent / f".test-lock-{KILL_PORT}"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def test_ingest_interrupted_by_a_killed_server_reruns_cleanly(es_url, es_engine_factory, private_node_lock):
    url = es_server.ensure_running(port=KILL_PORT)
    engine = es_engine_factory(url=url, es_bulk_size=20, es_max_retries=1)
    engine.writer.backoff = 0.2
    docs = [make_doc(i) for i in range(200)]

    def killing_midway():
        for i, doc in enumerate(docs):
            if i == 60:  # three batches of 20 were acknowledged
                os.kill(int(es_server.pid_file(KILL_PORT).read_text()), signal.SIGKILL)
            yield doc

    try:
        with pytest.raises(EngineUnavailable):
            engine.index_documents(killing_midway())
        assert engine.health()["ok"] is False

        es_server.ensure_running(port=KILL_PORT)
        # the same engine object recovers without being rebuilt
        assert engine.health()["ok"] is True
        engine.refresh()
        assert engine.count() == 60  # acknowledged writes survived the SIGKILL

        report = engine.index_documents(docs)
        engine.refresh()
        assert report.indexed == 200 and report.failed == []
        assert engine.count() == 200
        assert set(engine.ids_by_source_path("laws/test.md")) == {d.id for d in docs}
        engine.drop_indices()
    finally:
        es_server.stop(port=KILL_PORT)
