"""Values kept per index generation, least recently used dropped first.

The shared mechanism of the facet counts (engines.facets.FacetCache) and the answers to questions
asked again (search.result_cache.ResultCache): a value is only ever served for the generation it
was computed on. A lookup with a different generation empties the store and adopts it; a value
computed on a generation since replaced (a slow search begun before a write) is not kept. The
store stays within ``budget``, each value costing ``cost(value)`` (1: a count of entries).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

V = TypeVar("V")


class GenerationLRU(Generic[V]):
    def __init__(self, budget: int, cost: Callable[[V], int] = lambda _: 1):
        self.budget = max(0, int(budget))
        self.cost = cost
        self.generation: Hashable = None
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _adopt(self, generation: Hashable) -> None:
        if generation != self.generation:
            self._entries.clear()
            self.used = 0
            self.generation = generation

    def get(self, generation: Hashable, key: Hashable) -> V | None:
        with self._lock:
            self._adopt(generation)
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def get_many(self, generation: Hashable, keys: Sequence[Hashable]) -> dict[Hashable, V]:
        """``get`` of each key under one lock: the kept ones by key."""
        with self._lock:
            self._adopt(generation)
            entries, found = self._entries, {}
            for key in keys:
                value = entries.get(key)
                if value is not None:
                    entries.move_to_end(key)
                    found[key] = value
            self.hits += len(found)
            self.misses += len(keys) - len(found)
            return found

    def put(self, generation: Hashable, key: Hashable, value: V) -> None:
        cost = self.cost(value)
        if cost > self.budget:
            return
        with self._lock:
            if generation != self.generation:  # computed on an index since replaced: not kept
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self.used -= self.cost(old)
            self._entries[key] = value
            self.used += cost
            while self.used > self.budget:
                _, dropped = self._entries.popitem(last=False)
                self.used -= self.cost(dropped)
