"""Which laws are in force.

A law file can say it itself (front matter ``status: repealed``, read by ``ingest.segment``).
A newer law in the corpus can say it too, in its final provisions: "1988年7月21日国务院发布的
《女职工劳动保护规定》同时废止。" ``apply_repeals`` reads such sentences across the corpus and
marks the repealed law's documents, so they rank after the law in force and show 已失效.
"""

from __future__ import annotations

import re
from typing import Iterable

from ingest.citations import TitleRegistry
from ingest.model import Document
from ingest.segment import REPEALED_FACTOR

_SENTENCE = re.compile(r"[^。；;\n]+")
_TITLE = re.compile(r"《([^《》]{2,80})》")
# the sentence ends by repealing: "…同时废止" / "…予以废止"; "法规被修改或者废止的" (a condition) does not
_REPEALS = re.compile(r"(?:同时|予以|即行|一并)?废止\W*$")


def repealed_titles(text: str) -> list[str]:
    """Titles that ``text`` declares repealed, in order."""
    titles: list[str] = []
    for sentence in _SENTENCE.findall(text):
        if _REPEALS.search(sentence.strip()):
            titles += _TITLE.findall(sentence)
    return titles


def apply_repeals(docs: Iterable[Document], registry: TitleRegistry) -> dict[str, str]:
    """Mark every document of a law that another document repeals (in place).

    Returns repealed law id → id of the document that repeals it. A marked document's
    ``content_hash`` changes too, so re-ingesting its unchanged file still updates the index.
    """
    docs = list(docs)
    repealed: dict[str, str] = {}
    for d in docs:
        if d.kind not in ("article", "law", "policy") or "废止" not in d.text:
            continue
        for title in repealed_titles(d.text):
            hit = registry.resolve(title)
            if hit and hit[1] != (d.source_id or d.id):  # a law never repeals itself
                repealed.setdefault(hit[1], d.id)
    for d in docs:
        if (d.source_id or d.id) in repealed and d.in_force:
            d.in_force = False
            d.prior *= REPEALED_FACTOR
            d.content_hash += ":repealed"
    return repealed
