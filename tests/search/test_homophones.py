"""Homophone typos recovered where the lexicon makes them unambiguous (search_api/homophones.py)."""

from __future__ import annotations

import pytest

from ingest.lexicon import load_lexicon
from ingest.normalise import normalise
from ingest.tokenise import get_tokeniser
from search_api.search.homophones import HomophoneFixer, fixer_for
from search_api.search.query import analyse, suggest
from tests.conftest import LEXICON


@pytest.fixture(scope="module")
def lex_tok():
    return load_lexicon(LEXICON), get_tokeniser(LEXICON)


@pytest.fixture(scope="module")
def fixer(lex_tok):
    return fixer_for(*lex_tok)


@pytest.mark.parametrize(
    "typed,fixed",
    [
        ("被辞退了实业金怎么领", "被辞退了失业金怎么领"),
        ("公司发的公资比最低工资还低", "公司发的工资比最低工资还低"),
        ("养老保线要交满几年", "养老保险要交满几年"),
        ("生育金贴怎么算", "生育津贴怎么算"),
        ("怀运七个月还要上夜班", "怀孕七个月还要上夜班"),
    ],
)
def test_a_stretch_that_sounds_like_one_lexicon_term_is_corrected(fixer, typed, fixed):
    out, fixes = fixer.fix(typed)
    assert out == fixed and fixes


@pytest.mark.parametrize(
    "typed",
    [
        "我在事业单位上班",  # 事业 is a word: never 失业
        "工商局登记",  # 工商 is a word; typos.txt fixes it to 工伤 only next to 受伤/认定 …
        "停工留薪期内原工资福利待遇",  # 原工 sounds like 员工, but 工 starts 工资
        "派遣公司和用工单位谁负责",  # 派遣公 sounds like 派遣工, but 公 starts 公司
        "老板拿购物卡抵工资",  # 抵工 can sound like 职工, but 工 starts 工资
        "加班费的计算基数",
    ],
)
def test_real_words_and_word_edges_are_left_alone(fixer, typed):
    assert fixer.fix(typed) == (typed, [])


def test_nothing_changes_when_two_terms_sound_alike():
    fixer = HomophoneFixer({"实业金", "事业金", "失业"}, is_word=lambda w: False, cut=lambda t: [])
    assert fixer.candidate("十业") == "失业"
    assert fixer.candidate("是业金") is None  # 实业金 and 事业金 both fit: ambiguous
    assert fixer.fix("师业金") == ("失业金", [("师业", "失业")])  # the shorter stretch is unambiguous


def test_polyphonic_characters_match_any_reading():
    fixer = HomophoneFixer({"增长"}, is_word=lambda w: False, cut=lambda t: [])
    assert fixer.candidate("增常") == "增长"  # 长 reads chang as well as zhang


def test_the_fixer_is_built_once_per_lexicon(lex_tok):
    assert fixer_for(*lex_tok) is fixer_for(*lex_tok)


def test_query_analysis_searches_the_corrected_words_and_suggests_them(lex_tok):
    lex, tok = lex_tok
    a = analyse("被辞退了实业金怎么领", lex, tok)
    assert "失业金" in a.corrected and "实业金" not in a.corrected
    assert "失业金" in {t.text for t in a.terms}
    assert suggest(a, lex, tok) == a.corrected  # "did you mean" shows the corrected question
    assert a.normalised == normalise("被辞退了实业金怎么领")


def test_corrected_question_reaches_the_unemployment_articles(corpus_client):
    body = corpus_client.get("/api/search", params={"q": "被辞退了实业金怎么领", "size": 10}).json()
    assert body["corrected"] == "被辞退了失业金怎么领" and body["query"] == "被辞退了实业金怎么领"
    ids = [h["id"] for h in body["hits"]]
    assert {
        "social-insurance-law.45",
        "social-insurance-law.50",
        "unemployment-insurance-regulations.14",
        "unemployment-insurance-regulations.16",
    } & set(ids)


def test_results_page_says_which_words_were_searched(corpus_client):
    page = corpus_client.get("/search", params={"q": "养老保线要交满几年"}).text
    assert "已按“<strong>养老保险要交满几年</strong>”搜索" in page


def test_a_query_without_typos_reports_no_correction(corpus_client):
    body = corpus_client.get("/api/search", params={"q": "养老保险要交满几年"}).json()
    assert body["corrected"] is None
