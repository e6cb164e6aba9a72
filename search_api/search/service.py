"""The search service: analyse a query, ask the engine, shape hits for the API and the site.

Both the JSON API and the HTML pages call ``SearchService.search`` so they always
agree. How a hit is shown lives in ``search.present``; the query-log record is written
around this call by ``monitoring``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ingest.citations import TitleRegistry
from ingest.lexicon import Lexicon, load_lexicon
from ingest.model import WHOLE_KINDS, Document
from ingest.pipeline import registry_from
from ingest.tokenise import Tokeniser, get_tokeniser
from search_api.engines.base import Related, SearchEngine, SearchHit, SearchQuery, Term
from search_api.engines.ranking import CANDIDATES, CONFIDENT_COVERAGE, REGION_BOOST
from search_api.search.answer import answer_card
from search_api.search.fusion import (
    CONFIDENT_COSINE,
    NO_ANSWER_COSINE,
    SEMANTIC_K,
    facets_of,
    fuse,
    narrowed,
    split_filters,
)
from search_api.search.layer import SemanticLayer
from search_api.search.present import doc_url, shape_hit
from search_api.search.query import Analysis, analyse, suggest
from search_api.search.result_cache import ResultCache, request_key
from search_api.settings import Settings

if TYPE_CHECKING:
    from search_api.search.semantic import SemanticRetriever

FEW_RESULTS = 3  # at or below this many results the service also offers a suggestion
MAX_PAGE_SIZE = 50
LEXICAL_POOL = 100  # lexical candidates fused with the semantic ones
RELATED_CASES = 3
RELATED = Related(hits=3, per_article=RELATED_CASES)  # the cases shown beside the first three hits' articles


@dataclass
class SearchResponse:
    query: str
    total: int
    hits: list[dict[str, Any]]
    page: int = 1
    size: int = 10
    suggestion: str | None = None
    corrected: str | None = None  # the question as searched, when pinyin typos were fixed
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    took_ms: float = 0.0
    tokens: list[str] = field(default_factory=list)
    filler_only: bool = False
    confident: bool = False  # the first hit answers the question with some certainty
    query_id: str | None = None
    answer: dict[str, Any] | None = None  # the answer card (search.answer), only when confident
    topics: list[str] = field(default_factory=list)  # the question's topics (Lexicon.topics_for)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "size": self.size,
            "took_ms": self.took_ms,
            "suggestion": self.suggestion,
            "corrected": self.corrected,
            "tokens": self.tokens,
            "hits": self.hits,
            "facets": self.facets,
            "confident": self.confident,
            "answer": self.answer,
            **({"query_id": self.query_id} if self.query_id else {}),
            **({"message": "请描述具体问题，例如“公司拖欠工资怎么办”"} if self.filler_only else {}),
        }


def law_registry(engine: SearchEngine) -> TitleRegistry:
    """The titles of every whole law in the index (to resolve 《…》 and bare titles), read from light
    documents page by page: whole documents would load every law's text (~30 MB of the process's peak
    at ×20, kept as freed heap; docs/benchmarks.md, session 22)."""
    registry = TitleRegistry()
    offset = 0
    while True:
        query = SearchQuery(terms=[], filters={"kind": list(WHOLE_KINDS)}, size=500, offset=offset, light=True)
        result = engine.search(query)
        registry_from((h.doc for h in result.hits), registry)
        offset += len(result.hits)
        if not result.hits or offset >= result.total:
            return registry


class SearchService:
    def __init__(
        self,
        settings: Settings,
        engine: SearchEngine,
        lexicon: Lexicon | None = None,
        tokeniser: Tokeniser | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.lexicon = lexicon or load_lexicon(settings.lexicon_dir)
        self.tok = tokeniser or get_tokeniser(settings.lexicon_dir)
        self._registry: TitleRegistry | None = None
        self._lock = threading.Lock()
        # searches run ``search_slots`` at a time, the rest queued in arrival order (Settings.search_slots)
        self._slots = threading.BoundedSemaphore(settings.search_slots)
        self.semantic = SemanticLayer(settings, engine)
        # everyday questions recur across searches: each is analysed once (a few thousand in all)
        self._terms_of = functools.lru_cache(maxsize=8192)(self._analyse_terms)
        # and so do the questions typed: the next page, the filters, another worker asking the same
        self._analysed = functools.lru_cache(maxsize=4096)(self._analyse)
        self.before_search: Callable[[], None] | None = None  # e.g. LiveAdditions.sync: the store's additions
        self.results = ResultCache(int(settings.result_cache_mb * 1024 * 1024))  # questions asked again
        self._epoch = 0  # bumped by invalidate(): kept answers are for the index as it was

    # -- titles of the laws in the index, for citations typed into the search box
    @property
    def registry(self) -> TitleRegistry:
        with self._lock:
            if self._registry is None or not self._registry.by_key:
                self._registry = law_registry(self.engine)
                self._analysed.cache_clear()  # analyses resolved citations with the old titles
            return self._registry

    def invalidate(self) -> None:
        """Forget cached index facts after an ingest or a publish."""
        with self._lock:
            self._registry = None
            self._analysed.cache_clear()
            self._terms_of.cache_clear()
            self._epoch += 1

    def warm_up(self) -> int:
        """Warm the engine's per-term caches with the query terms of every lexicon word.

        Workers' questions reuse a few thousand words; computing their candidates
        once at start-up takes the slow first search off the request path.
        """
        words = {*self.lexicon.thesaurus, *self.lexicon.userdict}
        texts: dict[str, None] = {}
        for word in sorted(words):
            for term in analyse(word, self.lexicon, self.tok).terms:
                texts[term.text] = None
        return self.engine.warm(texts)

    def analyse(self, q: str) -> Analysis:
        """The question analysed; one object per text, shared by the searches asking it: read only."""
        if self.registry.by_key:  # (rebuilt first when missing, which clears the analyses)
            return self._analysed(q)
        return self._analyse(q)  # no law titles yet (an empty index): nothing to keep

    def _analyse(self, q: str) -> Analysis:
        return analyse(q, self.lexicon, self.tok, self.registry, self.settings.max_query_chars)

    def search(
        self,
        q: str,
        *,
        filters: dict[str, list[str]] | None = None,
        page: int = 1,
        size: int = 10,
        facets: bool = False,
        related: bool = True,
    ) -> SearchResponse:
        """Run one search. Raises ``EngineError`` subclasses; callers map them (503/400).

        A question asked again on the same index is answered from ``self.results`` (result_cache).
        """
        t0 = time.perf_counter()
        if self.before_search is not None:
            self.before_search()
        key = request_key(q, filters, page, size, facets, related)
        generation = self._generation()
        kept = self.results.get(generation, key) if generation is not None else None
        if kept is not None:
            kept.took_ms = round((time.perf_counter() - t0) * 1000, 2)
            return kept
        with self._slots:
            response = self._search(q, filters=filters, page=page, size=size, facets=facets, related=related)
        if generation is not None:
            self.results.put(generation, key, response)
        return response

    def _generation(self) -> tuple | None:
        """What the kept answers depend on (result_cache); ``None``: keep nothing (the engine can't say)."""
        if not self.results.enabled:
            return None
        try:
            engine = self.engine.generation()
        except Exception:  # the search itself will say what is wrong
            return None
        if engine is None:
            return None
        return self._epoch, engine, self.semantic.retriever is not None, self.semantic.additions

    def _search(
        self, q: str, *, filters: dict[str, list[str]] | None, page: int, size: int, facets: bool, related: bool
    ) -> SearchResponse:
        t0 = time.perf_counter()
        size = max(1, min(int(size), MAX_PAGE_SIZE))
        page = max(1, int(page))
        a = self.analyse(q)
        filters = {k: v for k, v in (filters or {}).items() if v}
        if not a.terms:
            return SearchResponse(
                query=a.raw,
                total=0,
                hits=[],
                page=page,
                size=size,
                filler_only=a.filler_only,
                suggestion=suggest(a, self.lexicon, self.tok) if a.raw else None,
                took_ms=round((time.perf_counter() - t0) * 1000, 2),
            )
        # a facet's filter narrows the question's answering set (fusion.NARROWING); the rest go to the engine
        where, narrow = split_filters(filters)
        boosts: dict[str, dict[str, float]] = {}
        if a.region and "region" not in where:
            boosts["region"] = {a.region: REGION_BOOST}
        offset = (page - 1) * size
        retriever = self.semantic.retriever
        found_related = None  # the related cases, when the engine found them with the page
        if retriever is None and not narrow:
            query = SearchQuery(
                terms=a.terms,
                filters=where,
                size=size,
                offset=offset,
                facets=facets,
                boosts=boosts,
                related=RELATED if related else None,
            )
            result = self.engine.search(query)
            hits, total, facet_counts, best_cos, cos = result.hits, result.total, result.facets, None, {}
            found_related = result.related
        elif retriever is None:
            # lexical only, narrowed: the answering set's documents (light ones), filtered. The engines rank
            # max(CANDIDATES, offset + size) candidates; asking CANDIDATES gives the set the first page counted
            result = self.engine.search(
                SearchQuery(terms=a.terms, filters=where, size=CANDIDATES, boosts=boosts, light=True)
            )
            kept = narrowed(result.hits, narrow)
            total, best_cos, cos = len(kept), None, {}
            facet_counts = facets_of(h.doc for h in kept) if facets else {}
            page_hits = kept[offset : offset + size]
            full = {d.id: d for d in self.engine.get_many([h.id for h in page_hits])}
            hits = [replace(h, doc=full[h.id]) for h in page_hits if h.id in full]
        else:
            # while ranking, no documents unless facets are counted or a filter narrows (then light ones;
            # a citation filter needs the full ones for the semantic side's candidates); the page's in full below
            light = "cites" not in where
            # both sides at once: the model run and the semantic candidates' documents are read while
            # the engine ranks (onnxruntime and SQLite release the GIL)
            vectors = self.semantic.pool.submit(self._semantic_side, retriever, a.semantic_text, light)
            pool = max(LEXICAL_POOL, offset + size)
            lexical = self.engine.search(
                SearchQuery(
                    terms=a.terms,
                    filters=where,
                    size=pool,
                    boosts=boosts,
                    light=light,
                    ids_only=light and not facets and not narrow,
                )
            )
            lead = lexical.hits[0] if lexical.hits else None
            if lead is not None and lead.doc is None:  # the fusion weighs a leading case differently
                lexical.hits[0] = replace(lead, doc=next(iter(self.engine.get_many([lead.id], light=True)), None))
            semantic, semantic_docs = vectors.result()
            fused = fuse(
                lexical.hits,
                semantic,
                semantic_docs,
                weight=self.settings.semantic_weight,
                boosts=boosts,
                filters=where,
                want_facets=facets,
                narrow=narrow,
            )
            hits, total, facet_counts = fused.hits[offset : offset + size], fused.total, fused.facets
            best_cos, cos = fused.best_cosine, fused.cosine
            if light:
                full = {d.id: d for d in self.engine.get_many([h.id for h in hits])}
                hits = [replace(h, doc=full[h.id]) for h in hits if h.id in full]
        if a.article_ids and page == 1:
            hits = self._pin_direct_hits(a.article_ids, hits, filters, size)
        terms = a.highlight_terms
        shaped = [shape_hit(h, terms) for h in hits]
        if related:
            self._attach_related_cases(shaped[: RELATED.hits], found_related)
        suggestion = suggest(a, self.lexicon, self.tok) if total <= FEW_RESULTS else None
        corrected = a.corrected if a.corrected != a.normalised else None
        confident = page == 1 and _confident(hits[0] if hits else None, best_cos, cos)
        # as the query log tags it (monitoring.tagging): tokens with their expansions, then the text
        topics = list(dict.fromkeys(self.lexicon.topics_for(a.tokens) + self.lexicon.topics_for(a.normalised)))
        answer = None
        if confident and hits[0].doc.kind == "article":
            answer = answer_card([h.doc for h in hits], a.terms, terms, topics, self._terms_of)
        return SearchResponse(
            query=a.raw,
            total=total,
            hits=shaped,
            page=page,
            size=size,
            suggestion=None if suggestion == corrected else suggestion,
            corrected=corrected,
            facets=facet_counts,
            took_ms=round((time.perf_counter() - t0) * 1000, 2),
            tokens=list(a.tokens),
            confident=confident,
            answer=answer,
            topics=topics,
        )

    def _semantic_side(
        self, retriever: SemanticRetriever, text: str, light: bool
    ) -> tuple[list[tuple[str, float]], dict[str, Document]]:
        """The documents nearest to ``text`` as ``(id, cosine)``, and those documents (light ones if
        ``light``): the fusion needs the ones the lexical side did not find."""
        found = retriever.semantic_scores(text, SEMANTIC_K)
        return found, {d.id: d for d in self.engine.get_many([i for i, _ in found], light=light)}

    def _analyse_terms(self, text: str) -> tuple[Term, ...]:
        """The weighted terms of another text (an everyday question), analysed like a query."""
        return tuple(analyse(text, self.lexicon, self.tok).terms)

    def _pin_direct_hits(self, ids: list[str], hits: list[SearchHit], filters: dict, size: int) -> list[SearchHit]:
        """Articles named in the query (劳动合同法第47条) come first, whatever their score."""
        named = [
            d
            for d in self.engine.get_many(ids)
            if all(str(getattr(d, k, "")) in v for k, v in filters.items() if k in ("kind", "region", "source_id"))
        ]
        rest = [h for h in hits if h.id not in set(ids)]
        top = [SearchHit(id=d.id, score=hits[0].score if hits else 1.0, doc=d) for d in named]
        return (top + rest)[:size]

    def citing_cases(self, article_id: str, size: int = RELATED_CASES) -> list[Document]:
        """Cases (published lawyer cases included) that cite an article, best sources first."""
        res = self.engine.search(SearchQuery(terms=[], filters={"cites": [article_id], "kind": ["case"]}, size=size))
        return [h.doc for h in res.hits]

    def _attach_related_cases(
        self, hits: list[dict[str, Any]], found: tuple[tuple[str, ...], list[SearchHit]] | None = None
    ) -> None:
        """Cases citing each top article, found with one engine request for all of them (or with the
        page, ``found``, when the engine looked up the same articles)."""
        articles = [h for h in hits if h["kind"] == "article"]
        if not articles:
            return
        ids = [h["id"] for h in articles]
        # asked again when articles were pinned to the top, or the engine leaves it to us
        same = found is not None and list(found[0]) == ids
        cases = found[1] if same else self.engine.related_cases(ids, RELATED)
        for h in articles:
            h["related_cases"] = [
                {"id": c.id, "title": c.doc.title, "url": doc_url(c.id), "case_number": c.doc.case_number}
                for c in cases
                if h["id"] in c.doc.cites
            ][:RELATED_CASES]


def _confident(top: SearchHit | None, best_cosine: float | None, cosine: dict[str, float]) -> bool:
    """Whether the first hit answers the question with some certainty.

    Lexically: it matches two thirds of the question's concepts. With the semantic layer: the
    nearest document must be about the question at all (else nonsense or another subject), and
    the first hit either matches the concepts or is itself very close in meaning.
    """
    if top is None or top.doc.kind not in ("article", "case"):
        return False
    if best_cosine is None:
        return top.coverage >= CONFIDENT_COVERAGE
    if best_cosine < NO_ANSWER_COSINE:
        return False
    return top.coverage >= CONFIDENT_COVERAGE or cosine.get(top.id, 0.0) >= CONFIDENT_COSINE
