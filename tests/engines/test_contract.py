"""One contract, two engines: every test here runs on SQLite FTS5 and on a real Elasticsearch."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from ingest.model import Document
from ingest.pipeline import ingest
from search_api.engines.base import LIGHT_FIELDS, SearchQuery, Term
from search_api.engines.sqlite import SqliteEngine
from search_api.search.service import SearchService
from tests.conftest import CORPUS, LEXICON, make_settings, semantic_service
from tests.fixtures.corpus import LAW, write_corpus
from tests.search.facet_links import assert_links_keep_their_counts


@pytest.fixture(params=["sqlite", "elasticsearch"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        eng = SqliteEngine(tmp_path / "index.sqlite3")
        yield eng
        eng.close()
    else:
        yield request.getfixturevalue("es_engine")


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def loaded(engine, corpus):
    report = ingest([corpus], engine, lexicon_dir=LEXICON)
    assert not report.skipped and not report.failed
    return engine


def service_for(engine, tmp_path) -> SearchService:
    return SearchService(make_settings(tmp_path / f"data-{uuid.uuid4().hex[:6]}"), engine)


def ids(result) -> list[str]:
    return [h.id for h in result.hits]


def test_index_and_search_returns_contract_fields(loaded, tmp_path):
    r = service_for(loaded, tmp_path).search("老板拖欠工资不发怎么办")
    assert r.total >= 3
    top = r.hits[0]
    for key in ("id", "kind", "title", "url", "snippet"):
        assert top[key]
    articles = [h for h in r.hits if h["kind"] == "article"]
    assert articles and all(isinstance(h["article"], int) and h["source_title"] for h in articles)
    case = next(h for h in r.hits if h["kind"] == "case")
    assert case["case_number"] == 901


def place(order: list[str], doc_id: str) -> int:
    """Rank of ``doc_id``; below every result when it is not in the answering set at all."""
    return order.index(doc_id) if doc_id in order else len(order)


def test_article_before_whole_law_and_national_before_local(loaded, tmp_path):
    order = [h["id"] for h in service_for(loaded, tmp_path).search("拖欠劳动报酬 投诉", related=False).hits]
    assert place(order, "model-law.2") < place(order, "model-law")
    assert place(order, "model-law.2") < place(order, "sh-wages.1")


def test_region_in_query_lifts_local_regulation(loaded, tmp_path):
    order = [h["id"] for h in service_for(loaded, tmp_path).search("上海 拖欠劳动报酬", related=False).hits]
    assert order[0] == "sh-wages.1"


def test_filters_kind_source_region(loaded):
    terms = [Term("劳动报酬")]
    assert set(ids(loaded.search(SearchQuery(terms=terms, filters={"kind": ["case"]})))) == {"case-901"}
    by_law = loaded.search(SearchQuery(terms=terms, filters={"source_id": ["model-law"], "kind": ["article"]}))
    assert ids(by_law) == ["model-law.2"]
    assert ids(loaded.search(SearchQuery(terms=terms, filters={"region": ["上海"]}))) == ["sh-wages.1"] or set(
        ids(loaded.search(SearchQuery(terms=terms, filters={"region": ["上海"]})))
    ) == {"sh-wages", "sh-wages.1"}


def test_browse_by_filter_without_terms(loaded):
    r = loaded.search(SearchQuery(terms=[], filters={"source_id": ["model-law"], "kind": ["article"]}, size=10))
    assert r.total == 4
    assert sorted(h.doc.article for h in r.hits) == [1, 2, 3, 4]


def test_citations_link_case_and_article(loaded, tmp_path):
    case = loaded.get("case-901")
    assert case.cites == ["model-law.2", "model-law.3"]
    art4 = loaded.get("model-law.4")
    assert art4.cites == ["model-law.2"]  # 本法第二条
    citing = service_for(loaded, tmp_path).citing_cases("model-law.3")
    assert [c.id for c in citing] == ["case-901"]


def test_highlights_are_on_original_text(loaded, tmp_path):
    r = service_for(loaded, tmp_path).search("拖欠勞動報酬")  # typed in traditional characters
    hit = next(h for h in r.hits if h["id"] == "model-law.2")
    assert "<mark>拖欠</mark>" in hit["snippet"] or "<mark>拖欠劳动报酬</mark>" in hit["snippet"]
    plain = re.sub(r"</?mark>", "", hit["snippet"]).strip("…")
    assert plain in loaded.get("model-law.2").text  # the original text, not the space-joined tokens


def test_pagination_is_disjoint_and_stable(loaded):
    terms = [Term("劳动者"), Term("用人单位"), Term("劳动")]
    first = loaded.search(SearchQuery(terms=terms, size=2, offset=0))
    second = loaded.search(SearchQuery(terms=terms, size=2, offset=2))
    assert first.total == second.total >= 4
    assert not set(ids(first)) & set(ids(second))
    everything = loaded.search(SearchQuery(terms=terms, size=10))
    assert ids(everything)[:4] == ids(first) + ids(second)


def test_reingest_is_idempotent(loaded, corpus):
    before = loaded.count()
    report = ingest([corpus], loaded, lexicon_dir=LEXICON)
    assert report.unchanged_files == 3 and report.documents == 0
    report = ingest([corpus], loaded, lexicon_dir=LEXICON, force=True)
    loaded.refresh()
    assert loaded.count() == before
    assert report.documents == before


def test_changed_file_replaces_its_documents(loaded, corpus):
    before = loaded.count()
    law = corpus / "laws" / "model-law.md"
    law.write_text(
        LAW.replace("\n第四条 劳动者依照本法第二条规定投诉的，劳动行政部门应当处理。\n", "\n"), encoding="utf-8"
    )
    report = ingest([corpus], loaded, lexicon_dir=LEXICON)
    loaded.refresh()
    assert report.deleted == 1
    assert loaded.get("model-law.4") is None
    assert loaded.count() == before - 1


def test_repealed_law_ranks_after_the_law_in_force_even_when_its_file_is_unchanged(loaded, corpus, tmp_path):
    from tests.ingest.test_validity import NEW, OLD

    (corpus / "laws" / "old.md").write_text(OLD.format(status=""), encoding="utf-8")
    ingest([corpus], loaded, lexicon_dir=LEXICON)
    assert loaded.get("old.1").in_force
    (corpus / "laws" / "new.md").write_text(NEW, encoding="utf-8")
    report = ingest([corpus], loaded, lexicon_dir=LEXICON)
    loaded.refresh()
    assert report.unchanged_files == 3  # the fixture corpus; old.md is re-indexed with its new state
    assert not loaded.get("old.1").in_force and loaded.get("new.1").in_force
    order = [h["id"] for h in service_for(loaded, tmp_path).search("示范省 拖欠工资 投诉", related=False).hits]
    assert "new.1" in order and place(order, "new.1") < place(order, "old.1")


def test_delete(loaded):
    assert loaded.delete(["case-901", "no-such-id"]) == 1
    loaded.refresh()
    assert loaded.get("case-901") is None
    assert "case-901" not in ids(loaded.search(SearchQuery(terms=[Term("劳动报酬")])))


@pytest.mark.parametrize(
    "q",
    [
        "AND OR NOT",
        '"unbalanced',
        "* : ( ) NEAR(a b)",
        "title:工资",
        '{"query": {"match_all": {}}}',
        "\x00\x01控制字符\x7f",
        "工资" * 5000,
        "a" * 10000,
        "\\",
        "^2 ~ -",
    ],
)
def test_hostile_queries_are_answered(loaded, tmp_path, q):
    r = service_for(loaded, tmp_path).search(q)
    assert r.total >= 0


def test_health(loaded):
    h = loaded.health()
    assert h["ok"] is True and h["engine"] == loaded.name


# --- the relevance-pinned questions, on the real corpus -------------------------------------

PINNED = [
    (
        "老板拖欠工资三个月不发怎么办",
        {"labor-contract-law.30", "labor-contract-law.85", "labor-contract-law.38", "labor-law.50"},
    ),
    (
        "被炒鱿鱼了有没有赔偿",
        {"labor-contract-law.87", "labor-contract-law.46", "labor-contract-law.47", "labor-contract-law.48"},
    ),
    ("上班路上出车祸算工商吗", {"work-injury-insurance-regulations.14"}),
    ("公司拖欠薪資怎麼辦", {"labor-contract-law.30", "labor-contract-law.85", "labor-contract-law.38", "labor-law.50"}),
    ("试用期最长多久", {"labor-contract-law.19"}),
    ("不签劳动合同双倍工资", {"labor-contract-law.82"}),
    ("劳动仲裁时效多长时间", {"labor-dispute-mediation-arbitration-law.27"}),
    ("怀孕了公司能辞退我吗", {"labor-contract-law.42", "female-employees-special-labor-protection-provisions.5"}),
    ("年假有几天", {"paid-annual-leave-regulations.3"}),
    ("经济补偿怎么计算", {"labor-contract-law.47"}),
    ("加班费怎么算", {"labor-law.44"}),
    (
        "末位淘汰可以解除劳动合同吗",
        {"guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract", "labor-contract-law.40"},
    ),
]


@pytest.fixture(scope="module", params=["sqlite", "elasticsearch"])
def corpus_service(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("pinned")
    if request.param == "sqlite":
        engine = SqliteEngine(data / "index.sqlite3")
    else:
        from search_api.engines.elasticsearch import ElasticsearchEngine
        from tests.fixtures.es import es_settings

        engine = ElasticsearchEngine(es_settings(request.getfixturevalue("es_url")))
    report = ingest([CORPUS], engine, lexicon_dir=LEXICON)
    assert not report.failed
    yield semantic_service(make_settings(data), engine, request.getfixturevalue("semantic_data_dir"))
    if request.param == "elasticsearch":
        engine.drop_indices()
    engine.close()


@pytest.mark.parametrize("q,answers", PINNED, ids=[q for q, _ in PINNED])
def test_pinned_question_answered_in_top_3(corpus_service, q, answers):
    top3 = [h["id"] for h in corpus_service.search(q, size=3, related=False).hits]
    assert answers & set(top3), f"{q}: top 3 were {top3}"


def test_facet_links_show_what_they_count(corpus_service):
    # a worker's filter narrows the fused answering set on both engines (tests.search.test_narrowing)
    assert_links_keep_their_counts(corpus_service)


def test_light_documents_carry_the_light_fields_in_the_order_asked(loaded):
    full = {d.id: d for d in loaded.all_documents()}
    ids = [*sorted(full)[::-1], "no-such-document", sorted(full)[0]]
    light = loaded.get_many(ids, light=True)
    assert [d.id for d in light] == [*sorted(full)[::-1], sorted(full)[0]]  # as asked, twice if asked twice
    for d in light:
        whole = full[d.id]
        for name in LIGHT_FIELDS:
            got, want = getattr(d, name), getattr(whole, name)
            assert (set(got) if name == "topics" else got) == (set(want) if name == "topics" else want), (d.id, name)


def test_ids_only_candidates_rank_as_light_ones_without_their_documents(loaded):
    """``SearchQuery.ids_only`` (the fused search without facets): the same ids, scores, coverage,
    total and facets as light hits, and no document (Elasticsearch built 100 light ones a question)."""
    for terms in (
        [Term("劳动报酬")],
        [Term("劳动报酬"), Term("投诉", 0.5)],
        [Term("试用期", group=1), Term("工资", group=2)],
    ):
        for facets in (False, True):
            light = loaded.search(SearchQuery(terms=terms, size=100, light=True, facets=facets))
            bare = loaded.search(SearchQuery(terms=terms, size=100, light=True, ids_only=True, facets=facets))
            assert light.hits and all(h.doc is not None for h in light.hits)
            assert all(h.doc is None for h in bare.hits), terms
            assert [(h.id, h.score, h.coverage) for h in bare.hits] == [(h.id, h.score, h.coverage) for h in light.hits]
            assert (bare.total, bare.facets) == (light.total, light.facets)


def test_on_a_large_index_both_engines_leave_out_a_term_in_most_documents(loaded, monkeypatch):
    """``ranking.negligible_terms``: on an index larger than ``STOPWORD_MIN_DOCS`` (lowered here to
    the test corpus's size) a term in more than a quarter of the documents is left out when the
    question has others, on both engines; a smaller index scores every term."""
    from search_api.engines import ranking

    rare, common = Term("赔偿金", group=0), Term("劳动者", group=1)
    both = SearchQuery(terms=[rare, common], size=20)
    alone = ids(loaded.search(SearchQuery(terms=[rare], size=20)))
    everything = loaded.search(both)
    assert everything.hits[0].coverage == 1.0  # 第三条 holds both: both scored
    monkeypatch.setattr(ranking, "STOPWORD_MIN_DOCS", 3)
    loaded.refresh()  # a new generation: what an engine kept of the index is asked again
    skipped = loaded.search(both)
    assert ids(skipped) == alone and all(h.coverage == 0.5 for h in skipped.hits)
    assert ids(loaded.search(SearchQuery(terms=[common], size=20)))  # a lone term is never left out


def test_all_documents_walks_the_whole_index(loaded):
    docs = list(loaded.all_documents())
    assert len(docs) == loaded.count()
    assert len({d.id for d in docs}) == len(docs)
    assert {"model-law.2", "case-901", "sh-wages.1"} <= {d.id for d in docs}


def test_browsing_light_documents_leaves_the_texts_out(loaded):
    # the law titles are read this way (search.service.law_registry): every law's text was loaded before
    query = SearchQuery(terms=[], filters={"kind": ["law", "article"]}, size=50)
    full = loaded.search(query)
    light = loaded.search(SearchQuery(terms=[], filters={"kind": ["law", "article"]}, size=50, light=True))
    assert light.total == full.total and [h.id for h in light.hits] == [h.id for h in full.hits]
    assert any(h.doc.text for h in full.hits)
    for got, whole in zip(light.hits, full.hits, strict=True):
        assert not got.doc.text and not got.doc.short_title
        for name in LIGHT_FIELDS:
            want = getattr(whole.doc, name)
            assert getattr(got.doc, name) == (list(want) if name == "topics" else want), (got.id, name)


def test_the_law_titles_cover_every_whole_law_of_the_index(loaded, tmp_path):
    # a law after the first thousand was not known by its title (the registry read one page of 1,000)
    laws = [
        Document(
            id=f"law-{i:04d}",
            kind="law",
            title=f"中华人民共和国示范条例{i:04d}",
            text="示范。" * 200,
            source_id=f"law-{i:04d}",
            source_title=f"中华人民共和国示范条例{i:04d}",
            short_title=f"示范条例{i:04d}",
        )
        for i in range(1_050)
    ]
    assert not loaded.index_documents(laws).failed
    loaded.refresh()
    registry = service_for(loaded, tmp_path).registry
    assert registry.resolve("示范劳动保护法") == ("中华人民共和国示范劳动保护法", "model-law")
    for i in (0, 999, 1_000, 1_049):
        assert registry.resolve(f"示范条例{i:04d}") == (f"中华人民共和国示范条例{i:04d}", f"law-{i:04d}")
        assert registry.resolve(f"中华人民共和国示范条例{i:04d}") == (f"中华人民共和国示范条例{i:04d}", f"law-{i:04d}")
