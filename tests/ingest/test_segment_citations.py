"""Segmenting laws into articles and cases into sections; citations parsed and linked."""

import pytest

from ingest.citations import TitleRegistry, find_citations
from ingest.load import load_file
from ingest.segment import segment
from tests.conftest import CORPUS


def _segment(name: str):
    (raw,) = load_file(CORPUS / name)
    return segment(raw)


def test_law_becomes_whole_document_plus_one_per_article():
    docs = _segment("laws/labor-contract-law.md")
    whole, articles = docs[0], docs[1:]
    assert whole.kind == "law" and whole.id == "labor-contract-law"
    assert [a.article for a in articles] == list(range(1, 99))
    a47 = next(a for a in articles if a.article == 47)
    assert a47.id == "labor-contract-law.47"
    assert a47.kind == "article"
    assert a47.article_label == "第四十七条"
    assert a47.source_title == "中华人民共和国劳动合同法"
    assert a47.short_title == "劳动合同法"
    assert a47.chapter_path == ["第四章 劳动合同的解除和终止"]
    assert a47.text.startswith("第四十七条 经济补偿按劳动者在本单位工作的年限")
    assert a47.issuer == "全国人民代表大会常务委员会"
    assert a47.effective == "2008-01-01" and a47.amended == ["2012-12-28"]
    assert a47.level == "national" and a47.region == "全国"


def test_sections_nest_under_chapters():
    docs = _segment("laws/labor-contract-law.md")
    a57 = next(d for d in docs if d.article == 57)
    assert a57.chapter_path[0].startswith("第五章")
    assert a57.chapter_path[1].startswith("第二节")


def test_local_regulation_has_region():
    docs = _segment("laws/shanghai-labor-contract-regulations.md")
    assert {d.region for d in docs} == {"上海"}
    assert {d.level for d in docs} == {"local"}


def test_case_keeps_sections_and_number():
    (case,) = _segment("cases/guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract.md")
    assert case.kind == "case" and case.case_number == 18
    for name in ("关键词", "裁判要点", "相关法条", "基本案情", "裁判结果", "裁判理由"):
        assert case.sections[name], name
    assert "末位等次" in case.sections["裁判要点"]
    assert case.keywords == ["民事", "劳动合同", "单方解除"]


@pytest.fixture
def registry():
    r = TitleRegistry()
    r.add("中华人民共和国劳动合同法", "labor-contract-law", "劳动合同法")
    r.add("工伤保险条例", "work-injury-insurance-regulations")
    return r


@pytest.mark.parametrize(
    "text,expected",
    [
        ("《劳动合同法》第四十七条", [("labor-contract-law.47", None, None)]),
        ("劳动合同法第47条", [("labor-contract-law.47", None, None)]),
        ("《中华人民共和国劳动合同法》第三十八条第一款第二项", [("labor-contract-law.38", 1, 2)]),
        (
            "《中华人民共和国劳动合同法》第三十九条、第四十条",
            [("labor-contract-law.39", None, None), ("labor-contract-law.40", None, None)],
        ),
        (
            "《工伤保险条例》第十五条第一款第二项；该条例第十四条",
            [("work-injury-insurance-regulations.15", 1, 2), ("work-injury-insurance-regulations.14", None, None)],
        ),
    ],
)
def test_citation_forms(registry, text, expected):
    got = [(c.target, c.paragraph, c.item) for c in find_citations(text, registry)]
    assert got == expected


def test_this_law_resolves_to_the_law_being_read(registry):
    (c,) = find_citations("违反本法第三十八条规定", registry, ("中华人民共和国劳动合同法", "labor-contract-law"))
    assert c.target == "labor-contract-law.38"


def test_unknown_law_is_kept_unresolved(registry):
    (c,) = find_citations("《重庆市鼓励公民见义勇为条例》第十九条", registry)
    assert c.target is None and c.law_title == "重庆市鼓励公民见义勇为条例" and c.article == 19


def test_ingested_case_links_to_articles_and_article_knows_its_cases(corpus_settings):
    from search_api.engines.sqlite import SqliteEngine
    from search_api.search.service import SearchService

    engine = SqliteEngine(corpus_settings.index_path)
    case = engine.get("guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract")
    assert {"labor-contract-law.39", "labor-contract-law.40"} <= set(case.cites)
    citing = SearchService(corpus_settings, engine).citing_cases("labor-contract-law.40")
    assert case.id in [c.id for c in citing]
