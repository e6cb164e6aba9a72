"""Lexical and semantic candidates fused in the application (search.fusion, search.layer)."""

from __future__ import annotations

import pytest

from ingest.model import Document
from search_api.engines.base import SearchHit, SearchQuery
from search_api.search.fusion import fuse
from search_api.search.layer import SemanticLayer
from search_api.search.service import SearchService
from tests.conftest import semantic_service


def _doc(doc_id: str, **kw) -> Document:
    return Document(id=doc_id, kind=kw.pop("kind", "article"), title=doc_id, text=doc_id, **kw)


def test_fusion_adds_what_only_meaning_finds_and_keeps_filters_and_authority():
    lexical = [SearchHit("a", 4.0, _doc("a"), 1.0), SearchHit("b", 2.0, _doc("b"), 0.5)]
    semantic = [("c", 0.80), ("a", 0.78), ("local", 0.79), ("case", 0.77), ("b", 0.60)]
    extra = {
        "c": _doc("c"),
        "local": _doc("local", region="上海", level="local", prior=0.55),
        "case": _doc("case", kind="case"),
    }
    fused = fuse(lexical, semantic, extra, weight=0.3, boosts={}, filters={}, want_facets=True)
    order = [h.id for h in fused.hits]
    assert order[0] == "a"  # strong on both sides
    assert "c" in order  # found by meaning alone
    assert "case" in order
    assert "local" not in order or order.index("c") < order.index("local")  # a local rule keeps its lower authority
    assert fused.total == len(fused.hits) and sum(fused.facets["kind"].values()) == fused.total
    only_articles = fuse(
        lexical, semantic, extra, weight=0.3, boosts={}, filters={"kind": ["article"]}, want_facets=False
    )
    assert "case" not in [h.id for h in only_articles.hits]
    asked_region = fuse(
        lexical, semantic, extra, weight=0.3, boosts={"region": {"上海": 4.0}}, filters={}, want_facets=False
    )
    order = [h.id for h in asked_region.hits]
    assert order.index("local") < order.index("c")


def test_without_the_model_the_service_answers_lexically_and_says_so(corpus_settings, tmp_path):
    from search_api.engines.sqlite import SqliteEngine

    settings = corpus_settings.model_copy(update={"semantic": True, "model_dir": tmp_path / "no-model"})
    service = SearchService(settings, SqliteEngine(settings.index_path))
    service.semantic.start(background=False)
    assert service.semantic.retriever is None
    assert service.semantic.status.startswith("unavailable")
    assert service.search("被公司辞退有补偿吗").hits


def test_a_corrupt_model_file_is_a_clear_status_not_a_crash(corpus_settings, tmp_path):
    from search_api.engines.sqlite import SqliteEngine

    bad = tmp_path / "bad-model"
    bad.mkdir()
    (bad / "model.onnx").write_bytes(b"not a model")
    (bad / "tokenizer.json").write_text("{}", encoding="utf-8")
    settings = corpus_settings.model_copy(update={"semantic": True, "model_dir": bad})
    layer = SemanticLayer(settings, SqliteEngine(settings.index_path))
    layer.start(background=False)
    assert layer.retriever is None and layer.status.startswith("unavailable")


@pytest.fixture(scope="module")
def service(corpus_settings, semantic_data_dir):
    from search_api.engines.sqlite import SqliteEngine

    return semantic_service(corpus_settings, SqliteEngine(corpus_settings.index_path), semantic_data_dir)


def test_an_everyday_question_finds_its_article_through_meaning(service):
    hits = service.search("去仲裁委告老板要花钱吗", size=3, related=False).hits
    assert "labor-dispute-mediation-arbitration-law.53" in [h["id"] for h in hits]
    # candidates are ranked on light documents; the page shows the full ones
    assert all(h["title"] and h["snippet"] for h in hits)


def test_nonsense_has_no_confident_answer(service):
    for q in ("今天天气怎么样", "北京到上海的火车票", "蛋糕怎么做好吃"):
        assert service.search(q).confident is False, q
    assert service.search("工伤认定申请时限").confident is True


