"""Documents of a remote engine kept per index generation (Elasticsearch: ``engines.elasticsearch``).

A search on Elasticsearch asks the node for documents it has usually sent before: the page's
documents, the cases citing the page's leading articles, and each candidate's doc values (prior,
kind, source, region, topics: what the ranking, the facets and the light documents read). Each was
a request, or most of one, for every question met for the first time. Popular articles answer most
questions, so most of these are found here instead: 5.9 → 4.5 requests per new question
(docs/benchmarks.md, sessions 23–25), and the candidates' answer carries ids and scores only
(session 26). On an index of more than 20,000 documents, the frequencies of the
question's terms are kept too: the ones too common to matter are left out of the candidates request
(``without_negligible_terms``), as the SQLite engine leaves them out.

Each is kept for one generation of the index (``SearchEngine.generation``), like the result cache
(``search.result_cache``): a write makes the next lookup drop everything, and a document fetched
while a write lands is not kept. Callers get their own shallow copy of a document, so one that edits
it (``search.live_additions``) cannot change what the next search is given; doc values are shared
and read only.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from ingest.model import Document
from search_api.engines import ranking
from search_api.engines.base import Related, SearchHit, SearchQuery
from search_api.lru import GenerationLRU

log = logging.getLogger(__name__)

# Budgets (per process): ~8 MB and ~2 MB held when full. Measured over ~1,200 questions each asked
# once at ×1: 89 % of the page's documents asked were kept ones, 8–17 % of the related cases
# (docs/benchmarks.md, session 25).
FULL_BUDGET = 8 * 2**20  # bytes of the full documents' texts (a page's documents)
RELATED_BUDGET = 256  # answers to "which cases cite these articles" (~8 KB each)
# Documents whose doc values are kept: the whole ×20 corpus (73,000) fits. An entry is an id and a
# reference to a dict shared by every document with the same values (an act's articles on one
# subject): measured 356 bytes a document at ×1 (1.2 MB), 275 at ×20 (19 MB), so ~27 MB when full.
VALUES_BUDGET = 100_000
# Every case of the index, without its texts, when there are at most this many: the
# cases beside a page's articles are then picked here, no request (×1: 28 cases, ×20: 560). An
# index with more keeps answers per articles (``RELATED_BUDGET``).
CASES_BUDGET = 5000
# Document frequencies of query terms (``ranking.negligible_terms``, on indexes of more than 20,000
# documents): an entry is a term and an int.
DF_BUDGET = 50_000
N_DOCS = ("documents",)  # the key of the index's document count among the frequencies (terms are str)
WARM_BATCH = 1000  # terms a frequency request asks for at start-up
EVERY_CASE = "every case"
TOO_MANY: list[SearchHit] = []  # kept in place of the cases when there are more than the budget

Values = dict[str, list[Any]]  # doc values as the node sends them: field → its values


def text_bytes(doc: Document) -> int:
    """What a full document costs the cache: its texts as CPython holds Chinese (2 bytes a character)."""
    texts = (doc.text, doc.title, doc.annotation, *doc.sections.values(), *doc.questions)
    return 2 * sum(len(t) for t in texts) + 1024


class DocumentCache:
    def __init__(self, generation: Callable[[], Hashable]):
        self._generation = generation
        self.full: GenerationLRU[Document] = GenerationLRU(FULL_BUDGET, text_bytes)
        self.related: GenerationLRU[list[SearchHit]] = GenerationLRU(RELATED_BUDGET)
        self.cases: GenerationLRU[list[SearchHit]] = GenerationLRU(1)
        self.values: GenerationLRU[Values] = GenerationLRU(VALUES_BUDGET)
        self.dfs: GenerationLRU[int] = GenerationLRU(DF_BUDGET)
        self._shared: dict[tuple, Values] = {}
        self._shared_lock = threading.Lock()

    def _current(self) -> Hashable | None:
        try:
            return self._generation()
        except Exception:  # the fetch that follows says what is wrong with the engine
            return None

    def get_many(self, ids: Sequence[str], fetch: Callable[[list[str]], list[Document]]) -> list[Document]:
        """The full documents of ``ids`` that exist, in that order: kept ones, and the rest from ``fetch(ids)``."""
        generation = self._current()
        if generation is None:
            return fetch(list(ids))
        found = self.full.get_many(generation, ids)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        for doc in fetch(missing) if missing else []:
            self.full.put(generation, doc.id, doc)
            found[doc.id] = doc
        return [copy.copy(found[i]) for i in ids if i in found]

    def doc_values(
        self, ids: Sequence[str], fetch: Callable[[list[str]], Iterable[tuple[str, Values]]]
    ) -> dict[str, Values]:
        """The doc values of ``ids`` that exist, by id: kept ones, and the rest from ``fetch(ids)``
        (``(id, values)`` pairs). The dicts are shared between documents and callers: read only."""
        generation = self._current()
        found = self.values.get_many(generation, ids) if generation is not None else {}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        for doc_id, values in fetch(missing) if missing else ():
            found[doc_id] = shared = self._share(values)
            if generation is not None:
                self.values.put(generation, doc_id, shared)
        return found

    def without_negligible_terms(
        self, query: SearchQuery, count: Callable[[], int], fetch: Callable[[list[str]], dict[str, int]]
    ) -> SearchQuery:
        """``query`` without the terms the SQLite engine skips too (``ranking.negligible_terms``: on
        more than 20,000 documents, those in a quarter of them or of too little weight × idf), from
        the index's document count (``count()``) and its terms' frequencies (``fetch(texts)``), both
        kept. At x20 they are a fifth of the questions' terms and half of the node's work for the
        candidates (docs/benchmarks.md, session 27); on a smaller index nothing is asked or left out."""
        weights = ranking.term_weights(query)
        try:
            if len(weights) < 2 or (n_docs := self.n_docs(count)) <= ranking.STOPWORD_MIN_DOCS:
                return query
            dfs = self.doc_freqs(list(weights), fetch)
        except Exception as exc:  # only a saving: every term is searched (the search says what is wrong)
            log.warning("term frequencies unavailable, every term searched: %s", exc)
            return query
        skipped = ranking.negligible_terms(weights, n_docs, dfs.__getitem__)
        return dataclasses.replace(query, terms=[t for t in query.terms if t.text not in skipped]) if skipped else query

    def warm_doc_freqs(
        self, texts: Sequence[str], count: Callable[[], int], fetch: Callable[[list[str]], dict[str, int]]
    ) -> int:
        """Keep the frequencies of ``texts`` ahead of the questions using them, if the index is large
        enough for them to matter (``without_negligible_terms``); how many are kept."""
        if self.n_docs(count) <= ranking.STOPWORD_MIN_DOCS:
            return 0
        for start in range(0, len(texts), WARM_BATCH):
            self.doc_freqs(texts[start : start + WARM_BATCH], fetch)
        return len(texts)

    def n_docs(self, count: Callable[[], int]) -> int:
        """The index's document count, from ``count()`` once a generation."""
        generation = self._current()
        found = self.dfs.get(generation, N_DOCS) if generation is not None else None
        if found is None:
            found = count()
            if generation is not None:
                self.dfs.put(generation, N_DOCS, found)
        return found

    def doc_freqs(self, texts: Sequence[str], fetch: Callable[[list[str]], dict[str, int]]) -> dict[str, int]:
        """Each of ``texts``' document frequency: kept ones, the rest from ``fetch(texts)`` (0 if absent)."""
        generation = self._current()
        found = self.dfs.get_many(generation, texts) if generation is not None else {}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        fetched = fetch(missing) if missing else {}
        for text in missing:
            found[text] = df = fetched.get(text, 0)
            if generation is not None:
                self.dfs.put(generation, text, df)
        return found

    def _share(self, values: Values) -> Values:
        """One dict for every document with these values (the id left out: it is the key)."""
        key = tuple((f, tuple(v)) for f, v in sorted(values.items()) if f != "id")
        with self._shared_lock:
            shared = self._shared.get(key)
            if shared is None:
                if len(self._shared) >= VALUES_BUDGET:  # an index rebuilt many times: start afresh
                    self._shared.clear()
                shared = self._shared[key] = {f: list(v) for f, v in key}
            return shared

    def related_cases(
        self,
        article_ids: list[str],
        related: Related,
        fetch: Callable[[list[str], Related], list[SearchHit]],
        every_case: Callable[[int], list[SearchHit] | None],
    ) -> list[SearchHit]:
        """The cases citing ``article_ids`` (``SearchEngine.related_cases``): picked from every case
        of the index, fetched once a generation in browse order by ``every_case(limit)`` (None:
        more than ``limit``), else kept per articles and shape, else from ``fetch``."""
        generation = self._current()
        if generation is None:
            hits = fetch(article_ids, related)
        elif (cases := self._every_case(generation, every_case)) is not None:
            # what the browse query finds: the cases citing any of the articles, in browse order, cut
            wanted = set(article_ids)
            hits = [h for h in cases if not wanted.isdisjoint(h.doc.cites)][: related.query(article_ids).size]
        else:
            key = (tuple(article_ids), related)  # Related is frozen: any field of it is part of the key
            hits = self.related.get(generation, key)
            if hits is None:
                hits = fetch(article_ids, related)
                self.related.put(generation, key, hits)
        return [dataclasses.replace(h, doc=copy.copy(h.doc)) for h in hits]

    def _every_case(
        self, generation: Hashable, every_case: Callable[[int], list[SearchHit] | None]
    ) -> list[SearchHit] | None:
        kept = self.cases.get(generation, EVERY_CASE)
        if kept is None:
            kept = every_case(CASES_BUDGET)
            self.cases.put(generation, EVERY_CASE, TOO_MANY if kept is None else kept)
        return None if kept is TOO_MANY else kept
