"""Document vectors in Elasticsearch (dense_vector + kNN), against a real server and the real model.

The semantic layer over Elasticsearch keeps no vectors in the process: the engine holds them and
answers the nearest-neighbour search, scored as the in-process index scores (engines.es_vectors).
"""

from __future__ import annotations

import dataclasses

import pytest

from ingest.model import Document
from ingest.pipeline import ingest
from search_api.engines.es_vectors import ASK, OWN, VECTOR_DIMS, combine, fill_in_bounds
from search_api.search.embedder import DIM
from tests.conftest import CORPUS, LEXICON, semantic_service
from tests.fixtures.es import es_settings

GAP = 0.03  # see test_knn_in_the_engine_agrees_with_the_in_process_index
QUESTIONS = ["去仲裁委告老板要花钱吗", "上班路上出车祸算工伤吗", "怀孕了公司要辞退我", "加班费怎么算", "年假有几天"]


def test_the_mapping_has_the_models_dimension():
    assert VECTOR_DIMS == DIM


def test_scores_lift_the_own_text_towards_the_best_question():
    found = {"a": {OWN: 0.6, ASK: 0.8}, "b": {OWN: 0.7}, "c": {ASK: 0.9}, "d": {OWN: 0.75, ASK: 0.5}}
    ranked = dict(combine(found, 0.5, 10))
    assert ranked["a"] == pytest.approx(0.7)  # 0.6 + 0.5 · (0.8 − 0.6)
    assert ranked["b"] == pytest.approx(0.7) and ranked["d"] == pytest.approx(0.75)  # no lift below own
    assert ranked["c"] == pytest.approx(0.9)
    assert [i for i, _ in combine(found, 0.5, 2)] == ["c", "d"]


def test_a_score_a_clause_left_out_is_taken_at_its_bound():
    # own scores in the answer reach down to 0.5: a document found by a question alone has its own below
    found = {
        "both": {OWN: 0.8, ASK: 0.9},
        "floor": {OWN: 0.5, ASK: 0.7},
        "asks-only": {ASK: 0.95},  # its own at most 0.5: 0.5 + 0.5 · 0.45
        "close-ask-only": {ASK: 0.45},  # its own never above its question: 0.45, not 0.5
        "own-only": {OWN: 0.65},  # its questions are further than the ask clause's k-th: no lift
    }
    fill_in_bounds(found)
    ranked = dict(combine(found, 0.5, 10))
    assert ranked["asks-only"] == pytest.approx(0.725)
    assert ranked["close-ask-only"] == pytest.approx(0.45)
    assert ranked["own-only"] == pytest.approx(0.65) and ranked["both"] == pytest.approx(0.85)
    only_questions = {"a": {ASK: 0.6}, "b": {ASK: 0.7}}  # no own text found: each by its question
    fill_in_bounds(only_questions)
    assert combine(only_questions, 0.5, 10) == [("b", pytest.approx(0.7)), ("a", pytest.approx(0.6))]


@pytest.fixture(scope="module")
def es_corpus(es_url, semantic_data_dir, tmp_path_factory):
    """The real corpus in its own Elasticsearch index, and a search service over it with the
    semantic layer built (vectors from the shared cache, written into Elasticsearch)."""
    from search_api.engines.elasticsearch import ElasticsearchEngine

    settings = es_settings(
        es_url,
        data_dir=tmp_path_factory.mktemp("es-vectors"),
        corpus_dir=CORPUS,
        lexicon_dir=LEXICON,
        warm_cache=False,
        semantic=False,
    )
    engine = ElasticsearchEngine(settings)
    report = ingest([CORPUS], engine, lexicon_dir=LEXICON)
    assert report.documents > 3000, report.as_dict()
    engine.refresh()
    service = semantic_service(settings, engine, semantic_data_dir)
    yield engine, service
    engine.drop_indices()
    engine.close()


def test_every_document_has_its_vectors_in_the_engine_and_none_in_its_source(es_corpus):
    engine, service = es_corpus
    keys = engine.vector_keys()
    assert len(keys) == engine.count() and all(keys.values())
    source = engine.client.get(index=engine.alias, id="labor-contract-law.47")["_source"]
    assert "vec" not in source and "ask" not in source and source["vec_key"]
    assert not hasattr(service.semantic.retriever.index, "matrix_t")  # no vector matrix in the process


def test_an_unchanged_corpus_writes_no_vectors_and_a_changed_document_gets_new_ones(es_corpus):
    from search_api.search.engine_vectors import sync
    from search_api.search.semantic import texts_by_document

    engine, service = es_corpus
    docs = list(engine.all_documents())
    texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
    embedder = service.semantic.retriever.embedder
    assert sync(engine, texts, lambda: pytest.fail("the model was loaded for nothing"), None) == 0

    changed = dataclasses.replace(engine.get("labor-law.50"), text="第五十条 工资应当以货币形式按月支付给劳动者本人。")
    engine.index_documents([changed])
    engine.refresh()
    assert engine.vector_keys()["labor-law.50"] == ""  # re-indexed without vectors
    texts["labor-law.50"] = texts_by_document([changed])["labor-law.50"]
    assert sync(engine, texts, embedder, None) == 1
    assert engine.vector_keys()["labor-law.50"]


