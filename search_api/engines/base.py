"""The engine contract: what both the embedded SQLite engine and Elasticsearch implement.

Engines never analyse text themselves. Documents arrive already tokenised
(``Document.tokens``) and queries arrive as weighted terms, both produced by the
same ``ingest.normalise`` → ``ingest.tokenise`` path, so the two engines agree.
Snippets and highlights are computed afterwards on the original text
(``search_api.search.highlight``), not by the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest.model import Document
from search_api.errors import AppError

# Token fields every engine indexes, with their default BM25 weights.
# ``questions``: the everyday questions an article answers (ingest.everyday), in workers' words.
FIELD_WEIGHTS: dict[str, float] = {"title": 6.0, "keywords": 3.0, "body": 1.0, "questions": 0.5}

# Keyword fields that can be filtered on and faceted.
FILTER_FIELDS = ("kind", "doc_type", "source_id", "region", "level", "cites", "topics")
FACET_FIELDS = ("kind", "source_title", "region", "topics")
# What a light document holds: what ranking, boosts and facets read (no text, no citations)
LIGHT_FIELDS = ("id", "kind", "prior", "doc_type", "source_id", "source_title", "region", "level", "topics")
MAX_WINDOW = 10_000  # deepest offset + size a query may ask for (Elasticsearch's max_result_window)


class EngineError(AppError):
    """Base class of engine failures. ``message`` is safe to show to users; ``detail`` is for logs."""

    status = 500
    message = "搜索引擎出错"

    def __init__(self, detail: str = ""):
        super().__init__(detail=detail)
        self.args = (detail or self.message,)  # str(exc) is the technical detail, for logs and the CLI


class EngineUnavailable(EngineError):
    """The engine cannot be reached (Elasticsearch down, index file missing …)."""

    status = 503
    message = "搜索服务暂时不可用，请稍后再试"


class IndexOutdated(EngineUnavailable):
    """The index was built by an older version (its fields differ): rebuild it from the corpus."""

    message = "搜索索引的格式已更新，请管理员运行 labourkb rebuild 重建索引"


class QueryError(EngineError):
    """The query itself is unusable (empty after cleaning, bad filter value …)."""

    status = 400
    message = "查询无效"


@dataclass
class Term:
    """One query token with its weight (typed words 1.0, thesaurus expansions less).

    ``group`` numbers the typed concept the term comes from: a word, its sub-words
    and its expansions share a group (see ``engines.ranking``).
    """

    text: str
    weight: float = 1.0
    group: int = 0


@dataclass
class SearchQuery:
    """An analysed, engine-neutral query."""

    terms: list[Term]
    filters: dict[str, list[str]] = field(default_factory=dict)
    size: int = 10
    offset: int = 0
    facets: bool = False
    # multiply the score of documents whose field has one of these values
    boosts: dict[str, dict[str, float]] = field(default_factory=dict)
    # hits carry light documents (``LIGHT_FIELDS`` only): for callers that rank many candidates
    # and show a few (the fused search loads the page's full documents with ``get_many``), and
    # for browsing many without their texts (the law titles: ``search.service.law_registry``)
    light: bool = False
    # hits carry no document at all (``doc`` is None): for the fused search when it counts no
    # facets (it needs only ids and scores, and loads the page's documents itself); an engine
    # that cannot skip the documents returns light ones
    ids_only: bool = False
    # also the cases citing the page's leading articles (``SearchResult.related``), for engines
    # that can find them in the same round trip as the page; the others leave it to the caller
    related: Related | None = None


@dataclass(frozen=True)
class Related:
    """Which cases a page shows beside its leading articles: those citing the articles among its
    first ``hits`` hits, in browse order (best sources first), ``per_article`` of them for each."""

    hits: int = 3
    per_article: int = 3

    def query(self, article_ids: list[str]) -> SearchQuery:
        """The browse query for these articles' cases (a case citing several counts for each: ×4)."""
        ids = list(article_ids)
        return SearchQuery(terms=[], filters={"cites": ids, "kind": ["case"]}, size=self.per_article * len(ids) * 4)


