"""The relevance benchmark's own arithmetic and baselines (bench/relevance.py).

The metrics decide which ranking changes are kept, and the plain baseline decides the
reported gain, so both are checked: the metrics on hand-computed rankings, the baseline
tokenisers against what the real Elasticsearch analyzers produce.
"""

from __future__ import annotations

import math
import uuid

import pytest

from bench.relevance import (
    EsPlainBM25,
    PlainBM25,
    bigram_tokens,
    ndcg,
    normalised_unigrams,
    recall,
    reciprocal_rank,
    standard_tokens,
)
from ingest.model import Document


def test_ndcg_is_one_for_the_ideal_order_and_lower_when_answers_sink():
    grades = {"a": 2, "b": 1}
    assert ndcg(["a", "b", "x"], grades) == pytest.approx(1.0)
    swapped = (1 / math.log2(2) + 3 / math.log2(3)) / (3 / math.log2(2) + 1 / math.log2(3))
    assert ndcg(["b", "a"], grades) == pytest.approx(swapped)
    assert ndcg(["x"] * 10 + ["a"], grades) == 0.0  # beyond the cut-off counts nothing


def test_recall_and_mrr_count_only_answering_documents():
    grades = {"a": 2, "b": 2, "r": 1}
    assert recall(["r", "a", "x"], grades) == 0.5
    assert reciprocal_rank(["r", "x", "b"], grades) == pytest.approx(1 / 3)
    assert reciprocal_rank(["r"], grades) == 0.0


def test_standard_tokens_split_chinese_per_character_and_convert_nothing():
    assert standard_tokens("公司拖欠薪資怎麼辦？") == ["公", "司", "拖", "欠", "薪", "資", "怎", "麼", "辦"]
    assert standard_tokens("GDP增长5%") == ["gdp", "增", "长", "5"]
    # labourkb's own normalisation is what the stronger reference adds
    assert normalised_unigrams("薪資") == ["薪", "资"]


def test_bigram_tokens_overlap_within_chinese_runs():
    assert bigram_tokens("拖欠工资，怎么办") == ["拖欠", "欠工", "工资", "怎么", "么办"]
    assert bigram_tokens("欠 薪") == ["欠", "薪"]


def test_plain_bm25_ranks_the_document_sharing_the_question_characters_first():
    docs = [
        Document(id="wage", kind="article", title="工资支付", text="用人单位不得克扣或者无故拖欠劳动者的工资。"),
        Document(id="leave", kind="article", title="年休假", text="职工连续工作满十二个月以上的，享受带薪年休假。"),
    ]
    assert PlainBM25(docs, standard_tokens).rank("老板拖欠工资")[0] == "wage"
    # without normalisation a traditional-character question misses characters that differ
    assert PlainBM25(docs, standard_tokens).rank("資") == []
    assert PlainBM25(docs, normalised_unigrams).rank("資") == ["wage"]


@pytest.mark.parametrize("text", ["公司拖欠薪資怎麼辦？", "用人单位应当支付经济补偿", "劳动者可以解除劳动合同"])
def test_emulated_tokenisers_match_the_real_elasticsearch_analyzers(es_engine, text):
    index = f"bench-plain-{uuid.uuid4().hex[:8]}"
    client = es_engine.client
    client.indices.create(index=index, settings=EsPlainBM25.SETTINGS)
    try:

        def analyse(analyzer: str) -> list[str]:
            res = client.indices.analyze(index=index, analyzer=analyzer, text=text)
            return [t["token"] for t in res["tokens"]]

        assert analyse("standard") == standard_tokens(text)
        assert analyse("bigram") == bigram_tokens(text)
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
