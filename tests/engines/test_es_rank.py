"""The Elasticsearch engine's candidate request and ranking, without a server (issue 13).

``rank_candidates`` ranks the candidates' named-query scores, one per concept group (a
``dis_max`` of the group's terms: the best weighted score and ``SPILL`` of the others'), with
``Scorer.score_many`` (the SQLite engine's arrays); it must order them as ``Scorer`` orders the
per-term scores one hit at a time (the engine's ranking before), with the same scores up to the
summation order.
"""

from __future__ import annotations

import random

import pytest

from search_api.engines.base import SearchQuery, Term
from search_api.engines.es_query import (
    IGNORE_ABOVE,
    MAX_ID_BYTES,
    group_names,
    hit_id,
    rank_candidates,
    search_body,
    term_groups,
)
from search_api.engines.ranking import BOOST_FIELDS, SPILL, Scorer, answering


def per_hit(hits: list[tuple[dict, dict[str, float]]], query: SearchQuery) -> list[tuple[float, str, float]]:
    """The ranking as the engine did it before: one ``Scorer`` call per hit on its terms' own
    scores, then ``answering``."""
    scorer = Scorer(query)
    coverage, scored = {}, []
    for h, term_scores in hits:
        f = h["fields"]
        fields = tuple((f.get(k) or [""])[0] for k in BOOST_FIELDS)
        score = scorer(term_scores, float((f.get("prior") or [1.0])[0]), fields)
        coverage[hit_id(h)] = scorer.covered_share(term_scores)
        scored.append((score, hit_id(h)))
    return [(s, i, coverage[i]) for s, i in answering(scored)]


def dis_max(weighted: list[float]) -> float:
    """Lucene's dis_max with tie-breaker ``SPILL``: the best score and SPILL × the sum of the others."""
    return max(weighted) + SPILL * (sum(weighted) - max(weighted))


def random_hits(rng: random.Random, query: SearchQuery, n_hits: int) -> list[tuple[dict, dict[str, float]]]:
    """Hits as Elasticsearch answers them (a score per matched group), each with its terms' own scores."""
    groups = term_groups(query)
    texts = [t.text for t in query.terms]
    hits = []
    for i in range(n_hits):
        matched = rng.sample(texts, rng.randint(1, len(texts)))
        term_scores = {t: rng.choice([0.0, round(rng.uniform(0.1, 9), 3), 2.5]) for t in matched}
        named = {}
        for name, g in group_names(groups).items():
            weighted = [s * groups[g][t] for t, s in term_scores.items() if s and t in groups[g]]
            if weighted:
                named[name] = dis_max(weighted)
        fields = {"id": [f"doc-{rng.randrange(10_000):05d}-{i}"], "region": [rng.choice(["全国", "上海", "北京"])]}
        if rng.random() < 0.9:
            fields["prior"] = [rng.choice([1.0, 0.8, 0.5, 1.3])]
        hits.append(({"fields": fields, "matched_queries": named}, term_scores))
    rng.shuffle(hits)
    return hits


@pytest.mark.parametrize("seed", range(40))
def test_rank_candidates_orders_as_one_scorer_call_per_hit(seed):
    rng = random.Random(seed)
    n_terms = rng.randint(1, 7)
    terms = [Term(f"w{t}", rng.choice([1.0, 0.6, 0.3]), rng.choice([-1, 0, 1, 2])) for t in range(n_terms)]
    boosts = {"region": {"上海": 2.0}} if seed % 2 else {}
    query = SearchQuery(terms=terms, boosts=boosts)
    hits = random_hits(rng, query, rng.randint(0, 300))
    ids, scores, shares, order = rank_candidates([h for h, _ in hits], query)
    expected = per_hit(hits, query)
    assert [ids[i] for i in order] == [i for _, i, _ in expected]
    assert [float(shares[i]) for i in order] == [c for _, _, c in expected]
    assert [float(scores[i]) for i in order] == pytest.approx([s for s, _, _ in expected], rel=1e-12)


def test_one_named_clause_per_concept_with_the_weights_the_scorer_uses():
    query = SearchQuery(
        terms=[Term("拖欠", 1.0, 0), Term("欠薪", 0.6, 0), Term("工资", 1.0, 1), Term("拖欠", 0.8, 0), Term("的", 0, 2)]
    )
    # the last of a repeated text is the one Scorer reads; a weightless term is not asked for
    assert term_groups(query) == {0: {"拖欠": 0.8, "欠薪": 0.6}, 1: {"工资": 1.0}}
    should = search_body(query)["query"]["bool"]["should"]
    assert [next(iter(c.values()))["_name"] for c in should] == ["g0", "g1"]
    assert should[0]["dis_max"]["tie_breaker"] == SPILL
    assert [q["bool"]["boost"] for q in should[0]["dis_max"]["queries"]] == [0.8, 0.6]
    assert "dis_max" not in should[1] and should[1]["bool"]["boost"] == 1.0


def test_candidates_carry_their_id_and_nothing_else_of_the_document():
    queries = [
        SearchQuery(terms=[Term("工资")]),
        SearchQuery(terms=[Term("工资")], boosts={"region": {"上海": 2.0}}),
        SearchQuery(terms=[Term("工资")], facets=True),
        SearchQuery(terms=[Term("工资")], light=True),
    ]
    for query in queries:
        body = search_body(query)
        assert body["stored_fields"] == ["_none_"] and "_source" not in body
        assert body["docvalue_fields"] == ["id"]


def test_hit_ids_from_doc_values_or_id():
    assert hit_id({"_id": "a", "fields": {"id": ["b"]}}) == "a"
    assert hit_id({"fields": {"id": ["b"]}}) == "b"
    # the longest id Elasticsearch takes (512 bytes) is short enough to have its doc value
    assert MAX_ID_BYTES <= IGNORE_ABOVE
