"""Facet counts over an answering set for the embedded engine: counted with numpy, cached per query.

At ×20 a common question's answering set holds thousands of documents, and counting their facet
values one dict at a time (``ranking.count_facets``) was the largest single cost of a result
page. Here each facet value is a small integer code per rowid, so a count is one gather and one
``np.unique`` per field; the result is the same as ``count_facets`` (top ``FACET_SIZE`` by count,
ties in order of first appearance in the ranked set, empty values skipped).

The counts of an answering set depend only on the analysed query (terms with their weights and
groups, filters, boosts, candidate depth) and on the index, so ``FacetCache`` keeps them per
``(index version, query)``: a result page asked again — the next page, the traditional-character
view, another worker asking the same everyday question — costs a dict lookup.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Hashable, Mapping

import numpy as np

from search_api.engines.base import FACET_FIELDS, SearchQuery
from search_api.engines.ranking import FACET_SIZE
from search_api.lru import GenerationLRU

SCALAR_FIELDS = ("kind", "source_title", "region")  # one value per document, columns of ``docs``
MULTI_FIELD = "topics"  # several values per document, rows of ``doc_tags``
assert (*SCALAR_FIELDS, MULTI_FIELD) == FACET_FIELDS


class FacetCodes:
    """Every document's facet values as integer codes indexed by rowid (code 0 is "no value")."""

    def __init__(self, conn: sqlite3.Connection):
        # read row by row, never a list of every row (×20: tens of MB of tuples, kept by the heap after)
        size = last_rowid(conn) + 1
        self.vocab: list[str] = [""]
        code_of: dict[str, int] = {"": 0}

        def code(value: str | None) -> int:
            if not value:
                return 0
            c = code_of.get(value)
            if c is None:
                c = code_of[value] = len(self.vocab)
                self.vocab.append(value)
            return c

        self.scalar = {f: np.zeros(size, dtype=np.int32) for f in SCALAR_FIELDS}
        for rowid, *values in conn.execute(f"SELECT rowid, {', '.join(SCALAR_FIELDS)} FROM docs"):
            if rowid < size:  # (written since the size was read: counted from the next codes on)
                for f, v in zip(SCALAR_FIELDS, values, strict=True):
                    self.scalar[f][rowid] = code(v)
        # topics as CSR: a document's codes are flat[start[rowid]:start[rowid + 1]], in the order the
        # table yields them (tests/engines/facet_reference.py reads the same statement: ties order alike)
        owners, codes = array("q"), array("i")
        for rowid, value in conn.execute("SELECT rowid, value FROM doc_tags WHERE field = 'topics'"):
            if rowid < size:
                owners.append(rowid)
                codes.append(code(value))
        owner = np.frombuffer(owners, dtype=np.int64) if owners else np.zeros(0, dtype=np.int64)
        order = np.argsort(owner, kind="stable")
        self.start = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=size))]).astype(np.int64)
        self.flat = (np.frombuffer(codes, dtype=np.int32) if codes else np.zeros(0, dtype=np.int32))[order]

    def topics(self, rowid: int) -> tuple[str, ...]:
        """A document's topics, in the table's order (none for a rowid written after these codes)."""
        if not 0 <= rowid < len(self.start) - 1:
            return ()
        return tuple(self.vocab[c] for c in self.flat[self.start[rowid] : self.start[rowid + 1]].tolist())

    def count(self, rowids: np.ndarray) -> dict[str, dict[str, int]]:
        """Facet counts over ``rowids`` (the answering set, best first), as ``ranking.count_facets``."""
        rowids = np.asarray(rowids, dtype=np.int64)
        # a document written by another process after these codes were read counts from the next search on
        rowids = rowids[rowids < len(self.start) - 1]
        if not len(rowids):
            return {}
        out = {f: self._top(self.scalar[f][rowids]) for f in SCALAR_FIELDS}
        starts, ends = self.start[rowids], self.start[rowids + 1]
        lengths = ends - starts
        # positions of every kept document's topics in ``flat``, document by document
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        out[MULTI_FIELD] = self._top(self.flat[offsets + np.arange(int(lengths.sum()))])
        return out

    def _top(self, codes: np.ndarray) -> dict[str, int]:
        values, first, counts = np.unique(codes, return_index=True, return_counts=True)
        keep = values != 0
        values, first, counts = values[keep], first[keep], counts[keep]
        order = np.lexsort((first, -counts))[:FACET_SIZE]  # most first; ties: first seen first
        return {self.vocab[v]: int(n) for v, n in zip(values[order].tolist(), counts[order].tolist(), strict=True)}


