"""The facet values of every document read plainly from the index: what ``FacetCodes`` must agree with."""

from __future__ import annotations

import sqlite3


def facet_values(conn: sqlite3.Connection) -> dict[int, tuple]:
    """Per rowid, its values of ``FACET_FIELDS`` (kind, source_title, region), then its topics as a
    tuple in the order ``doc_tags`` yields them (the statement ``FacetCodes`` reads)."""
    topics: dict[int, list[str]] = {}
    for rowid, value in conn.execute("SELECT rowid, value FROM doc_tags WHERE field = 'topics'"):
        topics.setdefault(rowid, []).append(value)
    rows = conn.execute("SELECT rowid, kind, source_title, region FROM docs").fetchall()
    return {r[0]: (*r[1:], tuple(topics.get(r[0], ()))) for r in rows}
