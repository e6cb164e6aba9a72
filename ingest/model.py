"""The document record every stage produces and every engine indexes.

Document ids are stable across re-ingests and engine-neutral:

* a whole law / regulation / interpretation: the file stem, e.g. ``labor-contract-law``
* one article of it: ``<stem>.<n>``, e.g. ``labor-contract-law.47``
* a case, policy or news page: the file stem, e.g. ``guiding-case-018-zhongxing-...``
* a lawyer's case from the app store: ``lawyer-case-<n>``

Files of one run that would give the same id (two ``wages.md`` in different folders) each
get a suffix from their path, ``wages~1234`` and ``wages~1234.47``: see ``ingest.ids``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

KINDS = ("article", "law", "case", "policy", "news", "qa")
WHOLE_KINDS = ("law", "policy")  # a whole text (its articles, if any, are documents of their own)

# Sub-kinds as the corpus front matter names them.
LAW_TYPES = (
    "law",
    "administrative_regulation",
    "judicial_interpretation",
    "departmental_rule",
    "local_regulation",
)
CASE_TYPES = ("guiding_case", "typical_case", "lawyer_case")


class BadDocument(ValueError):
    """A source file that cannot be read or parsed; the pipeline reports and skips it."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class RawDocument:
    """A loaded, decoded source before segmentation.

    ``text`` is clean display text (Markdown body, or text extracted from HTML);
    ``meta`` holds front matter or whatever the loader could infer (title, kind …).
    """

    path: str
    stem: str
    fmt: str  # markdown | html | text | jsonl
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""


@dataclass
class Citation:
    """One reference to an article found in a text."""

    raw: str  # the text as written, e.g. 《劳动合同法》第四十七条第一款
    law_title: str  # official title it resolved to ("" when unknown)
    article: int
    paragraph: int | None = None  # 款
    item: int | None = None  # 项
    target: str | None = None  # article document id when it resolved

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Document:
    """A searchable unit: one article, one whole law, one case, one policy or news page."""

    id: str
    kind: str
    title: str
    text: str  # original (cleaned, not normalised) text for display and highlights
    doc_type: str = ""
    source_path: str = ""
    content_hash: str = ""
    # law / article metadata
    source_id: str = ""  # the whole-law document id (articles point at their law)
    source_title: str = ""  # full official title, e.g. 中华人民共和国劳动合同法
    short_title: str = ""  # e.g. 劳动合同法
    article: int | None = None
    article_label: str = ""  # 第四十七条
    chapter_path: list[str] = field(default_factory=list)
    issuer: str = ""
    promulgated: str = ""
    effective: str = ""
    amended: list[str] = field(default_factory=list)
    region: str = "全国"
    level: str = "national"  # national | local
    in_force: bool = True
    # case metadata
    case_number: int | None = None
    keywords: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    published: str = ""
    court: str = ""
    annotation: str = ""  # lawyer's 解读 (Markdown source)
    questions: list[str] = field(default_factory=list)  # everyday questions it answers (ingest.everyday)
    # links
    citations: list[dict[str, Any]] = field(default_factory=list)
    cites: list[str] = field(default_factory=list)  # resolved article ids
    topics: list[str] = field(default_factory=list)
    url: str = ""  # original public URL when known
    prior: float = 1.0  # static ranking prior (authority, kind); see ingest.pipeline
    tokens: dict[str, str] = field(default_factory=dict)  # field → space-joined tokens

    def as_dict(self) -> dict[str, Any]:
        """A shallow dict of the fields (lists and dicts are shared, not copied)."""
        return {f.name: getattr(self, f.name) for f in _DOC_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """The document of ``as_dict``'s output (keys it doesn't know, e.g. of a newer version, are left out)."""
        return cls(**{k: v for k, v in data.items() if k in _DOC_NAMES})


_DOC_FIELDS = dataclasses.fields(Document)
_DOC_NAMES = frozenset(f.name for f in _DOC_FIELDS)
