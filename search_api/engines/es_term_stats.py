"""The Elasticsearch engine's term frequencies: how many documents hold each of a question's terms, so
that on a large index the negligible ones are left out of the candidates request as the SQLite engine
leaves them out (``ranking.negligible_terms``, ``DocumentCache.without_negligible_terms``).

A mixin of ``engines.elasticsearch.ElasticsearchEngine``, which gives it ``client``, ``alias``,
``count`` and ``_documents`` (the ``DocumentCache`` that keeps the frequencies per index generation).
"""

from __future__ import annotations

from collections.abc import Iterable

from elasticsearch import NotFoundError

from search_api.engines.es_bulk import errors
from search_api.engines.es_query import doc_freq_request, doc_freqs


class TermStats:
    def warm(self, texts: Iterable[str]) -> int:
        """Keep these query terms' frequencies (an index of more than 20,000 documents: see
        ``DocumentCache.without_negligible_terms``); a thousand terms a request."""
        return self._documents.warm_doc_freqs(list(texts), self.count, self._fetch_doc_freqs)

    def _fetch_doc_freqs(self, texts: list[str]) -> dict[str, int]:
        """Each text's document frequency, from one ``_termvectors`` request (``es_query.doc_freq_request``)."""
        with errors("term statistics"):
            try:
                resp = self.client.termvectors(index=self.alias, **doc_freq_request(texts))
            except NotFoundError:
                return {}
        return doc_freqs(resp, texts)
