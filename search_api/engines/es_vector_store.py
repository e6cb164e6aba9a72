"""The Elasticsearch engine's vectors (``engines.es_vectors`` has the request shapes): reading the
vector keys, writing vectors, the nearest-neighbour search. A mixin of ``ElasticsearchEngine``, whose
client, alias, bulk writer and scans it uses."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from elasticsearch import NotFoundError

from search_api.engines.es_bulk import batches, errors, reason
from search_api.engines.es_vectors import combine as combine_vector_scores
from search_api.engines.es_vectors import incomplete, named_cosines, nearest_body, update_action

log = logging.getLogger("search_api.engines.elasticsearch")


class VectorStore:
    """Uses the engine's ``client``, ``alias``, ``writer`` (bulk), ``_scan`` and ``_ensure_alias``."""

    stores_vectors = True

    def vector_keys(self) -> dict[str, str]:
        """doc id → the ``vec_key`` its vectors were made from ("" when it has none)."""
        hits = self._scan("vector keys", {"match_all": {}}, source=False, docvalue_fields=["vec_key"])
        return {h["_id"]: ((h.get("fields") or {}).get("vec_key") or [""])[0] for h in hits}

    def put_vectors(self, items: Iterable[tuple[str, str, Any, Any, Any]]) -> int:
        """Set ``(doc_id, key, own vector, [question vectors], [their offsets])`` on existing documents;
        returns how many were set (a document deleted meanwhile is skipped)."""
        with errors("prepare vectors"):
            self._ensure_alias()
        done = 0
        for batch in batches(items, max(1, self.writer.bulk_size // 4)):  # vectors make long lines
            lines = [(item[0], *update_action(*item)) for item in batch]
            for (doc_id, _, _), outcome in zip(lines, self.writer.send(self.alias, lines, True), strict=True):
                if "error" not in outcome:
                    done += 1
                elif outcome.get("status") != 404:
                    log.warning("vectors of %s not stored: %s", doc_id, reason({"error": outcome["error"]}))
        return done

    def nearest(self, vector: Any, k: int, extra_weight: float) -> list[tuple[str, float]]:
        """The ``k`` documents nearest to ``vector`` as ``(doc_id, score)``, scored as the in-process
        index scores them (see ``es_vectors``)."""
        vec = [float(x) for x in vector]
        with errors("knn"):
            try:
                resp = self.client.search(index=self.alias, include_named_queries_score=True, **nearest_body(vec, k))
                found, asking = named_cosines(resp["hits"]["hits"])
                unsure = incomplete(found, asking, extra_weight, k)
                if unsure:
                    more = self.client.search(
                        index=self.alias, include_named_queries_score=True, **nearest_body(vec, k, unsure)
                    )
                    for doc_id, scores in named_cosines(more["hits"]["hits"])[0].items():
                        found.setdefault(doc_id, {}).update(scores)
            except NotFoundError:
                return []
        return combine_vector_scores(found, extra_weight, k)