def validate_query(query: SearchQuery) -> None:
    """Refuse what no engine can answer, with the same Chinese message on every engine."""
    unknown = [f for f in query.filters if f not in FILTER_FIELDS and f != "id"]
    if unknown:
        raise QueryError(f"不能按字段 {unknown[0]!r} 筛选")
    if query.size < 0 or query.offset < 0:
        raise QueryError("size 和 offset 不能为负数")
    if query.offset + query.size > MAX_WINDOW:
        raise QueryError(f"最多只能翻到第 {MAX_WINDOW} 条结果")


@dataclass
class SearchHit:
    """One ranked document. ``doc`` is the stored document (original text included), light for a
    ``SearchQuery.light`` search, None for an ``ids_only`` one."""

    id: str
    score: float
    doc: Document | None
    coverage: float = 1.0  # share of the question's typed concepts the document matched


@dataclass
class SearchResult:
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    # for ``SearchQuery.related``: the article ids looked up and the hits of ``Related.query`` for
    # them (their documents without text or tokens); None when the engine did not look
    related: tuple[tuple[str, ...], list[SearchHit]] | None = None


@dataclass
class IndexReport:
    """What an ``index_documents`` call did: ids indexed and ``(id, reason)`` failures."""

    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


class SearchEngine(ABC):
    """A search backend. Implementations: ``sqlite.SqliteEngine``, ``elasticsearch.ElasticsearchEngine``."""

    name: str = "base"

    @abstractmethod
    def index_documents(self, docs: Iterable[Document]) -> IndexReport:
        """Add or replace documents by id. Re-indexing the same id never duplicates it."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; returns how many existed. Unknown ids are ignored."""

    @abstractmethod
    def delete_by_source_path(self, source_path: str, keep: Iterable[str] = ()) -> int:
        """Remove documents that came from ``source_path`` except ids in ``keep``.

        Used when a changed file yields fewer documents than before.
        """

    @abstractmethod
    def refresh(self) -> None:
        """Make everything indexed so far visible to searches."""

    @abstractmethod
    def rebuild(self, docs: Iterable[Document]) -> IndexReport:
        """Replace the whole index atomically with ``docs``.

        Searches keep seeing the old index until the new one is complete.
        """

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """Rank documents with ``engines.ranking.Scorer`` over per-term BM25 scores.

        A document matches when any term matches; ``filters`` restrict by
        keyword fields (values OR-ed within a field, fields AND-ed). Every engine calls
        ``validate_query`` first.
        """

    @abstractmethod
    def get(self, doc_id: str) -> Document | None:
        """Return one stored document, or None."""

    def get_many(self, ids: list[str], light: bool = False) -> list[Document]:
        """Return the stored documents for ``ids`` that exist, in the given order; ``light``: only
        their ``LIGHT_FIELDS`` (engines that can, skip loading the rest)."""
        docs = (self.get(i) for i in ids)
        return [d for d in docs if d is not None]

    def related_cases(self, article_ids: list[str], related: Related) -> list[SearchHit]:
        """The cases citing ``article_ids`` as ``related.query`` finds them (engines may answer it
        from a cache of their own; the order and the hits' ``id``, ``title``, ``case_number`` and
        ``cites`` must be the same)."""
        return self.search(related.query(article_ids)).hits

    @abstractmethod
    def ids_by_source_path(self, source_path: str) -> dict[str, str]:
        """Map id → content_hash of documents from one source file (for change detection)."""

    @abstractmethod
    def all_documents(self) -> Iterator[Document]:
        """Every stored document, in a stable order (for building what sits beside the index)."""

    @abstractmethod
    def count(self) -> int:
        """Number of documents in the index."""

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """``{"ok": bool, "engine": name, ...}``; never raises."""

    # Engines that hold document vectors themselves (Elasticsearch: dense_vector + kNN) say so and
    # implement ``vector_keys``, ``put_vectors`` and ``nearest`` (see engines.es_vectors); for the
    # others the semantic layer keeps its own in-process index.
    stores_vectors: bool = False

    def optimise(self) -> None:  # noqa: B027 - optional hook: most engines have nothing to do
        """After a bulk load (ingest, vectors written): make the index cheap to search. Never raises."""

    def generation(self) -> Any:
        """A value that changes whenever any process changes what searches find (kept answers are
        keyed on it), or ``None`` when the engine has no cheap one (then no answer is kept)."""
        return None

    def warm(self, texts: Iterable[str]) -> int:
        """Prepare per-term caches for these query terms (engines without caches do nothing)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook: engines without connections keep the default
        """Release connections."""
