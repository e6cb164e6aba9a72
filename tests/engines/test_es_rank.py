"""The Elasticsearch engine's candidate request and ranking, without a server (issue 13).

``rank_candidates`` ranks the candidates' named-query scores with ``Scorer.score_many`` (the
SQLite engine's arrays); it must order them as ``Scorer`` does one hit at a time (the engine's
ranking before), with the same scores up to the summation order.
"""

from __future__ import annotations

import random

import pytest

from search_api.engines.base import FACET_FIELDS, LIGHT_FIELDS, SearchQuery, Term
from search_api.engines.es_query import (
    IGNORE_ABOVE,
    MAX_ID_BYTES,
    candidate_fields,
    hit_id,
    query_texts,
    rank_candidates,
    search_body,
    term_names,
)
from search_api.engines.ranking import BOOST_FIELDS, Scorer, answering


def per_hit(raw_hits: list[dict], query: SearchQuery) -> list[tuple[float, str, float]]:
    """The ranking as the engine did it before: one ``Scorer`` call per hit, then ``answering``."""
    weights = query_texts(query)
    by_name = {name: (text, weights[text]) for text, name in term_names(weights).items()}
    scorer = Scorer(query)
    coverage, scored = {}, []
    for h in raw_hits:
        term_scores = {by_name[n][0]: float(s) / by_name[n][1] for n, s in h["matched_queries"].items()}
        f = h["fields"]
        fields = tuple((f.get(k) or [""])[0] for k in BOOST_FIELDS)
        score = scorer(term_scores, float((f.get("prior") or [1.0])[0]), fields)
        coverage[hit_id(h)] = scorer.covered_share(term_scores)
        scored.append((score, hit_id(h)))
    return [(s, i, coverage[i]) for s, i in answering(scored)]


def random_hits(rng: random.Random, n_terms: int, n_hits: int) -> list[dict]:
    hits = []
    for i in range(n_hits):
        names = rng.sample([f"t{t}" for t in range(n_terms)], rng.randint(1, n_terms))
        fields = {"id": [f"doc-{rng.randrange(10_000):05d}-{i}"], "region": [rng.choice(["全国", "上海", "北京"])]}
        if rng.random() < 0.9:
            fields["prior"] = [rng.choice([1.0, 0.8, 0.5, 1.3])]
        scores = {name: rng.choice([0.0, round(rng.uniform(0.1, 9), 3), 2.5]) for name in names}
        hits.append({"fields": fields, "matched_queries": scores})
    rng.shuffle(hits)
    return hits


@pytest.mark.parametrize("seed", range(40))
def test_rank_candidates_orders_as_one_scorer_call_per_hit(seed):
    rng = random.Random(seed)
    n_terms = rng.randint(1, 7)
    terms = [Term(f"w{t}", rng.choice([1.0, 0.6, 0.3]), rng.choice([-1, 0, 1, 2])) for t in range(n_terms)]
    boosts = {"region": {"上海": 2.0}} if seed % 2 else {}
    query = SearchQuery(terms=terms, boosts=boosts)
    hits = random_hits(rng, n_terms, rng.randint(0, 300))
    ids, scores, shares, order = rank_candidates(hits, query)
    expected = per_hit(hits, query)
    assert [ids[i] for i in order] == [i for _, i, _ in expected]
    assert [float(shares[i]) for i in order] == [c for _, _, c in expected]
    assert [float(scores[i]) for i in order] == pytest.approx([s for s, _, _ in expected], rel=1e-12)


def test_candidates_carry_only_the_doc_values_the_query_needs():
    plain = SearchQuery(terms=[Term("工资")])
    assert candidate_fields(plain) == ["prior"]
    body = search_body(plain)
    assert body["stored_fields"] == ["_none_"] and "_source" not in body
    assert body["docvalue_fields"] == ["id", "prior"]
    region = SearchQuery(terms=[Term("工资")], boosts={"region": {"上海": 2.0}})
    assert candidate_fields(region) == ["prior", "region"]
    assert set(candidate_fields(SearchQuery(terms=[Term("工资")], facets=True))) == {"prior", *FACET_FIELDS}
    light = SearchQuery(terms=[Term("工资")], light=True)
    assert set(candidate_fields(light)) == set(LIGHT_FIELDS) - {"id"}


def test_hit_ids_from_doc_values_or_id():
    assert hit_id({"_id": "a", "fields": {"id": ["b"]}}) == "a"
    assert hit_id({"fields": {"id": ["b"]}}) == "b"
    # the longest id Elasticsearch takes (512 bytes) is short enough to have its doc value
    assert MAX_ID_BYTES <= IGNORE_ABOVE
