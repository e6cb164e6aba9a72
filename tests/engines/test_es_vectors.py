"""Document vectors in Elasticsearch (dense_vector + kNN), against a real server and the real model.

The semantic layer over Elasticsearch keeps no vectors in the process: the engine holds them and
answers the nearest-neighbour search, scored as the in-process index scores (engines.es_vectors).
"""

from __future__ import annotations

import dataclasses

import pytest

from ingest.model import Document
from ingest.pipeline import ingest
from search_api.engines.es_vectors import ASK, OWN, VECTOR_DIMS, combine, incomplete, inner_product, update_action
from search_api.search.embedder import DIM
from tests.conftest import CORPUS, LEXICON, semantic_service
from tests.fixtures.es import es_settings

QUESTIONS = ["去仲裁委告老板要花钱吗", "上班路上出车祸算工伤吗", "怀孕了公司要辞退我", "加班费怎么算", "年假有几天"]


def test_the_mapping_has_the_models_dimension():
    assert VECTOR_DIMS == DIM


def test_a_questions_offset_rides_in_its_last_dimension_and_comes_back_from_the_score():
    import json

    _, line = update_action("a", "key", [0.6, 0.8], [[0.8, 0.6], [1.0, 0.0]], [0.05, -0.02])
    asked = [v["wvec"] for v in json.loads(line)["doc"]["ask"]]
    assert asked == [[0.8, 0.6, -0.05], [1.0, 0.0, 0.02]]
    query = [0.6, 0.8, 1.0]  # the question's vector, then 1
    dots = [sum(a * b for a, b in zip(query, v, strict=True)) for v in asked]
    assert dots == pytest.approx([0.96 - 0.05, 0.6 + 0.02])  # cosine less the offset
    # Elasticsearch's max_inner_product score of a dot d: 1 + d from 0 up, 1 / (1 - d) below
    for d in (0.91, 0.0, -0.3):
        assert inner_product(1 + d if d >= 0 else 1 / (1 - d)) == pytest.approx(d)


def test_scores_lift_the_own_text_towards_the_best_question():
    found = {"a": {OWN: 0.6, ASK: 0.8}, "b": {OWN: 0.7}, "c": {ASK: 0.9}, "d": {OWN: 0.75, ASK: 0.5}}
    ranked = dict(combine(found, 0.5, 10))
    assert ranked["a"] == pytest.approx(0.7)  # 0.6 + 0.5 · (0.8 − 0.6)
    assert ranked["b"] == pytest.approx(0.7) and ranked["d"] == pytest.approx(0.75)  # no lift below own
    assert ranked["c"] == pytest.approx(0.9)
    assert [i for i, _ in combine(found, 0.5, 2)] == ["c", "d"]


def test_only_documents_that_could_reach_the_top_are_looked_at_again():
    # own scores in the first answer reach down to 0.5, question scores to 0.7
    found = {
        "full": {OWN: 0.8, ASK: 0.9},
        "floor": {OWN: 0.5, ASK: 0.7},
        "asks-only": {ASK: 0.95},  # its own text scored below 0.5: at most 0.5 + 0.5 · 0.45 = 0.725
        "hopeless": {ASK: 0.71},  # at most 0.5 + 0.5 · 0.21 = 0.605, below the 2nd best sure score
        "own-only": {OWN: 0.65},  # has questions, none in the first answer: 0.65 to 0.65 + 0.5 · 0.05
        "no-questions": {OWN: 0.55},
    }
    # sure scores: full 0.85, own-only at least 0.65 (the 2nd best), floor 0.6, no-questions 0.55
    unsure = incomplete(found, {"full", "floor", "asks-only", "hopeless", "own-only"}, 0.5, 2)
    assert unsure == ["asks-only", "own-only"]


