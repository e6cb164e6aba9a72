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


def final_score(term_scores: Mapping[str, float], query: SearchQuery, prior: float,
                fields: Mapping[str, str]) -> float:
    """Combine per-term BM25 scores (unweighted, positive) into the ranking score."""
    groups: dict[int, list[float]] = defaultdict(list)
    all_groups = {t.group for t in query.terms if t.group >= 0}
    for t in query.terms:
        s = term_scores.get(t.text)
        if s:
            groups[t.group].append(s * t.weight)
    if not groups:
        return 0.0
    base = 0.0
    for values in groups.values():
        best = max(values)
        base += best + SPILL * (sum(values) - best)
    covered = sum(1 for g in groups if g >= 0)
    coverage = covered / len(all_groups) if all_groups else 1.0
    score = base * coverage**COVERAGE_EXPONENT * prior
    for field in BOOST_FIELDS:
        score *= query.boosts.get(field, {}).get(fields.get(field, ""), 1.0)
    return score
