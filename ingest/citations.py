"""Find article citations in text and resolve them to article documents.

Recognised forms (Chinese or Arabic numerals, full-width digits too)::

    《劳动合同法》第四十七条            《中华人民共和国劳动合同法》第三十八条第一款第二项
    劳动合同法第47条                    本法第三十八条 / 本条例第十条 (the law being read)
    《劳动合同法》第三十九条、第四十条  该法第二十七条 (the law cited just before)

Short titles resolve to official ones through a ``TitleRegistry`` built from the
laws in the corpus; a title it doesn't know is kept as written, unresolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.model import Citation
from ingest.numerals import NUMERAL_CHARS, cn_to_int

_NUM = rf"[{NUMERAL_CHARS}0-9０-９]+"
_ARTICLE = rf"第\s*({_NUM})\s*条(?:\s*第\s*({_NUM})\s*款)?(?:\s*第\s*[（(]?\s*({_NUM})\s*[)）]?\s*项)?"
_ARTICLE_RE = re.compile(_ARTICLE)
# A run of further articles after the first: 、第四十条 / 和第四十条 / 及第… / ，第…
_MORE_RE = re.compile(rf"\s*[、，,和及与或]\s*(?:{_ARTICLE})")
_QUOTED_RE = re.compile(rf"《([^《》]{{2,80}})》\s*(?:（[^）]{{0,40}}）)?\s*{_ARTICLE}")
_SELF_RE = re.compile(rf"本(?:法|条例|规定|办法|解释|细则){_ARTICLE}")
_THAT_RE = re.compile(rf"(?:该|上述|前述)(?:法|条例|规定|办法|解释){_ARTICLE}")

_PREFIX = "中华人民共和国"


def title_key(title: str) -> str:
    """A comparison key: no 中华人民共和国 prefix, uniform brackets, no spaces or 《》<>."""
    t = re.sub(r"[\s《》<>〈〉]", "", title).replace("(", "（").replace(")", "）")
    return t[len(_PREFIX) :] if t.startswith(_PREFIX) else t


@dataclass
class TitleRegistry:
    """Official law titles and the document ids of their whole-law documents."""

    by_key: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (official title, law id)
    _bare_re: re.Pattern[str] | None = None

    def add(self, official_title: str, law_id: str, *aliases: str) -> None:
        for name in (official_title, *aliases):
            if name:
                self.by_key.setdefault(title_key(name), (official_title, law_id))
        self._bare_re = None

    def resolve(self, title: str) -> tuple[str, str] | None:
        return self.by_key.get(title_key(title))

    def bare_pattern(self) -> re.Pattern[str] | None:
        """Titles written without 《》 (劳动合同法第47条): only names that are long enough to be unambiguous."""
        if self._bare_re is None and self.by_key:
            names = sorted({k for k in self.by_key if len(k) >= 4}, key=len, reverse=True)
            alt = "|".join(re.escape(n) for n in names)
            self._bare_re = re.compile(rf"(?<![《\w])(?:{_PREFIX})?({alt}){_ARTICLE}")
        return self._bare_re


def _numbers(m: re.Match[str], start: int) -> tuple[int, int | None, int | None]:
    art, para, item = m.group(start), m.group(start + 1), m.group(start + 2)
    return cn_to_int(art), (cn_to_int(para) if para else None), (cn_to_int(item) if item else None)


def article_id(law_id: str, article: int) -> str:
    return f"{law_id}.{article}"


def find_citations(
    text: str,
    registry: TitleRegistry | None = None,
    default_law: tuple[str, str] | None = None,
) -> list[Citation]:
    """All article citations in ``text``, in order of appearance, without duplicates.

    ``default_law`` is ``(official title, law id)`` of the text being read, for 本法.
    ``Citation.target`` is set when the law is known; whether that article exists is
    checked by the caller against the index (``known_ids``), see ``resolve_targets``.
    """
    registry = registry or TitleRegistry()
    found: list[tuple[int, Citation]] = []
    taken: list[tuple[int, int]] = []

    def overlaps(a: int, b: int) -> bool:
        return any(a < e and s < b for s, e in taken)

    def emit(pos: int, end: int, raw: str, law: tuple[str, str] | None, written: str, nums) -> None:
        art, para, item = nums
        title, law_id = law if law else (written, "")
        target = article_id(law_id, art) if law_id else None
        found.append((pos, Citation(raw=raw, law_title=title, article=art, paragraph=para, item=item, target=target)))
        taken.append((pos, end))

    def with_runs(m: re.Match[str], law, written: str, first_group: int) -> None:
        emit(m.start(), m.end(), m.group(0), law, written, _numbers(m, first_group))
        pos = m.end()
        while more := _MORE_RE.match(text, pos):
            emit(more.start(), more.end(), more.group(0).lstrip("、，,和及与或 "), law, written, _numbers(more, 1))
            pos = more.end()

    for m in _QUOTED_RE.finditer(text):
        written = m.group(1)
        with_runs(m, registry.resolve(written), written, 2)
    bare = registry.bare_pattern()
    if bare is not None:
        for m in bare.finditer(text):
            if not overlaps(m.start(), m.end()):
                with_runs(m, registry.resolve(m.group(1)), m.group(1), 2)
    if default_law:
        for m in _SELF_RE.finditer(text):
            if not overlaps(m.start(), m.end()):
                with_runs(m, default_law, default_law[0], 1)
    for m in _THAT_RE.finditer(text):
        if overlaps(m.start(), m.end()):
            continue
        before = [c for p, c in found if p < m.start()]
        if before:
            prev = before[-1]
            law = registry.resolve(prev.law_title) if prev.target else None
            with_runs(m, law, prev.law_title, 1)

    found.sort(key=lambda pc: pc[0])
    seen: set[tuple[str, int, int | None, int | None]] = set()
    out: list[Citation] = []
    for _, c in found:
        key = (c.law_title, c.article, c.paragraph, c.item)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def resolve_targets(citations: list[Citation], known_ids: set[str] | None) -> list[Citation]:
    """Drop targets that point at articles the index doesn't hold (kept, but unresolved)."""
    if known_ids is None:
        return citations
    for c in citations:
        if c.target and c.target not in known_ids:
            c.target = None
    return citations