def test_a_case_published_while_serving_is_found_by_meaning(corpus_index, corpus_settings, semantic_data_dir, tmp_path):
    """The in-process vector index is rebuilt (from the vector cache) when a case is published."""
    import shutil

    from search_api.cases.index import CaseIndex
    from search_api.engines.sqlite import SqliteEngine

    index = tmp_path / "index.sqlite3"
    shutil.copy(corpus_index, index)
    settings = corpus_settings.model_copy(update={"sqlite_path": index})
    service = semantic_service(settings, SqliteEngine(index), semantic_data_dir)
    published = []
    cases = CaseIndex.for_search(service)
    cases.on_publish = lambda docs: (published.extend(docs), service.semantic._add(docs))  # no thread pool here
    doc = Document(
        id="lawyer-case-vector-test",
        kind="case",
        title="外卖骑手送餐途中摔伤认定工伤案",
        text="外卖骑手在为平台配送餐食的途中骑电动车摔倒受伤，法院认定其与平台存在劳动关系，应当认定为工伤。",
    )
    question = "送外卖路上摔了一跤能算工伤吗"
    assert doc.id not in [i for i, _ in service.semantic.retriever.semantic_scores(question, 10)]
    cases.publish(doc)
    assert [d.id for d in published] == [doc.id]
    assert doc.id in [i for i, _ in service.semantic.retriever.semantic_scores(question, 10)]


def test_publishing_asks_the_semantic_layer_for_vectors(corpus_settings):
    from search_api.cases.index import CaseIndex
    from search_api.engines.sqlite import SqliteEngine

    service = SearchService(corpus_settings, SqliteEngine(corpus_settings.index_path))
    assert CaseIndex.for_search(service).on_publish == service.semantic.add


def test_the_engines_answering_set_is_not_cut_by_the_fused_floor():
    """A short lexical answering set: min-max puts its last member at 0 lexically, and a modest
    cosine must not push it under the fused floor (it used to shrink to the first document)."""
    lexical = [SearchHit("a", 24.0, _doc("a"), 1.0), SearchHit("b", 7.0, _doc("b"), 0.6)]
    semantic = [("a", 0.81), ("x", 0.66), ("b", 0.64), *((f"n{i}", 0.60 - i * 0.001) for i in range(20))]
    extra = {i: _doc(i) for i, _ in semantic if i not in ("a", "b")}
    fused = fuse(lexical, semantic, extra, weight=0.5, boosts={}, filters={}, want_facets=False)
    order = [h.id for h in fused.hits]
    assert order[0] == "a" and "b" in order
    assert not any(i.startswith("n") for i in order)  # what only meaning found still has the floor


def test_a_case_on_top_lexically_lowers_the_semantic_weight():
    """The semantic side prefers the article a case illustrates; a question whose best lexical
    match is a case keeps that case first against an article a little nearer in meaning."""
    case = _doc("case", kind="case")
    lexical = [SearchHit("case", 10.0, case, 1.0), SearchHit("art", 7.0, _doc("art"), 1.0)]
    lexical.append(SearchHit("z", 2.5, _doc("z"), 0.3))
    semantic = [("art", 0.80), ("case", 0.70), *((f"n{i}", 0.65 - i * 0.001) for i in range(20))]
    extra = {i: _doc(i) for i, _ in semantic if i.startswith("n")}
    fused = fuse(lexical, semantic, extra, weight=0.5, boosts={}, filters={}, want_facets=False)
    assert [h.id for h in fused.hits][:2] == ["case", "art"]
    as_article = [SearchHit("case", 10.0, _doc("case"), 1.0), *lexical[1:]]
    fused = fuse(as_article, semantic, extra, weight=0.5, boosts={}, filters={}, want_facets=False)
    assert [h.id for h in fused.hits][:2] == ["art", "case"]


def test_candidates_without_documents_rank_the_page_as_with_them(service, corpus_index):
    """The fused search ranks its lexical candidates as ids only when it counts no facets
    (``SearchQuery.ids_only``): the engine returns the same ids, scores and coverage as with
    light documents, and the page, its documents and the answer are those of a search that loads them."""
    from search_api.engines.sqlite import SqliteEngine

    engine = SqliteEngine(corpus_index)
    questions = ["被公司炒鱿鱼了有赔偿吗", "去仲裁委告老板要花钱吗", "末位淘汰能解除劳动合同吗", "上海 试用期 工资"]
    for q in questions:
        terms = service.analyse(q).terms
        light = engine.search(SearchQuery(terms=terms, size=100, light=True)).hits
        bare = engine.search(SearchQuery(terms=terms, size=100, light=True, ids_only=True)).hits
        assert [(h.id, h.score, h.coverage) for h in bare] == [(h.id, h.score, h.coverage) for h in light]
        assert light and all(h.doc is None for h in bare)
        with_facets = service.search(q, facets=True)
        without = service.search(q, facets=False)
        assert with_facets.facets and not without.facets
        assert without.hits == with_facets.hits and without.total == with_facets.total, q
        assert without.answer == with_facets.answer and without.confident == with_facets.confident
