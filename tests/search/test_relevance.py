"""Relevance on the real corpus (embedded engine): pinned questions, typo recovery,
"did you mean" suggestions and filler-only queries.

The pinned questions are worker-style questions from the evaluation set
(`corpus/eval/questions.jsonl`), one or two per slice, each with the article or case
that answers it; `tests/engines/test_contract.py::PINNED` pins another dozen on both engines.
"""

from __future__ import annotations

import pytest

from ingest.lexicon import load_lexicon
from ingest.tokenise import get_tokeniser
from search_api.engines.sqlite import SqliteEngine
from search_api.search.query import analyse, suggest
from search_api.search.service import SearchService
from tests.conftest import LEXICON, semantic_service

PINNED = [
    # colloquial
    ("公司一直不给交社保，我辞职能要补偿吗", {"labor-contract-law.38", "labor-contract-law.46"}),
    ("下班路上被车撞了算不算工伤", {"work-injury-insurance-regulations.14"}),
    ("生孩子能休多少天产假", {"female-employees-special-labor-protection-provisions.7"}),
    (
        "包工头跑路了工资找谁要",
        {"migrant-worker-wage-payment-regulations.36", "migrant-worker-wage-payment-regulations.63"},
    ),
    # legal wording
    ("用人单位违法解除劳动合同的赔偿金标准", {"labor-contract-law.87"}),
    ("破产财产清偿顺序中所欠职工的工资", {"enterprise-bankruptcy-law.113"}),
    # traditional characters
    ("公司沒有繳納社會保險怎麼辦", {"social-insurance-law.63", "social-insurance-law.86"}),
    ("競業限制的補償金是多少", {"labor-dispute-judicial-interpretation-1.36"}),
    # pinyin typos
    # (劳动法第一百条, "无故不缴纳社会保险费的 … 责令其限期缴纳", is graded 2 for this question in corpus/eval q072)
    ("公司不给交社宝怎么办", {"social-insurance-law.63", "social-insurance-law.86", "labor-law.100"}),
    ("女职工产价有多少天", {"female-employees-special-labor-protection-provisions.7"}),
    # cases
    ("见义勇为制止抢劫受伤算工伤吗", {"guiding-case-094-fuling-zhida-property-v-fuling-hrss-deemed-work-injury"}),
    ("签了自愿放弃加班费协议还能要加班费吗", {"typical-2021-hrss-spc-overtime-agreement-waiving-overtime-pay"}),
]


@pytest.fixture(scope="module")
def service(corpus_settings, semantic_data_dir):
    engine = SqliteEngine(corpus_settings.sqlite_path)
    yield semantic_service(corpus_settings, engine, semantic_data_dir)
    engine.close()


@pytest.fixture(scope="module")
def lex():
    return load_lexicon(LEXICON), get_tokeniser(LEXICON)


def top_ids(service: SearchService, q: str, n: int = 3) -> list[str]:
    return [h["id"] for h in service.search(q, size=n, related=False).hits]


@pytest.mark.parametrize("q,answers", PINNED, ids=[q for q, _ in PINNED])
def test_pinned_question_answered_in_top_3(service, q, answers):
    top3 = top_ids(service, q)
    assert answers & set(top3), f"{q}: top 3 were {top3}"


# -- typo recovery: the typo'd question finds what the correct one finds ----------


@pytest.mark.parametrize(
    "typo,correct,answer",
    [
        ("上班路上出车祸算工商吗", "上班路上出车祸算工伤吗", "work-injury-insurance-regulations.14"),
        ("被公司词退了有经挤补偿吗", "被公司辞退了有经济补偿吗", "labor-contract-law.46"),
        ("竞业线制补偿金给多少", "竞业限制补偿金给多少", "labor-dispute-judicial-interpretation-1.36"),
    ],
)
def test_typo_recovered(service, lex, typo, correct, answer):
    lexicon, tok = lex
    a = analyse(typo, lexicon, tok)
    assert a.corrected == correct.lower()
    assert top_ids(service, typo, 10) == top_ids(service, correct, 10)
    # top 5: 辞退…经济补偿 ranks 劳动合同法第四十六条 4th, after 实施条例第二十五条 (its exception, 赔偿金 instead
    # of 经济补偿) — the "exception before the right" precision problem of issue 14, not solved yet
    assert answer in top_ids(service, typo, 5)


def test_typo_with_context_only_fixed_in_context(lex):
    lexicon, tok = lex
    # 工商局 is a real place to complain to: 工商 is only read as 工伤 next to injury words
    assert "工商" in analyse("去工商局投诉公司", lexicon, tok).corrected
    assert "工伤" in analyse("上班摔伤算工商吗", lexicon, tok).corrected


# -- "did you mean" ------------------------------------------------------------


def test_suggestion_for_typo_is_the_corrected_query(service):
    res = service.search("工伤认证要多久", size=3)
    # the corrected query is what was searched; the suggestion shows it to the user
    assert suggest(service.analyse("工伤认证要多久"), service.lexicon, service.tok) == "工伤认定要多久"
    assert res.total > 0


