"""Final scoring shared by every engine, so both engines rank by the same formula.

An engine supplies the raw BM25 score of each query term in each candidate
document; this module turns them into one score:

* terms are grouped by the concept the user typed (a word, its sub-words and its
  thesaurus expansions form one group); inside a group the best term counts fully
  and the others only a little, so one concept spelled three ways doesn't outweigh
  two different concepts;
* the share of typed concepts a document covers multiplies the score, so an
  article that answers the whole question beats one that repeats one word;
* the document's static prior (authority, article vs whole law) and any query
  boosts (a region named in the question) multiply last.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

from search_api.engines.base import SearchQuery

SPILL = 0.6  # weight of a group's non-best terms
COVERAGE_EXPONENT = 0.5
BOOST_FIELDS = ("kind", "doc_type", "source_id", "region", "level")


class Scorer:
    """``final_score`` compiled for one query: per document it only visits the terms that matched."""

    def __init__(self, query: SearchQuery):
        self.terms = {t.text: (t.group, t.weight) for t in query.terms}
        self.n_groups = len({t.group for t in query.terms if t.group >= 0})
        self.boosts = [(i, query.boosts[f]) for i, f in enumerate(BOOST_FIELDS) if query.boosts.get(f)]

    def __call__(self, term_scores: Mapping[str, float], prior: float, field_values: tuple = ()) -> float:
        """Score one document; ``field_values`` are its values of ``BOOST_FIELDS``, in that order."""
        best: dict[int, float] = {}
        total: dict[int, float] = defaultdict(float)
        for text, s in term_scores.items():
            gw = self.terms.get(text)
            if gw is None or not s:
                continue
            group, weight = gw
            v = s * weight
            total[group] += v
            if v > best.get(group, 0.0):
                best[group] = v
        if not best:
            return 0.0
        base = sum(b + SPILL * (total[g] - b) for g, b in best.items())
        covered = sum(1 for g in best if g >= 0)
        coverage = covered / self.n_groups if self.n_groups else 1.0
        score = base * coverage**COVERAGE_EXPONENT * prior
        for i, by_value in self.boosts:
            score *= by_value.get(field_values[i] if i < len(field_values) else "", 1.0)
        return score


def final_score(term_scores: Mapping[str, float], query: SearchQuery, prior: float,
                fields: Mapping[str, str]) -> float:
    """Combine per-term BM25 scores (unweighted, positive) into the ranking score."""
    return Scorer(query)(term_scores, prior, tuple(fields.get(f, "") for f in BOOST_FIELDS))