def test_an_index_with_unweighed_question_vectors_is_rebuilt_not_patched(es_url):
    # Found upgrading an index made before the questions were weighed: every document with questions
    # refused its new vectors (a null pointer in Elasticsearch's partial update of nested vectors),
    # 707 warnings, and the semantic side scored without the questions.
    import copy

    from search_api.engines.base import IndexOutdated
    from search_api.engines.elasticsearch import ElasticsearchEngine
    from search_api.engines.es_query import INDEX_SETTINGS, MAPPING

    engine = ElasticsearchEngine(es_settings(es_url))
    old = copy.deepcopy(MAPPING)
    old["properties"]["ask"] = {
        "type": "nested",
        "properties": {"vec": {"type": "dense_vector", "dims": VECTOR_DIMS, "similarity": "cosine"}},
    }
    doc = Document(id="a.1", kind="article", title="第一条", text="工资应当按月支付。")
    try:
        engine.client.indices.create(
            index=f"{engine.alias}-00000000000000000000",
            settings=INDEX_SETTINGS,
            mappings=old,
            aliases={engine.alias: {}},
        )
        with pytest.raises(IndexOutdated, match="older version"):
            engine.index_documents([doc])
        with pytest.raises(IndexOutdated):
            engine.put_vectors([("a.1", "k", [0.0] * VECTOR_DIMS, [], [])])
        engine.rebuild([doc])  # what `labourkb ingest` does on IndexOutdated
        engine.index_documents([doc])
        assert (
            engine.put_vectors(
                [("a.1", "k", [1.0] + [0.0] * (VECTOR_DIMS - 1), [[0.0, 1.0] + [0.0] * (VECTOR_DIMS - 2)], [0.1])]
            )
            == 1
        )
    finally:
        engine.drop_indices()
        engine.close()


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
    from search_api.search.semantic import VectorCache, texts_by_document

    engine, service = es_corpus
    docs = list(engine.all_documents())
    texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
    embedder = service.semantic.retriever.embedder
    cache = VectorCache(service.settings.vectors_path)
    try:
        assert sync(engine, texts, lambda: pytest.fail("the model was loaded for nothing"), cache) == 0
    finally:
        cache.close()

    changed = dataclasses.replace(engine.get("labor-law.50"), text="第五十条 工资应当以货币形式按月支付给劳动者本人。")
    engine.index_documents([changed])
    engine.refresh()
    assert engine.vector_keys()["labor-law.50"] == ""  # re-indexed without vectors
    texts["labor-law.50"] = texts_by_document([changed])["labor-law.50"]
    cache = VectorCache(service.settings.vectors_path)
    try:
        assert sync(engine, texts, embedder, cache) == 1
    finally:
        cache.close()
    assert engine.vector_keys()["labor-law.50"]


def test_knn_in_the_engine_agrees_with_the_in_process_index(es_corpus, semantic_data_dir):
    from search_api.search.semantic import VectorCache, VectorIndex, texts_by_document

    engine, service = es_corpus
    docs = list(engine.all_documents())
    texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
    embedder = service.semantic.retriever.embedder
    cache = VectorCache(service.settings.vectors_path)
    try:
        reference = VectorIndex.build(texts, embedder, cache)  # questions weighed as the engine weighs them
    finally:
        cache.close()
    for q in QUESTIONS:
        vec = embedder.embed_queries([q])[0]
        got = engine.nearest(vec, 50, reference.extra_weight)
        want = reference.search(vec, 50)
        assert got[0][0] == want[0][0], q
        assert got[0][1] == pytest.approx(want[0][1], abs=0.01), q
        assert len({i for i, _ in got[:10]} & {i for i, _ in want[:10]}) >= 8, q


def test_each_everyday_question_reaches_the_engine_weighed_as_the_in_process_index_weighs_it(es_corpus):
    """A question asked in its own words scores its article at its cosine to itself (1) less its
    offset (search.distinct), the in-process index's weight for it; unweighed, it scored 1."""
    from search_api.engines.es_vectors import named_cosines, nearest_body
    from search_api.search.semantic import VectorCache, VectorIndex, texts_by_document
    from search_api.search.vector_cache import text_key

    engine, service = es_corpus
    docs = list(engine.all_documents())
    texts = texts_by_document(docs, {d.id: d.questions for d in docs if d.questions})
    keys = {d: [text_key(t) for t in ts] for d, ts in texts.items()}
    cache = VectorCache(service.settings.vectors_path)
    try:
        offsets = VectorIndex.question_offsets_by_document(keys, {k for ks in keys.values() for k in ks}, cache)
        asked = [d for d in ("labor-contract-law.47", "labor-dispute-mediation-arbitration-law.53") if d in offsets]
        assert asked, "articles with everyday questions"
        weights = []
        for doc_id in asked:
            own = keys[doc_id][0]
            questions = [k for k in dict.fromkeys(keys[doc_id][1:]) if k != own]
            vectors = cache.get_many(questions)
            for key, offset in zip(questions, offsets[doc_id], strict=True):
                vec = vectors[key] / float((vectors[key] ** 2).sum()) ** 0.5
                body = nearest_body([float(x) for x in vec], 1, [doc_id])
                hits = engine.client.search(index=engine.alias, include_named_queries_score=True, **body)["hits"][
                    "hits"
                ]
                weights.append((named_cosines(hits)[0][doc_id][ASK], 1.0 - float(offset)))
    finally:
        cache.close()
    assert len(weights) >= 4 and any(abs(want - 1.0) > 0.02 for _, want in weights)
    for got, want in weights:  # its own best question (a sibling would score higher only if nearer)
        assert got == pytest.approx(want, abs=0.005)


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