class DocIds:
    """Every document's id by rowid, packed: one bytes string of the ids and their offsets (ids are
    ASCII slugs; at ×20 3.3 MB, where a list of 73,000 str held 6.8). The 300 hits of a ranked page
    cost 0.55 ms with their ids from here, 1.3-1.6 ms from a ``rowid IN (…)`` query (session 22)."""

    def __init__(self, conn: sqlite3.Connection):
        size = last_rowid(conn) + 1
        lengths = np.zeros(size, dtype=np.int64)
        blob = bytearray()
        for rowid, doc_id in conn.execute("SELECT rowid, id FROM docs ORDER BY rowid"):
            if rowid >= size:  # written since the size was read: looked up in the index instead
                break
            encoded = doc_id.encode()
            blob += encoded
            lengths[rowid] = len(encoded)
        self.starts = np.zeros(size + 1, dtype=np.int64)  # id of rowid r: blob[starts[r] : starts[r + 1]]
        np.cumsum(lengths, out=self.starts[1:])
        self.blob = bytes(blob)

    def get_many(self, rowids: list[int]) -> list[str | None]:
        """The ids of ``rowids``, in order (None for a rowid that has none here)."""
        at = np.asarray(rowids, dtype=np.int64)
        inside = (at >= 0) & (at < len(self.starts) - 1)
        at = np.where(inside, at, 0)
        starts, ends = self.starts[at].tolist(), self.starts[at + 1].tolist()
        blob, ok = self.blob, inside.tolist()
        return [blob[s:e].decode() if k and e > s else None for s, e, k in zip(starts, ends, ok, strict=True)]


def last_rowid(conn: sqlite3.Connection) -> int:
    """The largest rowid of ``docs`` (0 when empty): per-rowid arrays are this long plus one."""
    return conn.execute("SELECT max(rowid) FROM docs").fetchone()[0] or 0


def query_key(query: SearchQuery, depth: int) -> Hashable:
    """What an answering set depends on besides the index: the analysed terms (text, weight,
    group), the filters, the boosts, and ``depth`` (candidates ranked per term)."""
    return (
        tuple((t.text, t.weight, t.group) for t in query.terms),
        tuple(sorted((f, tuple(v)) for f, v in query.filters.items())),
        tuple(sorted((f, tuple(sorted(by.items()))) for f, by in query.boosts.items())),
        depth,
    )


class FacetCache(GenerationLRU[dict[str, dict[str, int]]]):
    """Facet counts per ``(index version, query key)``, least recently used dropped first.

    A different index version empties the cache: every write bumps the version (a published or
    withdrawn case, an ingest) and a rebuild changes the live file, so counts never outlive the
    index they were counted on. Callers get a copy, so the cached counts can't be altered.
    """

    MAX_ENTRIES = 1024  # a few KB each (4 fields × ≤ 30 values)

    def __init__(self, max_entries: int = MAX_ENTRIES):
        super().__init__(max_entries)

    def get(self, version: Hashable, key: Hashable) -> dict[str, dict[str, int]] | None:
        found = super().get(version, key)
        return None if found is None else _copy(found)

    def put(self, version: Hashable, key: Hashable, facets: Mapping[str, Mapping[str, int]]) -> None:
        super().put(version, key, _copy(facets))


def _copy(facets: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {field: dict(counts) for field, counts in facets.items()}