def test_knn_in_the_engine_agrees_with_the_in_process_index(es_corpus, semantic_data_dir):
    """A document both clauses found scores as in process; one found by a question alone is scored at
    its bound, never below its exact score; one found by its own text alone is not lifted, never above
    it (es_vectors.fill_in_bounds). Within ``GAP``: the two int8 quantisations differ (the largest gap
    between the engines' cosines of one document measured 0.026, docs/benchmarks.md, session 18)."""
    from search_api.engines.es_query import hit_id
    from search_api.engines.es_vectors import named_cosines, nearest_body
    from search_api.search.semantic import VectorCache, VectorIndex, texts_by_document

    engine, service = es_corpus
    docs = list(engine.all_documents())
    texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
    embedder = service.semantic.retriever.embedder
    cache = VectorCache(service.settings.vectors_path)
    try:
        reference = VectorIndex.build(texts, embedder, cache, question_weight=0)  # the engine does not weigh them
    finally:
        cache.close()
    exact_pairs = 0
    for q in QUESTIONS:
        vec = embedder.embed_queries([q])[0]
        got = engine.nearest(vec, 50, reference.extra_weight)
        exact = dict(reference.search(vec, len(docs)))
        body = {**nearest_body([float(x) for x in vec], 50), "include_named_queries_score": True}
        clauses = named_cosines((hit_id(h), h) for h in engine._hits("knn", body))
        assert got[0][0] == reference.search(vec, 1)[0][0], q
        assert got[0][1] == pytest.approx(exact[got[0][0]], abs=0.01), q
        for doc_id, score in got:
            found = clauses[doc_id]
            if OWN in found and ASK in found:
                assert score == pytest.approx(exact[doc_id], abs=GAP), (q, doc_id)
                exact_pairs += 1
            elif ASK in found:
                assert score >= exact[doc_id] - GAP, (q, doc_id)
            else:
                assert score <= exact[doc_id] + GAP, (q, doc_id)
    assert exact_pairs >= len(QUESTIONS) * 10  # the exact case is the common one (~20 of the 50 here)


def test_the_nearest_documents_take_one_request(es_corpus, monkeypatch):
    from tests.engines.test_es_requests import counted

    engine, service = es_corpus
    embedder = service.semantic.retriever.embedder
    vectors = embedder.embed_queries(QUESTIONS)
    requests = counted(monkeypatch)
    for vec in vectors:
        assert len(engine.nearest(vec, 50, 0.5)) == 50
    assert len(requests) == len(QUESTIONS), requests  # a second one filled in missing scores before


def test_searches_on_elasticsearch_are_fused_with_meaning(es_corpus):
    _, service = es_corpus
    top = [h["id"] for h in service.search("去仲裁委告老板要花钱吗", size=3, related=False).hits]
    assert "labor-dispute-mediation-arbitration-law.53" in top
    assert service.search("北京到上海的火车票").confident is False


def test_a_document_published_while_serving_is_found_by_meaning(es_corpus):
    engine, service = es_corpus
    doc = Document(
        id="lawyer-case-vector-test",
        kind="case",
        title="外卖骑手送餐途中摔伤认定工伤案",
        text="外卖骑手在为平台配送餐食的途中骑电动车摔倒受伤，法院认定其与平台存在劳动关系，应当认定为工伤。",
    )
    engine.index_documents([doc])
    engine.refresh()
    service.semantic._add([doc])  # what CaseIndex.publish asks for, here without the thread pool
    assert engine.vector_keys()[doc.id]
    found = [i for i, _ in service.semantic.retriever.semantic_scores("送外卖路上摔了一跤能算工伤吗", 10)]
    assert doc.id in found
    engine.delete([doc.id])
    engine.refresh()


def test_candidates_without_a_count_of_every_match_are_the_ones_counted(es_corpus):
    """The candidates request does not ask the node to count every match (20-25 % of its CPU at x20,
    docs/benchmarks.md session 27): the same candidates, named scores and order come back as when it
    counts them, for the main set's first 60 questions."""
    import json

    from search_api.engines.base import SearchQuery
    from search_api.engines.es_query import search_body
    from search_api.engines.ranking import CANDIDATES
    from tests.conftest import REPO_ROOT

    engine, service = es_corpus
    lines = (REPO_ROOT / "corpus" / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["q"] for line in lines if line.strip()][:60]
    assert len(questions) == 60
    for q in questions:
        body = search_body(SearchQuery(terms=service.analyse(q).terms, size=10))
        assert body["track_total_hits"] is False and body["size"] == CANDIDATES
        answers = []
        for counted in (False, True):
            resp = engine.client.search(
                index=engine.alias, include_named_queries_score=True, **{**body, "track_total_hits": counted}
            )
            answers.append([(h["fields"]["id"], h["matched_queries"]) for h in resp["hits"]["hits"]])
        assert len(answers[0]) > 10 and answers[0] == answers[1], q
