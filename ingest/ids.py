"""Document ids for one run of loading: the single place where they are decided.

A document's id comes from its file stem (see ``ingest.model``). When files of one run
would give the same id (``laws/foo.md`` and ``cases/foo.md``, or a JSONL record whose
``id`` equals another file's stem), one of them keeps it and every other one gets a suffix
derived from its own path, so all are kept and each is found by an id that does not
change between runs:

* the file that keeps the plain id is a law if one is involved (its articles are what
  citations and bookmarks point at), else the first by path;
* the choice and the suffixes depend only on the set of colliding paths, never on the
  order files were read in, nor on which files an ingest later skips as unchanged;
* a suffix is computed from the path relative to the colliding files' common directory,
  so the same corpus moved elsewhere or named by other roots (``corpus`` or
  ``corpus/laws corpus/cases``) keeps its ids.

A law's suffix goes on its stem, so its articles keep the ``<source_id>.<n>`` shape:
``foo~1234`` and ``foo~1234.47``.
"""

from __future__ import annotations

import os
import zlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from ingest.model import LAW_TYPES, Document, RawDocument


def assign_ids(loaded: Iterable[tuple[RawDocument, list[Document]]]) -> dict[str, str]:
    """Make document ids unique across files (in place); returns renamed source path → suffix."""
    loaded = list(loaded)
    paths_by_id: dict[str, set[str]] = defaultdict(set)
    is_law: dict[str, bool] = defaultdict(bool)
    for raw, docs in loaded:
        for d in docs:
            paths_by_id[d.id].add(raw.path)
            is_law[raw.path] |= d.doc_type in LAW_TYPES

    def keeper_rank(path: str) -> tuple[bool, str]:
        return not is_law[path], os.path.abspath(path)

    # renamed path → every path it shares an id with (itself included)
    partners: dict[str, set[str]] = defaultdict(set)
    for paths in {frozenset(paths) for paths in paths_by_id.values() if len(paths) > 1}:
        keeper = min(paths, key=keeper_rank)
        for p in paths - {keeper}:
            partners[p] |= paths
    if not partners:
        return {}
    suffixes = _suffixes(partners)
    for raw, docs in loaded:
        suffix = suffixes.get(raw.path)
        if suffix:
            for d in docs:
                _rename(d, suffix)
    return suffixes


def _suffixes(partners: dict[str, set[str]]) -> dict[str, str]:
    suffixes: dict[str, str] = {}
    for path, group in partners.items():
        rel = _relative_to_common_dir(path, group)
        suffixes[path] = str(zlib.crc32(rel.encode("utf-8")) % 10_000)
    # Colliding paths whose short suffixes also collide fall back to the full checksum.
    clashing = {p for p, group in partners.items() if any(suffixes.get(q) == suffixes[p] for q in group - {p})}
    for path in clashing:
        suffixes[path] = format(zlib.crc32(_relative_to_common_dir(path, partners[path]).encode("utf-8")), "08x")
    return suffixes


def _relative_to_common_dir(path: str, group: set[str]) -> str:
    common = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in group])
    return Path(os.path.relpath(os.path.abspath(path), common)).as_posix()


def _rename(doc: Document, suffix: str) -> None:
    source = doc.source_id
    if source and (doc.id == source or doc.id.startswith(source + ".")):
        doc.id = f"{source}~{suffix}{doc.id[len(source) :]}"
    else:
        doc.id = f"{doc.id}~{suffix}"
    if source:
        doc.source_id = f"{source}~{suffix}"
