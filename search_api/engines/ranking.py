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

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np

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

# On a large index a term found in too many documents is skipped like a stopword when the query has
# other terms: its idf is tiny and ranking it costs the most (FTS5 scores every document holding it;
# Lucene walks its postings). Both engines apply it (``negligible_terms``), so they rank alike.
STOPWORD_DF = 0.25
STOPWORD_MIN_DOCS = 20_000  # only where it matters for speed; small indexes score every term
MIN_TERM_IMPACT = 0.6  # weight × idf below this (e.g. a lone 在 or 月 at weight 0.3): skipped on large indexes

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

    @classmethod
    def of_groups(cls, query: SearchQuery, names: Mapping[str, int]) -> Scorer:
        """The formula for ``query`` over scores already summed per concept group (best term + ``SPILL``
        × the rest, each weighted): ``names`` maps the name each group's score comes under to the group."""
        scorer = cls(query)
        scorer.terms = {name: (group, 1.0) for name, group in names.items()}
        return scorer

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

    def score_many(
        self,
        matches: Sequence[tuple[str, np.ndarray, np.ndarray]],
        prior: Callable[[np.ndarray], np.ndarray],
        values: Callable[[str, np.ndarray], Sequence[str]],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``__call__`` for every candidate at once (the embedded engine's path: ~1,300 candidates a
        question). ``matches``: per matched term, its text, the candidates' keys and their BM25
        scores (each key once per term); ``prior(keys)`` and ``values(field, keys)`` give the
        documents' priors and boost-field values. Returns ``(keys, scores, covered share)``."""
        terms = [(self.terms[t], k, s) for t, k, s in matches if t in self.terms and len(k)]
        if not terms:
            empty = np.zeros(0)
            return np.zeros(0, dtype=np.int64), empty, empty
        keys, where = np.unique(np.concatenate([k for _, k, _ in terms]), return_inverse=True)
        groups = sorted({g for (g, _), _, _ in terms})
        row = {g: i for i, g in enumerate(groups)}
        best = np.zeros((len(groups), len(keys)))
        total = np.zeros((len(groups), len(keys)))
        start = 0
        for (group, weight), k, s in terms:
            idx = where[start : start + len(k)]
            start += len(k)
            v = np.asarray(s, dtype=np.float64) * weight  # a zero score adds nothing and covers nothing
            r = row[group]
            best[r, idx] = np.maximum(best[r, idx], v)
            total[r, idx] += v
        base = (best + SPILL * (total - best)).sum(axis=0)
        typed = np.array([g >= 0 for g in groups])
        covered = ((best > 0) & typed[:, None]).sum(axis=0)
        scores = base * np.asarray(self.coverage)[covered] * prior(keys)
        for i, by_value in self.boosts:
            field_values = values(BOOST_FIELDS[i], keys)
            scores *= np.fromiter((by_value.get(v, 1.0) for v in field_values), dtype=np.float64, count=len(keys))
        n = len(self.coverage) - 1
        share = covered / n if n else np.ones(len(keys))
        return keys, scores, share


def answering_many(keys: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``answering`` over arrays: the positions of the answering set, best first (ties: smaller key)."""
    positive = np.flatnonzero(scores > 0)
    if not len(positive):
        return positive
    order = positive[np.lexsort((keys[positive], -scores[positive]))]
    floor = scores[order[0]] * FLOOR_RATIO
    return order[scores[order] >= floor]


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


def term_weights(query: SearchQuery) -> dict[str, float]:
    """Each non-blank term text of ``query`` with its largest weight."""
    weights: dict[str, float] = {}
    for t in query.terms:
        if t.text.strip():
            weights[t.text] = max(weights.get(t.text, 0.0), t.weight)
    return weights


def negligible(df: int, n_docs: int, weight: float) -> bool:
    """Whether a term found in ``df`` of ``n_docs`` documents is too common to matter on a large index."""
    if df > n_docs * STOPWORD_DF:
        return True
    idf = math.log((n_docs - df + 0.5) / (df + 0.5))
    return weight * idf < MIN_TERM_IMPACT


def negligible_terms(weights: Mapping[str, float], n_docs: int, df: Callable[[str], int]) -> set[str]:
    """The term texts an engine skips (``df(text)``: documents holding it): on an index of more than
    ``STOPWORD_MIN_DOCS`` documents and a query of several texts, those found nowhere and the
    ``negligible`` ones; otherwise none."""
    if n_docs <= STOPWORD_MIN_DOCS or len(weights) < 2:
        return set()
    skipped = set()
    for text, weight in weights.items():
        n = df(text)
        if n == 0 or negligible(n, n_docs, weight):
            skipped.add(text)
    return skipped
