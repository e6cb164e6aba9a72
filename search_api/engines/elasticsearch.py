"""Elasticsearch engine: the same tokenised documents as the SQLite engine, in an ES index.

Written for the smallest Elasticsearch there is (the integ-test distribution
CI runs), so it works unchanged on a full cluster too:

* no analysis-common: documents and queries arrive tokenised, and the token
  fields use the core ``whitespace`` analyzer;
* no painless: candidates come back with each term's named-query score and are ranked
  in Python by ``engines.ranking.Scorer``, the formula the SQLite engine uses;
* no reindex / delete-by-query: rebuilds load a fresh index and swap an alias,
  deletions search for ids and bulk-delete them;
* no ``GET /``: readiness is ``/_cluster/health``.

The client is built by ``es_client.make_client``; the mapping and query shapes are in
``es_query``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, NotFoundError

from ingest.model import Document
from search_api.engines.base import (
    FACET_FIELDS,
    EngineUnavailable,
    IndexReport,
    QueryError,
    Related,
    SearchEngine,
    SearchHit,
    SearchQuery,
    SearchResult,
    validate_query,
)
from search_api.engines.doc_cache import DocumentCache
from search_api.engines.es_bulk import BulkWriter, batches, errors, reason
from search_api.engines.es_client import make_client
from search_api.engines.es_query import (
    INDEX_SETTINGS,
    MAPPING,
    browsed_hits,
    doc_value,
    every_case_request,
    hit_id,
    hits_of,
    light_document,
    light_request,
    page_searches,
    rank_candidates,
    search_body,
)
from search_api.engines.es_term_stats import TermStats
from search_api.engines.es_vector_store import VectorStore
from search_api.engines.polled import PolledGeneration
from search_api.engines.ranking import count_facets
from search_api.settings import Settings

log = logging.getLogger(__name__)

PAGE = 1000  # page size when listing the ids of one source file
FORCE_MERGE_TIMEOUT = 1800  # seconds a merge after a bulk load may take (×20: 73,000 documents)


class ElasticsearchEngine(VectorStore, TermStats, SearchEngine):
    """Search engine backed by one Elasticsearch index behind the alias ``{prefix}-docs``."""

    name = "elasticsearch"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.alias = f"{settings.es_index_prefix.lower()}-docs"
        self.client = make_client(settings)
        self.writer = BulkWriter(self.client, settings.es_bulk_size, settings.es_max_retries)
        self._mapping_current = False
        self._generation = PolledGeneration(self._searchable_state)
        self._documents = DocumentCache(self.generation)  # what searches ask again, per generation

    @classmethod
    def from_settings(cls, settings: Settings) -> ElasticsearchEngine:
        return cls(settings)

    # ---------------------------------------------------------------- indices

    def _new_index_name(self) -> str:
        return f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"

    def _create_index(self, name: str, aliases: dict[str, Any] | None = None) -> None:
        self.client.indices.create(index=name, settings=INDEX_SETTINGS, mappings=MAPPING, aliases=aliases)

    def _alias_targets(self) -> list[str]:
        """Concrete indices behind the alias ([] when it does not exist)."""
        try:
            return sorted(self.client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def _ensure_alias(self) -> None:
        """Create the first index lazily, already behind the alias (one atomic create)."""
        if self.client.indices.exists_alias(name=self.alias):
            if not self._mapping_current:
                # fields added since the index was made (e.g. tokens.questions) are mapped in place;
                # documents re-indexed afterwards (their content hash changed) fill them
                self.client.indices.put_mapping(index=self.alias, properties=MAPPING["properties"])
                self._mapping_current = True
            return
        # A fixed name makes two concurrent first writers converge on one index.
        first = f"{self.alias}-00000000000000000000"
        try:
            self._create_index(first, aliases={self.alias: {}})
        except ApiError as exc:
            if "resource_already_exists" not in reason(exc.body):
                raise

    def indices(self) -> list[str]:
        """Every index this engine's prefix owns (behind the alias or left by a failed rebuild)."""
        with errors("list indices"):
            try:
                return sorted(self.client.indices.get(index=f"{self.alias}-*", expand_wildcards="all").body)
            except NotFoundError:
                return []

    def drop_indices(self) -> None:
        """Delete all of this prefix's indices (tests, `labourkb es reset`). Names are
        listed first, so clusters with ``action.destructive_requires_name`` accept it."""
        names = self.indices()
        with errors("delete indices"):
            for batch in batches(names, 20):
                self.client.indices.delete(index=",".join(batch), ignore_unavailable=True)

    # ---------------------------------------------------------------- writing

    def index_documents(self, docs: Iterable[Document]) -> IndexReport:
        with errors("prepare index"):
            self._ensure_alias()
        # require_alias: if the alias vanished meanwhile, fail instead of letting
        # auto-create make a concrete index with a dynamic mapping under its name.
        return self.writer.index_into(self.alias, docs, require_alias=True)

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(str(i) for i in ids))
        if not ids or not self._alias_exists():
            return 0
        removed = 0
        for batch in batches(ids, self.writer.bulk_size):
            lines = [(i, json.dumps({"delete": {"_id": i}}, ensure_ascii=False), "") for i in batch]
            for outcome in self.writer.send(self.alias, lines, require_alias=True):
                removed += outcome.get("result") == "deleted"
        return removed

    def delete_by_source_path(self, source_path: str, keep: Iterable[str] = ()) -> int:
        keep = set(keep)
        stale = [i for i in self.ids_by_source_path(source_path) if i not in keep]
        return self.delete(stale)

    def refresh(self) -> None:
        with errors("refresh"):
            try:
                self.client.indices.refresh(index=self.alias)
            except NotFoundError:
                pass
        self._generation.expire()

    def generation(self) -> Any:
        """The indices behind the alias, each with its count of refreshes that changed what searches
        see: asked of the node at most once a second (``polled``), at once after this process refreshed."""
        return self._generation.get()

    def _searchable_state(self) -> tuple:
        found = self.client.indices.stats(
            index=self.alias, metric="refresh", filter_path="indices.*.primaries.refresh.external_total"
        )
        return tuple(sorted((k, v["primaries"]["refresh"]["external_total"]) for k, v in found["indices"].items()))

    def optimise(self, index: str | None = None) -> None:
        """One segment per shard: a search then walks each term's postings once instead of once per
        segment (×1 after ingest: 8 segments → 1, +16 % API throughput; docs/benchmarks.md). Waits
        for the merge; a failure only costs speed, so it is logged, not raised."""
        try:
            client = self.client.options(request_timeout=FORCE_MERGE_TIMEOUT)
            client.indices.forcemerge(index=index or self.alias, max_num_segments=1)
        except Exception as exc:
            log.warning("could not merge the index's segments (searches stay correct, a little slower): %s", exc)

    def rebuild(self, docs: Iterable[Document]) -> IndexReport:
        new = self._new_index_name()
        old: list[str] = []
        with errors("rebuild: create index"):
            self._create_index(new)
            # no refreshes while loading; one at the end
            self.client.indices.put_settings(index=new, settings={"index": {"refresh_interval": "-1"}})
        try:
            report = self.writer.index_into(new, docs, require_alias=False)
            with errors("rebuild: swap alias"):
                self.client.indices.put_settings(index=new, settings={"index": {"refresh_interval": None}})
                self.client.indices.refresh(index=new)
                self.optimise(new)
                old = self._alias_targets()
                actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}} for i in old]
                if not old and self.client.indices.exists(index=self.alias):
                    # a concrete index squats on the alias name: replace it in the same call
                    actions.append({"remove_index": {"index": self.alias}})
                actions.append({"add": {"index": new, "alias": self.alias}})
                self.client.indices.update_aliases(actions=actions)
                self._generation.expire()
        except BaseException:
            try:
                self.client.indices.delete(index=new, ignore_unavailable=True)
            except Exception:  # the original error matters more
                log.warning("could not delete half-built index %s", new)
            raise
        with errors("rebuild: delete old indices"):
            for name in old:
                self.client.indices.delete(index=name, ignore_unavailable=True)
        return report

    # ---------------------------------------------------------------- reading

    def _alias_exists(self) -> bool:
        with errors("check alias"):
            return bool(self.client.indices.exists_alias(name=self.alias))

    def search(self, query: SearchQuery) -> SearchResult:
        validate_query(query)
        searched = self._documents.without_negligible_terms(query, self.count, self._fetch_doc_freqs)
        body = search_body(searched, request_cache=self.settings.result_cache_mb > 0)
        if body is None or (query.terms and not searched.terms):
            return SearchResult(total=0, hits=[])
        with errors("search"):
            try:
                resp = self.client.search(index=self.alias, include_named_queries_score=bool(query.terms), **body)
            except NotFoundError:
                return SearchResult(total=0, hits=[])
        raw_hits = hits_of(resp)
        if "docvalue_fields" not in body:  # browsing: already in order, sources included
            facets = {
                name: {str(b["key"]): int(b["doc_count"]) for b in agg["buckets"] if b["key"] != ""}
                for name, agg in (resp.get("aggregations") or {}).items()
            }
            total = int(resp["hits"]["total"]["value"])
            return SearchResult(total=total, hits=browsed_hits(raw_hits, query.light), facets=facets)
        # the node sends ids and named scores; each candidate's doc values come from those kept
        values = self._documents.doc_values([hit_id(h) for h in raw_hits], self._fetch_values)
        for h in raw_hits:
            h["_id"] = doc_id = h["fields"]["id"][0]
            h["fields"] = values.get(doc_id) or {}
        ids, scores, shares, order = rank_candidates(raw_hits, query, searched)
        page = order[query.offset : query.offset + query.size]
        related = None
        if query.ids_only:  # the caller loads the documents it shows (1.1 ms a question for 100 light ones)
            hits = [SearchHit(id=ids[i], score=float(scores[i]), doc=None, coverage=float(shares[i])) for i in page]
            return SearchResult(total=len(order), hits=hits, facets=self._facets(query, raw_hits, order))
        if query.light:  # from the doc values the ranking asked for: no document fetched
            docs = {ids[i]: light_document(ids[i], raw_hits[i].get("fields") or {}) for i in page}
        else:
            leading = page[: query.related.hits] if query.related else []
            articles = tuple(ids[i] for i in leading if doc_value(raw_hits[i], "kind") == "article")
            docs, cases = self._page([ids[i] for i in page], query.related.query(list(articles)) if articles else None)
            related = (articles, cases) if query.related else None
        hits = [
            SearchHit(id=ids[i], score=float(scores[i]), doc=docs[ids[i]], coverage=float(shares[i]))
            for i in page
            if ids[i] in docs
        ]
        return SearchResult(total=len(order), hits=hits, facets=self._facets(query, raw_hits, order), related=related)

    @staticmethod
    def _facets(query: SearchQuery, raw_hits: list[dict[str, Any]], order: Any) -> dict[str, dict[str, int]]:
        """The answering set's facet counts, from its kept doc values, when the query asks for them."""
        if not query.facets:
            return {}
        return count_facets({f: (raw_hits[i].get("fields") or {}).get(f, ()) for f in FACET_FIELDS} for i in order)

    def _page(self, ids: list[str], related: SearchQuery | None) -> tuple[dict[str, Document], list[SearchHit]]:
        """A ranked page's documents by id and, for ``related``, its cases: one ``_msearch``."""
        if not ids:
            return {}, []
        with errors("page documents"):
            resp = self.client.msearch(searches=page_searches(self.alias, ids, related))
        answers = []
        for item in resp["responses"]:
            if "error" in item and item.get("status") != 404:  # a missing index has nothing to show
                detail = f"page documents: HTTP {item.get('status')} {reason(item)}"
                raise QueryError(detail) if item.get("status") == 400 else EngineUnavailable(detail)
            answers.append(item.get("hits", {}).get("hits", []))
        docs = {h["_id"]: Document.from_dict(h["_source"]) for h in answers[0]}
        return docs, browsed_hits(answers[1]) if related is not None else []

    def get(self, doc_id: str) -> Document | None:
        with errors("get"):
            try:
                resp = self.client.get(index=self.alias, id=str(doc_id))
            except NotFoundError:
                return None
        return Document.from_dict(resp["_source"])

    def get_many(self, ids: list[str], light: bool = False) -> list[Document]:
        ids = [str(i) for i in ids]
        if light:  # from the kept doc values
            values = self._documents.doc_values(ids, self._fetch_values)
            return [light_document(i, values[i]) for i in ids if i in values]
        return self._documents.get_many(ids, self._fetch)

    def related_cases(self, article_ids: list[str], related: Related) -> list[SearchHit]:
        return self._documents.related_cases(article_ids, related, super().related_cases, self._every_case)

    def _every_case(self, limit: int) -> list[SearchHit] | None:
        """Every case, without its texts, in browse order; None when there are more than ``limit``."""
        hits = self._hits("cases", every_case_request(limit))
        return None if len(hits) > limit else browsed_hits(hits)

    def _fetch(self, ids: list[str]) -> list[Document]:
        with errors("mget"):
            try:
                resp = self.client.mget(index=self.alias, ids=ids)
            except NotFoundError:
                return []
        return [Document.from_dict(d["_source"]) for d in resp["docs"] if d.get("found")]

    def _fetch_values(self, ids: list[str]) -> list[tuple[str, dict[str, list[Any]]]]:
        """``(id, doc values)`` of the documents of ``ids`` (``es_query.light_request``)."""
        return [(hit_id(h), h.get("fields") or {}) for h in self._hits("doc values", light_request(ids))]

    def _hits(self, action: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The hits of one ``_search`` (none when the index is missing)."""
        with errors(action):
            try:
                return hits_of(self.client.search(index=self.alias, **body))
            except NotFoundError:
                return []

    def _scan(self, action: str, query: dict[str, Any], **request: Any) -> Iterator[dict[str, Any]]:
        """Every hit of ``query``, in id order, a page at a time (nothing when the index is missing)."""
        after: list[Any] | None = None
        while True:
            with errors(action):
                try:
                    resp = self.client.search(
                        index=self.alias, query=query, sort=[{"id": "asc"}], size=PAGE, search_after=after, **request
                    )
                except NotFoundError:
                    return
            page = resp["hits"]["hits"]
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["sort"]

    def ids_by_source_path(self, source_path: str) -> dict[str, str]:
        # searches only see refreshed documents; a just-indexed sibling must count
        self.refresh()
        hits = self._scan("ids by source path", {"term": {"source_path": source_path}}, source=["content_hash"])
        return {h["_id"]: (h.get("_source") or {}).get("content_hash", "") for h in hits}

    def all_documents(self) -> Iterator[Document]:
        for h in self._scan("all documents", {"match_all": {}}):
            yield Document.from_dict(h["_source"])

    def count(self) -> int:
        with errors("count"):
            try:
                return int(self.client.count(index=self.alias)["count"])
            except NotFoundError:
                return 0

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"ok": False, "engine": self.name, "alias": self.alias}
        try:
            h = self.client.cluster.health(timeout="2s")
            info["status"] = h["status"]
            info["ok"] = h["status"] in ("green", "yellow")
            info["index"], info["documents"] = None, 0
            try:  # the index behind the alias and its size in one request (no hit: ask for the name)
                found = self.client.search(index=self.alias, size=1, stored_fields=["_none_"], track_total_hits=True)
                hits = found["hits"]["hits"]
                info["index"] = hits[0]["_index"] if hits else (self._alias_targets() or [None])[0]
                info["documents"] = int(found["hits"]["total"]["value"])
            except NotFoundError:
                pass
        except Exception as exc:  # health must never raise
            info["error"] = f"{type(exc).__name__}: {exc}"
        return info

    def close(self) -> None:
        self.client.close()
