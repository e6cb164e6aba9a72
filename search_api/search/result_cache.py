"""Answers to questions asked again, kept per index generation.

Workers ask the same few hundred questions (a wage-arrears campaign before the Spring Festival
sends thousands of "老板拖欠工资怎么办"): the second asking of a question with the same filters and
page gets the first one's answer instead of ranking again. An answer is only ever served for the
index it was computed on:

- the key of a generation is the engine's own (``SearchEngine.generation``: SQLite's version row,
  bumped by every write of any process, and its live file), the semantic layer's state (ready or
  not, and how many times documents were added to its vectors) and the service's epoch (bumped by
  ``SearchService.invalidate``: an ingest, a publish, approved additions in this process);
- a new generation empties the cache;
- when the engine cannot say (the file does not answer) nothing is kept or served: the search
  itself runs and says what is wrong;
- on Elasticsearch the generation is the indices behind the alias and their counts of refreshes
  that changed what searches see, asked of the node at most once a second (``engines.polled``:
  the node itself makes a write searchable only at its next refresh, once a second). Asked on
  every search it cost a fifth of the node's throughput (docs/benchmarks.md, session 16).

Entries are the response's JSON, zlib-compressed (about 3 KB each), bounded in bytes
(``LABOURKB_RESULT_CACHE_MB``; 0 turns the cache off), least recently used dropped first. A hit
is rebuilt as a new ``SearchResponse``, so callers may change theirs (the query log sets
``query_id``). What is not cached: the query-log record — every search, answered from here or
not, is logged — and ``took_ms``, which a hit reports as its own time.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Hashable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import orjson

from search_api.lru import GenerationLRU

if TYPE_CHECKING:
    from search_api.search.service import SearchResponse

NOT_STORED = ("took_ms", "query_id")


class ResultCache(GenerationLRU[bytes]):
    """Answers as compressed JSON, within ``max_bytes`` (search_api.lru keeps them per generation)."""

    def __init__(self, max_bytes: int):
        super().__init__(max_bytes, cost=len)

    @property
    def enabled(self) -> bool:
        return self.budget > 0

    @property
    def bytes(self) -> int:
        return self.used

    def get(self, generation: Hashable, key: Hashable) -> SearchResponse | None:
        if not self.enabled:
            return None
        blob = super().get(generation, key)
        return None if blob is None else _response(orjson.loads(zlib.decompress(blob)))

    def put(self, generation: Hashable, key: Hashable, response: SearchResponse) -> None:
        if not self.enabled:
            return
        try:  # orjson writes the dataclass itself (no copy first); NOT_STORED go on reading
            blob = zlib.compress(orjson.dumps(response), 1)
        except TypeError:  # something not JSON in the answer: not kept, answered as usual
            return
        super().put(generation, key, blob)


def request_key(q: str, filters: dict[str, list[str]] | None, page: int, size: int, facets: bool, related: bool):
    """What makes two searches the same: the text as typed and every parameter."""
    canonical = tuple(sorted((k, tuple(v)) for k, v in (filters or {}).items() if v))
    return (q, canonical, int(page), int(size), bool(facets), bool(related))


@functools.cache
def _stored_fields() -> tuple[type[SearchResponse], frozenset[str]]:
    from search_api.search.service import SearchResponse

    return SearchResponse, frozenset({f.name for f in fields(SearchResponse)}.difference(NOT_STORED))


def _response(data: dict[str, Any]) -> SearchResponse:
    response_class, known = _stored_fields()
    return response_class(**{k: v for k, v in data.items() if k in known})
