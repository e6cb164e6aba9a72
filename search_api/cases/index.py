"""Lawyers' cases on the search side: citations, the search document of a case, (un)indexing.

``CaseIndex`` detects the articles a case cites and puts a published case into (or takes
it out of) the active engine; ``case_to_document`` is the document it indexes, the same
one ``published_documents`` hands to ``labourkb rebuild``, so a rebuilt index holds the
same cases as a live one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ingest.citations import TitleRegistry, find_citations
from ingest.model import Document
from ingest.pipeline import prepare_document
from ingest.tokenise import Tokeniser
from search_api.cases.fields import FIELD_LABELS, SECTION_FIELDS
from search_api.cases.store import CaseStore, CaseVersion
from search_api.engines.base import SearchEngine
from search_api.errors import Unavailable
from search_api.search.service import SearchService, law_registry


class CaseIndex:
    """Citation detection and (un)indexing against the active engine.

    ``engine`` may be None (no index configured): cases are then only stored, and the
    next rebuild (``published_documents``) picks them up. ``prepare`` turns a bare
    Document into an indexable one (tokens, topics); ``registry`` (a TitleRegistry, or a
    callable returning one) resolves law titles; ``on_change`` is called after the index
    changed (e.g. ``SearchService.invalidate``: drop cached index facts); ``on_publish`` with the
    documents just indexed (the semantic layer gives them vectors).
    """

    def __init__(
        self,
        engine: SearchEngine | None = None,
        registry: TitleRegistry | Callable[[], TitleRegistry] | None = None,
        prepare: Callable[[Document], Document] | None = None,
        on_change: Callable[[], None] | None = None,
        on_publish: Callable[[list[Document]], None] | None = None,
    ):
        self.engine = engine
        self._registry = registry
        self.prepare = prepare
        self.on_change = on_change
        self.on_publish = on_publish

    @classmethod
    def for_search(cls, search: SearchService) -> CaseIndex:
        """The index of the app's search service: its engine, its law titles, its tokeniser and topics."""
        return cls(
            search.engine,
            registry=lambda: search.registry,
            prepare=preparer(search.tok, search.lexicon.topics_for),
            on_change=search.invalidate,
            on_publish=search.semantic.add,
        )

    @property
    def registry(self) -> TitleRegistry | None:
        if callable(self._registry):  # e.g. the search service's cached registry
            return self._registry()
        if self._registry is None and self.engine is not None:
            self._registry = law_registry(self.engine)
        return self._registry

    def citations(self, text: str) -> list[dict[str, Any]]:
        """Articles cited in ``text``; each dict has ``resolved`` (the article exists in the index)."""
        out = []
        for c in find_citations(text, self.registry):
            if c.target and self.engine is not None and self.engine.get(c.target) is None:
                c.target = None  # the law is known but has no such article
            out.append({**c.as_dict(), "resolved": bool(c.target)})
        return out

    def publish(self, doc: Document) -> None:
        if self.engine is None:
            return
        cites, citations = list(doc.cites), list(doc.citations)
        if self.prepare is not None:
            doc = self.prepare(doc)
        # Keep the citations checked against the index, not the preparer's unchecked ones.
        doc.cites, doc.citations = cites, citations
        report = self.engine.index_documents([doc])
        if getattr(report, "failed", None):
            raise Unavailable(f"索引失败：{report.failed[0][1]}")
        self.engine.refresh()
        if self.on_change is not None:
            self.on_change()
        if self.on_publish is not None:  # e.g. the semantic layer: vectors for the new document
            self.on_publish([doc])

    def unpublish(self, doc_id: str) -> None:
        if self.engine is not None:
            self.engine.delete([doc_id])
            self.engine.refresh()
            if self.on_change is not None:
                self.on_change()


def preparer(
    tok: Tokeniser, topics_for: Callable[[list[str]], list[str]] | None = None
) -> Callable[[Document], Document]:
    """Tokens and topics through the same ingest path as the corpus (``ingest.pipeline.prepare_document``)."""
    return lambda doc: prepare_document(doc, tok, None, None, topics_for)


def unresolved_warnings(citations: list[dict[str, Any]]) -> list[str]:
    """A warning per cited article that did not resolve to an article in the index."""
    return [f"未能对应到法条：{c['raw']}" for c in citations if not c.get("resolved")]


# ---- documents ----------------------------------------------------------------------


def case_text(data: Mapping[str, Any]) -> str:
    """The case body as one display text, section by section (used for search and highlights)."""
    parts = []
    for name in (*SECTION_FIELDS, "annotation"):
        value = data.get(name)
        if isinstance(value, list):
            value = "、".join(value)
        if value:
            parts.append(f"{FIELD_LABELS[name]}\n{value}")
    return "\n\n".join(parts)


def case_to_document(version: CaseVersion, published_at: str = "") -> Document:
    """The search document of a case version: id ``lawyer-case-<n>``, kind ``case``."""
    data = version.data
    sections = {}
    for name in SECTION_FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            value = "、".join(value)
        if value:
            sections[FIELD_LABELS[name]] = value
    cited = [c for c in version.citations if c.get("target")]
    citations = [{k: v for k, v in c.items() if k != "resolved"} for c in version.citations]
    source = data.get("source") or ""
    doc_id = f"lawyer-case-{version.case_id}"
    return Document(
        id=doc_id,
        kind="case",
        doc_type="lawyer_case",
        title=data.get("title", ""),
        text=case_text(data),
        source_path=f"store:{doc_id}",
        content_hash=hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest(),
        keywords=list(data.get("keywords") or []),
        sections=sections,
        published=(published_at or "")[:10],
        court=data.get("court", ""),
        region=data.get("region") or "全国",
        level="national" if (data.get("region") or "全国") == "全国" else "local",
        annotation=data.get("annotation", ""),
        citations=citations,
        cites=list(dict.fromkeys(c["target"] for c in cited)),
        url=source if re.match(r"https?://", source) else "",
        prior=1.0,
    )


def published_documents(cases: CaseStore) -> list[Document]:
    """Every published case as a Document, for rebuilding the index from corpus plus store."""
    docs = []
    for record in cases.list(live=True):  # a correction under review: its published version
        version = cases.get_version(record.id, record.published_version or record.current_version)
        if version is not None:
            docs.append(case_to_document(version, record.published_at or ""))
    return docs
