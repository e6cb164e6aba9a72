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

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TypeVar

from ingest.segment import PRIORS
from search_api.engines.base import SearchQuery

# Every number that decides the order of results lives here (the document priors are set
# at ingest time, ``ingest.segment.PRIORS``).
SPILL = 0.6  # weight of a group's non-best terms
COVERAGE_EXPONENT = 0.5
BOOST_FIELDS = ("kind", "doc_type", "source_id", "region", "level")
CANDIDATES = 300  # documents per term (SQLite) or per query (Elasticsearch) re-ranked by the formula
FACET_SIZE = 30  # values per facet, on both engines
# A region named in the question ("上海加班费") lifts that region's local rules to 2.2× the
# national prior: the boost undoes the local prior first.
REGION_BOOST = 2.2 / PRIORS["local_regulation"]
# The answering set: candidates scoring at least this share of the best one. Below it a
# document merely shares a word with the question; ``total`` and the facets count the set.
FLOOR_RATIO = 0.25

# The top answer is confident when it matches at least this share of the question's typed
# concepts (measured on 213 evaluation questions: 77 % confident, 93 % of those right).
CONFIDENT_COVERAGE = 2 / 3

K = TypeVar("K", int, str)


class Scorer:
    """``final_score`` compiled for one query: per document it only visits the terms that matched."""

    def __init__(self, query: SearchQuery):
        self.terms = {t.text: (t.group, t.weight) for t in query.terms}
        n = len({t.group for t in query.terms if t.group >= 0})
        # coverage factor for k covered groups, k = 0..n (no typed concept at all: factor 1)
        self.coverage = [(k / n) ** COVERAGE_EXPONENT if n else 1.0 for k in range(n + 1)]
        self.boosts = [(i, query.boosts[f]) for i, f in enumerate(BOOST_FIELDS) if query.boosts.get(f)]

    def covered_share(self, term_scores: Mapping[str, float]) -> float:
        """Share of the question's typed concepts a document matched (1.0 when it typed none)."""
        n = len(self.coverage) - 1
        if not n:
            return 1.0
        groups = {self.terms[t][0] for t, s in term_scores.items() if s and t in self.terms}
        return sum(1 for g in groups if g >= 0) / n

    def __call__(self, term_scores: Mapping[str, float], prior: float, field_values: tuple = ()) -> float:
        """Score one document; ``field_values`` are its values of ``BOOST_FIELDS``, in that order."""
        terms = self.terms
        if len(term_scores) == 1:  # the common case: one matched term, one group
            ((text, s),) = term_scores.items()
            gw = terms.get(text)
            if gw is None or not s:
                return 0.0
            score = s * gw[1] * self.coverage[1 if gw[0] >= 0 else 0] * prior
        else:
            score = self._several(term_scores) * prior
        for i, by_value in self.boosts:
            score *= by_value.get(field_values[i] if i < len(field_values) else "", 1.0)
        return score

    def _several(self, term_scores: Mapping[str, float]) -> float:
        terms = self.terms
        groups: dict[int, list[float]] = {}  # group -> [best, total]
        for text, s in term_scores.items():
            gw = terms.get(text)
            if gw is None or not s:
                continue
            v = s * gw[1]
            acc = groups.get(gw[0])
            if acc is None:
                groups[gw[0]] = [v, v]
            else:
                acc[1] += v
                if v > acc[0]:
                    acc[0] = v
        if not groups:
            return 0.0
        base = 0.0
        covered = 0
        for g, (best, total) in groups.items():
            base += best + SPILL * (total - best)
            if g >= 0:
                covered += 1
        return base * self.coverage[covered]


def answering(scored: Iterable[tuple[float, K]]) -> list[tuple[float, K]]:
    """``(score, key)`` pairs of the answering set, best first (ties: smaller key first)."""
    ranked = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))
    if not ranked:
        return []
    floor = ranked[0][0] * FLOOR_RATIO
    return [item for item in ranked if item[0] >= floor]


def count_facets(values: Iterable[Mapping[str, str | Iterable[str]]]) -> dict[str, dict[str, int]]:
    """Facet counts over a set of documents' facet values (a field may hold several), top ``FACET_SIZE``."""
    counts: dict[str, Counter[str]] = {}
    for doc in values:
        for field, value in doc.items():
            counter = counts.setdefault(field, Counter())
            if isinstance(value, str):
                if value:
                    counter[value] += 1
            else:
                counter.update(v for v in value if v)
    return {field: dict(c.most_common(FACET_SIZE)) for field, c in counts.items()}
