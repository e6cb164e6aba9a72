"""The cases citing each article, read once per index version (the SQLite engine's related cases).

A result page shows beside its leading articles the cases that cite them (``base.Related``). As a
browse query that meant, on every search, sorting every citing case by a JSON field and decoding
each whole case (7 ms for three much-cited articles at ×20, a quarter of a search). Cases are few
(28 in the corpus, hundreds at most with lawyers' additions) and change only with the index: their
browse order and the fields a page shows of them (id, title, case number, citations) are read here
once per version, and a lookup merges the articles' lists. The engine's ``TermCache`` holds it, so a
published case is there from the next search on.
"""

from __future__ import annotations

import json
import sqlite3

from ingest.model import Document
from search_api.engines.base import Related, SearchHit
from search_api.engines.sqlite_schema import BROWSE_ORDER


class CitingCases:
    """Every case in browse order, as light documents carrying ``title``, ``case_number`` and ``cites``."""

    def __init__(self, conn: sqlite3.Connection):
        rows = conn.execute(
            "SELECT d.id, d.prior, d.source_id, json_extract(d.data, '$.title'), "
            "json_extract(d.data, '$.case_number'), json_extract(d.data, '$.cites') "
            f"FROM docs d WHERE d.kind = 'case' ORDER BY {BROWSE_ORDER}"
        ).fetchall()
        cites = [json.loads(c) if c else [] for *_, c in rows]
        self._by_article: dict[str, list[int]] = {}
        for i, articles in enumerate(cites):
            for article in dict.fromkeys(articles):
                self._by_article.setdefault(article, []).append(i)  # ascending: i grows
        self._hits = [
            SearchHit(
                id=doc_id,
                score=prior,
                doc=Document(
                    id=doc_id,
                    kind="case",
                    title=title or "",
                    text="",
                    prior=prior,
                    source_id=source_id,
                    case_number=case_number,
                    cites=cites[i],
                ),
            )
            for i, (doc_id, prior, source_id, title, case_number, _) in enumerate(rows)
        ]

    def citing(self, article_ids: list[str], related: Related) -> list[SearchHit]:
        """The cases citing any of ``article_ids``, in browse order, as many as ``related.query`` asks."""
        positions = sorted({i for a in article_ids for i in self._by_article.get(a, ())})
        size = related.query(article_ids).size
        return [self._hits[i] for i in positions[:size]]
