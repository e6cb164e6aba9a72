"""Documents of a remote engine kept per index generation (Elasticsearch: ``engines.elasticsearch``).

A search on Elasticsearch asks the node for documents it has usually sent before: the light
documents of the semantic side's candidates, the page's documents, the cases citing the page's
leading articles. Each was a request of its own for every question met for the first time. Popular
articles answer most questions, so most of these are found here instead: 5.9 → 4.5 requests per new
question (docs/benchmarks.md, sessions 23–25).

Each is kept for one generation of the index (``SearchEngine.generation``), like the result cache
(``search.result_cache``): a write makes the next lookup drop everything, and a document fetched
while a write lands is not kept. Callers get their own shallow copy, so one that edits a document
(``search.live_additions``) cannot change what the next search is given.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Hashable, Sequence

from ingest.model import Document
from search_api.engines.base import Related, SearchHit
from search_api.lru import GenerationLRU

# Budgets (per process): ~8 MB, ~3 MB and ~2 MB held when full. Measured over ~1,200 questions each
# asked once at ×1: 95 % of the light documents and 89 % of the page's documents asked were kept ones,
# 8–17 % of the related cases (docs/benchmarks.md, session 25).
FULL_BUDGET = 8 * 2**20  # bytes of the full documents' texts (a page's documents)
LIGHT_BUDGET = 4096  # light documents (``LIGHT_FIELDS``: ids, kinds, sources, regions, topics)
RELATED_BUDGET = 256  # answers to "which cases cite these articles" (~8 KB each)


def text_bytes(doc: Document) -> int:
    """What a full document costs the cache: its texts as CPython holds Chinese (2 bytes a character)."""
    texts = (doc.text, doc.title, doc.annotation, *doc.sections.values(), *doc.questions)
    return 2 * sum(len(t) for t in texts) + 1024


class DocumentCache:
    def __init__(self, generation: Callable[[], Hashable]):
        self._generation = generation
        self.full: GenerationLRU[Document] = GenerationLRU(FULL_BUDGET, text_bytes)
        self.light: GenerationLRU[Document] = GenerationLRU(LIGHT_BUDGET)
        self.related: GenerationLRU[list[SearchHit]] = GenerationLRU(RELATED_BUDGET)

    def _current(self) -> Hashable | None:
        try:
            return self._generation()
        except Exception:  # the fetch that follows says what is wrong with the engine
            return None

    def get_many(
        self, ids: Sequence[str], light: bool, fetch: Callable[[list[str], bool], list[Document]]
    ) -> list[Document]:
        """The documents of ``ids`` that exist, in that order: kept ones, and the rest from ``fetch(ids, light)``."""
        kept = self.light if light else self.full
        generation = self._current()
        if generation is None:
            return fetch(list(ids), light)
        found = {i: doc for i in ids if (doc := kept.get(generation, i)) is not None}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        for doc in fetch(missing, light) if missing else []:
            kept.put(generation, doc.id, doc)
            found[doc.id] = doc
        return [copy.copy(found[i]) for i in ids if i in found]

    def related_cases(
        self, article_ids: list[str], related: Related, fetch: Callable[[list[str], Related], list[SearchHit]]
    ) -> list[SearchHit]:
        """The cases citing ``article_ids`` (``SearchEngine.related_cases``): kept, or from ``fetch``."""
        generation = self._current()
        key = (tuple(article_ids), related)  # Related is frozen: any field of it is part of the key
        hits = self.related.get(generation, key) if generation is not None else None
        if hits is None:
            hits = fetch(article_ids, related)
            if generation is not None:
                self.related.put(generation, key, hits)
        return [dataclasses.replace(h, doc=copy.copy(h.doc)) for h in hits]
