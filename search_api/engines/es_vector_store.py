"""The Elasticsearch engine's document vectors (``SearchEngine.stores_vectors``): reading which
vectors each document has, setting them, and the kNN search (request shapes in ``es_vectors``).

A mixin of ``engines.elasticsearch.ElasticsearchEngine``, which gives it ``alias``, ``writer``
(``es_bulk.BulkWriter``), ``_scan`` (every hit of a query, a page at a time) and ``_hits`` (the hits
of one search).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from search_api.engines.es_bulk import batches, reason
from search_api.engines.es_query import hit_id
from search_api.engines.es_vectors import nearest_documents, update_action

log = logging.getLogger("search_api.engines.elasticsearch")


class VectorStore:
    stores_vectors = True

    def vector_keys(self) -> dict[str, str]:
        """doc id → the ``vec_key`` its vectors were made from ("" when it has none)."""
        hits = self._scan("vector keys", {"match_all": {}}, source=False, docvalue_fields=["vec_key"])
        return {h["_id"]: ((h.get("fields") or {}).get("vec_key") or [""])[0] for h in hits}

    def put_vectors(self, items: Iterable[tuple[str, str, Any, Any]]) -> int:
        """Set ``(doc_id, key, own vector, [question vectors])`` on existing documents; returns how many
        were set (a document deleted meanwhile is skipped)."""
        done = 0
        for batch in batches(items, max(1, self.writer.bulk_size // 4)):  # vectors make long lines
            lines = [(doc_id, *update_action(doc_id, key, own, asks)) for doc_id, key, own, asks in batch]
            for (doc_id, _, _), outcome in zip(lines, self.writer.send(self.alias, lines, True), strict=True):
                if "error" not in outcome:
                    done += 1
                elif outcome.get("status") != 404:
                    log.warning("vectors of %s not stored: %s", doc_id, reason({"error": outcome["error"]}))
        return done

    def nearest(self, vector: Any, k: int, extra_weight: float) -> list[tuple[str, float]]:
        """The ``k`` documents nearest to ``vector`` as ``(doc_id, score)``, scored as the in-process
        index scores them (see ``es_vectors``)."""

        def knn(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
            return [(hit_id(h), h) for h in self._hits("knn", {**body, "include_named_queries_score": True})]

        return nearest_documents(knn, [float(x) for x in vector], k, extra_weight)
