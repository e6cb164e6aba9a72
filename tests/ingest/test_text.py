"""Numerals, normalising, tokenising: the shared text path of index and query."""

import pytest

from ingest.normalise import normalise, normalise_aligned, to_traditional
from ingest.numerals import cn_to_int, int_to_cn
from ingest.tokenise import get_tokeniser
from tests.conftest import LEXICON


@pytest.mark.parametrize(
    "text,n",
    [
        ("一", 1),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("四十七", 47),
        ("一百", 100),
        ("一百零八", 108),
        ("一百一十", 110),
        ("一百三十六", 136),
        ("47", 47),
        ("４７", 47),
    ],
)
def test_chinese_numerals_round_trip(text, n):
    assert cn_to_int(text) == n
    assert cn_to_int(int_to_cn(n)) == n


def test_bad_numeral_is_an_error():
    with pytest.raises(ValueError):
        cn_to_int("四十x")


def test_normalise_traditional_and_fullwidth():
    assert normalise("公司拖欠薪資怎麼辦") == "公司拖欠薪资怎么办"
    assert normalise("第４７条ＡＢＣ") == "第47条abc"
    assert to_traditional("劳动合同") == "勞動合同"


def test_aligned_normalisation_keeps_positions():
    original = "勞動者在試用期間被證明不符合錄用條件的"
    aligned = normalise_aligned(original)
    assert len(aligned) == len(original)
    assert aligned.startswith("劳动者在试用期间")


def test_same_tokens_for_traditional_and_simplified():
    tok = get_tokeniser(LEXICON)
    assert tok.tokenise("公司拖欠薪資怎麼辦") == tok.tokenise("公司拖欠薪资怎么办")


def test_labour_dictionary_keeps_terms_whole():
    tok = get_tokeniser(LEXICON)
    words = tok.cut_precise(normalise("被炒鱿鱼了能拿经济补偿金吗"))
    assert "炒鱿鱼" in words
    assert "经济补偿金" in words
