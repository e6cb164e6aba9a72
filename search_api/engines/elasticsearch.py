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
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from elasticsearch import ApiError, NotFoundError, TransportError

from ingest.model import Document
from search_api.engines.base import (
    FACET_FIELDS,
    EngineUnavailable,
    IndexReport,
    QueryError,
    SearchEngine,
    SearchHit,
    SearchQuery,
    SearchResult,
    validate_query,
)
from search_api.engines.es_client import make_client
from search_api.engines.es_query import INDEX_SETTINGS, MAPPING, query_texts, search_body, term_names
from search_api.engines.ranking import BOOST_FIELDS, Scorer, answering, count_facets
from search_api.settings import Settings

log = logging.getLogger(__name__)

PAGE = 1000  # page size when listing the ids of one source file


@contextmanager
def _errors(action: str) -> Iterator[None]:
    """Map client exceptions to the engine's errors (503-like vs 400-like)."""
    try:
        yield
    except ApiError as exc:
        status = exc.meta.status if exc.meta else 0
        detail = f"{action}: HTTP {status} {_reason(exc.body) or exc.message}"
        if status == 400:
            raise QueryError(detail) from exc
        raise EngineUnavailable(detail) from exc
    except TransportError as exc:  # connection refused, timeouts, TLS, serialisation
        raise EngineUnavailable(f"{action}: {type(exc).__name__}: {exc}") from exc


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            root = (err.get("root_cause") or [err])[0]
            return f"{root.get('type', '')}: {root.get('reason', '')}".strip(": ")
        if err:
            return str(err)
    return ""


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class ElasticsearchEngine(SearchEngine):
    """Search engine backed by one Elasticsearch index behind the alias ``{prefix}-docs``."""

    name = "elasticsearch"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.alias = f"{settings.es_index_prefix.lower()}-docs"
        self.bulk_size = max(1, settings.es_bulk_size)
        self.max_retries = max(0, settings.es_max_retries)
        self.backoff = 0.5  # seconds before the first bulk retry, doubled each time
        self.client = make_client(settings)
        self._mapping_current = False

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
            if "resource_already_exists" not in _reason(exc.body):
                raise

    def indices(self) -> list[str]:
        """Every index this engine's prefix owns (behind the alias or left by a failed rebuild)."""
        with _errors("list indices"):
            try:
                return sorted(self.client.indices.get(index=f"{self.alias}-*", expand_wildcards="all").body)
            except NotFoundError:
                return []

    def drop_indices(self) -> None:
        """Delete all of this prefix's indices (tests, `labourkb es reset`). Names are
        listed first, so clusters with ``action.destructive_requires_name`` accept it."""
        names = self.indices()
        with _errors("delete indices"):
            for batch in _batches(names, 20):
                self.client.indices.delete(index=",".join(batch), ignore_unavailable=True)

    # ---------------------------------------------------------------- writing

    def _bulk(self, index: str, lines: list[tuple[str, str, str]], require_alias: bool) -> list[dict[str, Any]]:
        """Send (id, action, source) lines with retries; return the per-item results in order.

        Items rejected with 429 are retried; other item errors are returned as is.
        Raises EngineUnavailable when the batch still cannot be sent.
        """
        results: dict[int, dict[str, Any]] = {}
        pending = list(range(len(lines)))
        attempt = 0
        while True:
            body: list[str] = []
            for i in pending:
                body.append(lines[i][1])
                if lines[i][2]:
                    body.append(lines[i][2])
            error: Exception | None = None
            try:
                resp = self.client.bulk(operations=body, index=index, require_alias=require_alias or None)
            except ApiError as exc:
                status = exc.meta.status if exc.meta else 0
                if status != 429 and status < 500:
                    with _errors("bulk"):
                        raise
                error = exc
            except TransportError as exc:
                error = exc
            else:
                retry = []
                for i, item in zip(pending, resp["items"], strict=True):
                    outcome = next(iter(item.values()))
                    if outcome.get("status") == 429:
                        retry.append(i)
                    results[i] = outcome
                pending = retry
                if not pending:
                    return [results[i] for i in range(len(lines))]
            if attempt >= self.max_retries:
                if error is not None:
                    with _errors("bulk"):
                        raise error
                return [results[i] for i in range(len(lines))]
            delay = self.backoff * 2**attempt
            log.warning("bulk of %d items failed (%s); retry in %.1f s", len(pending), error or "429", delay)
            time.sleep(delay)
            attempt += 1

    def _index_into(self, index: str, docs: Iterable[Document], require_alias: bool) -> IndexReport:
        report = IndexReport()
        for batch in _batches(docs, self.bulk_size):
            lines: list[tuple[str, str, str]] = []
            for doc in batch:
                if isinstance(doc, dict):
                    doc = Document.from_dict(doc)
                doc_id = str(getattr(doc, "id", "") or "")
                try:
                    if not doc_id:
                        raise ValueError("文档缺少 id")
                    if isinstance(doc.prior, (int, float)) and doc.prior < 0:
                        # function_score would turn it into a negative score, which Lucene rejects
                        raise ValueError(f"prior 不能为负数: {doc.prior}")
                    source = json.dumps(doc.as_dict(), ensure_ascii=False, allow_nan=False)
                except (ValueError, TypeError) as exc:
                    report.failed.append((doc_id, str(exc)))
                    continue
                action = json.dumps({"index": {"_id": doc_id}}, ensure_ascii=False)
                lines.append((doc_id, action, source))
            if not lines:
                continue
            for (doc_id, _, _), outcome in zip(lines, self._bulk(index, lines, require_alias), strict=True):
                if "error" in outcome:
                    report.failed.append((doc_id, _reason({"error": outcome["error"]}) or str(outcome["error"])))
                else:
                    report.indexed += 1
        return report

    def index_documents(self, docs: Iterable[Document]) -> IndexReport:
        with _errors("prepare index"):
            self._ensure_alias()
        # require_alias: if the alias vanished meanwhile, fail instead of letting
        # auto-create make a concrete index with a dynamic mapping under its name.
        return self._index_into(self.alias, docs, require_alias=True)

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(str(i) for i in ids))
        if not ids or not self._alias_exists():
            return 0
        removed = 0
        for batch in _batches(ids, self.bulk_size):
            lines = [(i, json.dumps({"delete": {"_id": i}}, ensure_ascii=False), "") for i in batch]
            for outcome in self._bulk(self.alias, lines, require_alias=True):
                removed += outcome.get("result") == "deleted"
        return removed

    def delete_by_source_path(self, source_path: str, keep: Iterable[str] = ()) -> int:
        keep = set(keep)
        stale = [i for i in self.ids_by_source_path(source_path) if i not in keep]
        return self.delete(stale)

    def refresh(self) -> None:
        with _errors("refresh"):
            try:
                self.client.indices.refresh(index=self.alias)
            except NotFoundError:
                pass

    def rebuild(self, docs: Iterable[Document]) -> IndexReport:
        new = self._new_index_name()
        old: list[str] = []
        with _errors("rebuild: create index"):
            self._create_index(new)
            # no refreshes while loading; one at the end
            self.client.indices.put_settings(index=new, settings={"index": {"refresh_interval": "-1"}})
        try:
            report = self._index_into(new, docs, require_alias=False)
            with _errors("rebuild: swap alias"):
                self.client.indices.put_settings(index=new, settings={"index": {"refresh_interval": None}})
                self.client.indices.refresh(index=new)
                old = self._alias_targets()
                actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}} for i in old]
                if not old and self.client.indices.exists(index=self.alias):
                    # a concrete index squats on the alias name: replace it in the same call
                    actions.append({"remove_index": {"index": self.alias}})
                actions.append({"add": {"index": new, "alias": self.alias}})
                self.client.indices.update_aliases(actions=actions)
        except BaseException:
            try:
                self.client.indices.delete(index=new, ignore_unavailable=True)
            except Exception:  # the original error matters more
                log.warning("could not delete half-built index %s", new)
            raise
        with _errors("rebuild: delete old indices"):
            for name in old:
                self.client.indices.delete(index=name, ignore_unavailable=True)
        return report

    # ---------------------------------------------------------------- reading

    def _alias_exists(self) -> bool:
        with _errors("check alias"):
            return bool(self.client.indices.exists_alias(name=self.alias))

    def search(self, query: SearchQuery) -> SearchResult:
        validate_query(query)
        body = search_body(query)
        if body is None:
            return SearchResult(total=0, hits=[])
        with _errors("search"):
            try:
                resp = self.client.search(index=self.alias, include_named_queries_score=bool(query.terms), **body)
            except NotFoundError:
                return SearchResult(total=0, hits=[])
        facets = {
            name: {str(b["key"]): int(b["doc_count"]) for b in agg["buckets"] if b["key"] != ""}
            for name, agg in (resp.get("aggregations") or {}).items()
        }
        total = int(resp["hits"]["total"]["value"])
        raw_hits = resp["hits"]["hits"]
        if "docvalue_fields" not in body:  # browsing: already in order, sources included
            hits = [
                SearchHit(
                    id=h["_id"], score=float(h["_source"].get("prior") or 0.0), doc=Document.from_dict(h["_source"])
                )
                for h in raw_hits
            ]
            return SearchResult(total=total, hits=hits, facets=facets)
        kept = answering((s, doc_id) for doc_id, s in self._rank(raw_hits, query))
        page = kept[query.offset : query.offset + query.size]
        docs = {d.id: d for d in self.get_many([doc_id for _, doc_id in page])}
        hits = [SearchHit(id=i, score=s, doc=docs[i]) for s, i in page if i in docs]
        if query.facets:
            fields = {h["_id"]: h.get("fields") or {} for h in raw_hits}
            facets = count_facets({f: fields[i].get(f, ()) for f in FACET_FIELDS} for _, i in kept)
        return SearchResult(total=len(kept), hits=hits, facets=facets)

    @staticmethod
    def _rank(raw_hits: list[dict[str, Any]], query: SearchQuery) -> list[tuple[str, float]]:
        """Final order by the shared formula, from each term's own score (boost divided out)."""
        weights = query_texts(query)
        by_name = {name: (text, weights[text]) for text, name in term_names(weights).items()}
        scorer = Scorer(query)
        ranked = []
        for h in raw_hits:
            term_scores = {}
            for name, term_score in (h.get("matched_queries") or {}).items():
                text, weight = by_name[name]
                term_scores[text] = float(term_score) / weight
            f = h.get("fields") or {}
            fields = tuple((f.get(k) or [""])[0] for k in BOOST_FIELDS)
            prior = float((f.get("prior") or [1.0])[0])
            ranked.append((h["_id"], scorer(term_scores, prior, fields)))
        ranked.sort(key=lambda r: (-r[1], r[0]))
        return ranked

    def get(self, doc_id: str) -> Document | None:
        with _errors("get"):
            try:
                resp = self.client.get(index=self.alias, id=str(doc_id))
            except NotFoundError:
                return None
        return Document.from_dict(resp["_source"])

    def get_many(self, ids: list[str]) -> list[Document]:
        ids = [str(i) for i in ids]
        if not ids:
            return []
        with _errors("mget"):
            try:
                resp = self.client.mget(index=self.alias, ids=ids)
            except NotFoundError:
                return []
        return [Document.from_dict(d["_source"]) for d in resp["docs"] if d.get("found")]

    def ids_by_source_path(self, source_path: str) -> dict[str, str]:
        # searches only see refreshed documents; a just-indexed sibling must count
        self.refresh()
        found: dict[str, str] = {}
        after: list[Any] | None = None
        with _errors("ids by source path"):
            while True:
                try:
                    resp = self.client.search(
                        index=self.alias,
                        query={"term": {"source_path": source_path}},
                        source=["content_hash"],
                        sort=[{"id": "asc"}],
                        size=PAGE,
                        search_after=after,
                    )
                except NotFoundError:
                    return found
                page = resp["hits"]["hits"]
                for h in page:
                    found[h["_id"]] = (h.get("_source") or {}).get("content_hash", "")
                if len(page) < PAGE:
                    return found
                after = page[-1]["sort"]

    def count(self) -> int:
        with _errors("count"):
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
            targets = self._alias_targets()
            info["index"] = targets[0] if targets else None
            info["documents"] = self.count() if targets else 0
        except Exception as exc:  # health must never raise
            info["error"] = f"{type(exc).__name__}: {exc}"
        return info

    def close(self) -> None:
        self.client.close()