@pytest.mark.parametrize(
    "q,expected",
    [
        ("炒鱿鱼", "解除劳动合同"),  # everyday word → its legal term
        ("鱿鱼", "炒鱿鱼"),  # a fragment → the closest lexicon word
        ("劳保", "劳保用品"),
        ("劳动合tong", "劳动合同"),  # half pinyin: the Chinese part is matched
    ],
)
def test_suggestion_from_thesaurus_and_dictionary(lex, q, expected):
    lexicon, tok = lex
    assert suggest(analyse(q, lexicon, tok), lexicon, tok) == expected


def test_no_suggestion_for_gibberish_or_a_good_query(lex):
    lexicon, tok = lex
    assert suggest(analyse("qwzx", lexicon, tok), lexicon, tok) is None
    assert suggest(analyse("", lexicon, tok), lexicon, tok) is None


def test_few_results_carry_a_suggestion_in_the_api(corpus_client):
    body = corpus_client.get("/api/search", params={"q": "鱿鱼"}).json()
    assert body["total"] <= 3
    assert body["suggestion"] == "炒鱿鱼"


# -- filler-only queries -------------------------------------------------------


@pytest.mark.parametrize("q", ["怎么办？", "请问 怎么办 吗", "可以吗？？"])
def test_filler_only_query_is_an_empty_helpful_result(service, q):
    res = service.search(q)
    assert res.total == 0 and res.hits == [] and res.filler_only
    assert "具体问题" in res.as_dict()["message"]


def test_filler_around_content_is_ignored(service):
    assert top_ids(service, "请问产假有几天呢？谢谢", 5) == top_ids(service, "产假有几天", 5)


# -- query handling ------------------------------------------------------------


def test_quantities_and_glued_filler_are_not_concepts(lex):
    lexicon, tok = lex
    a = analyse("老板拖欠工资三个月不发怎么办", lexicon, tok)
    assert "三个" not in a.tokens and "月" in a.tokens  # the quantity keeps only its unit
    assert analyse("生孩子能休多少天产假", lexicon, tok).tokens == ["生孩子", "休", "天", "产假"]


def test_filler_between_words_rebuilds_the_lexicon_phrase(lex):
    lexicon, tok = lex
    # 不给交社保: 给 is filler; 不交社保 is the thesaurus word that knows the legal wording
    a = analyse("公司一直不给交社保", lexicon, tok)
    assert "不交社保" in a.tokens
    assert "未依法为劳动者缴纳社会保险费" in {t.text for t in a.terms}


def test_region_only_when_a_place_is_asked(lex):
    lexicon, tok = lex
    assert analyse("上海试用期多长", lexicon, tok).region == "上海"
    assert analyse("郑州市失业保险金", lexicon, tok).region == "河南"
    assert analyse("因为是河南人被拒绝录用算就业歧视吗", lexicon, tok).region is None


def test_party_words_do_not_decide_coverage(lex):
    lexicon, tok = lex
    a = analyse("公司拖欠工资", lexicon, tok)
    company = next(t for t in a.terms if t.text == "公司")
    wages = next(t for t in a.terms if t.text == "拖欠工资")
    assert company.group < 0 and company.weight < 1.0
    assert wages.group >= 0 and wages.weight == 1.0


def test_the_passive_marker_finds_its_verb_across_the_agent(lex):
    lexicon, tok = lex
    assert "被炒" in analyse("被老板炒了能拿多少钱", lexicon, tok).tokens
    assert "被开除" in analyse("被公司开除了怎么办", lexicon, tok).tokens
    assert "被炒" not in analyse("老板炒股亏了被骂", lexicon, tok).tokens  # 被 after the verb: no passive of it
    # the 把-construction with the worker as its object is the same passive
    assert "被开" in analyse("公司把我开了能要多少补偿", lexicon, tok).tokens
    assert "被开" not in analyse("把我的工资开了", lexicon, tok).tokens  # 把 + what is mine: not me


def test_dismissed_in_slang_lands_on_dismissal_not_on_pensions(service):
    """Issue 14: "被老板炒了能拿多少钱" opened with pension and unemployment-insurance rules."""
    dismissal = {
        "labor-contract-law.46",
        "labor-contract-law.47",
        "labor-contract-law.48",
        "labor-contract-law.87",
        "labor-contract-law-implementing-regulations.25",
        # the guiding case of a worker dismissed unlawfully (末位淘汰) and what he was owed
        "guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract",
    }
    # the first answer is a dismissal article and two of the first three are about dismissal (the fusion
    # weight chosen over the development sets lets 劳动法第四十七条, on wage levels, in: "多少钱")
    slang = top_ids(service, "被老板炒了能拿多少钱")
    assert slang[0] in dismissal and len(set(slang) & dismissal) >= 2, slang
    assert set(top_ids(service, "公司把我开了能要多少补偿")) <= dismissal | {"labor-law.28"}
