"""Which laws are in force.

A law file can say it itself (front matter ``status: repealed``, read by ``ingest.segment``).
A newer law in the corpus can say it too, in its final provisions: "1988年7月21日国务院发布的
《女职工劳动保护规定》同时废止。" ``apply_repeals`` reads such sentences across the corpus and
marks the repealed law's documents, so they rank after the law in force and show 已失效.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.citations import TitleRegistry
from ingest.model import Document
from ingest.numerals import cn_to_int
from ingest.segment import REPEALED_FACTOR

_SENTENCE = re.compile(r"[^。；;\n]+")
# a title, its document number in brackets, and the article (and paragraph) when only part is repealed
_TITLE = re.compile(
    r"《([^《》]{2,80})》(?:[（(][^（）()]{0,40}[）)])?"
    r"(?:第([一二三四五六七八九十百零〇\d]+)条(第[一二三四五六七八九十零\d]+[款项])?)?"
)
# the sentence ends by repealing: "…同时废止" / "…予以废止"; "法规被修改或者废止的" (a condition) does not
_REPEALS = re.compile(r"(?:同时|予以|即行|一并)?废止\W*$")


def repeals(text: str) -> list[tuple[str, int | None, bool]]:
    """What ``text`` declares repealed, in order: ``(title, article, partial)``.

    ``article`` is None when the whole law goes; ``partial`` is true when only a paragraph
    or item of the article goes (解释（二）第二十一条: "《解释（一）》第三十二条第一款同时废止"),
    which leaves the article in force.
    """
    found: list[tuple[str, int | None, bool]] = []
    for sentence in _SENTENCE.findall(text):
        if _REPEALS.search(sentence.strip()):
            for m in _TITLE.finditer(sentence):
                article = cn_to_int(m.group(2)) if m.group(2) else None
                found.append((m.group(1), article, bool(m.group(3))))
    return found


def repealed_titles(text: str) -> list[str]:
    """Titles of the laws that ``text`` repeals as a whole, in order."""
    return [title for title, article, _ in repeals(text) if article is None]


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
        for title, article, partial in repeals(d.text):
            hit = registry.resolve(title)
            if not hit or hit[1] == (d.source_id or d.id) or partial:  # a law never repeals itself
                continue
            target = hit[1] if article is None else f"{hit[1]}.{article}"
            repealed.setdefault(target, d.id)
    for d in docs:
        if ((d.source_id or d.id) in repealed or d.id in repealed) and d.in_force:
            d.in_force = False
            d.prior *= REPEALED_FACTOR
            d.content_hash += ":repealed"
    return repealed
