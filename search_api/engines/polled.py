"""A generation asked of a remote engine at most once a period (``SearchEngine.generation``).

The result cache (``search.result_cache``) keeps an answer for one generation of the index. On
SQLite that is a row read per search (0.02 ms). On Elasticsearch it is a stats request, and asking
it on every search cost a fifth of the node's throughput (docs/benchmarks.md, session 16). But
Elasticsearch itself makes a write searchable only at the index's next refresh, once a second by
default: a search there may already miss what was written in the last second. Asking the
generation once a second keeps that promise: an answer kept before another process's write is
served for at most ``period`` after the write became searchable (one ``period`` and the fetch's
duration at worst). A write by this process expires the value at once (``expire``).

While one thread fetches, the others use the value being replaced, so no search waits for
another's request; when there is no value (the first ask, a failed fetch), every caller fetches.
A fetch that raises leaves no value: nothing is kept or served until the engine answers again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

PERIOD_S = 1.0  # Elasticsearch's default refresh interval


class PolledGeneration:
    def __init__(self, fetch: Callable[[], Hashable], period: float = PERIOD_S, clock=time.monotonic):
        self._fetch = fetch
        self.period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._value: Hashable | None = None
        self._until = 0.0
        self._expiries = 0  # an expiry during a fetch: the fetched value may predate the write
        self.fetches = 0

    def get(self) -> Hashable:
        """The generation, fetched again when the last one is older than ``period``; raises what
        the fetch raises (then no value is held)."""
        value = self._value
        if value is not None and self._clock() < self._until:
            return value
        if not self._lock.acquire(blocking=value is None):
            return value  # another thread is fetching: the value it replaces is at most a fetch older
        try:
            if self._value is not None and self._clock() < self._until:
                return self._value
            self.fetches += 1
            expiries = self._expiries
            try:
                value = self._fetch()
            except BaseException:
                self._value = None
                raise
            fresh = self._expiries == expiries
            self._value, self._until = value, self._clock() + self.period if fresh else 0.0
            return value
        finally:
            self._lock.release()

    def expire(self) -> None:
        """This process changed the index: the next ``get`` fetches (also when a fetch is under way:
        what it brings back may predate the change, so it is used once and not kept)."""
        self._expiries += 1
        self._until = 0.0
