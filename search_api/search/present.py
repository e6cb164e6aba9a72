"""How documents and hits are presented: labels, URLs, display titles, the API's hit shape."""

from __future__ import annotations

from typing import Any

from ingest.model import Document
from search_api.engines.base import SearchHit
from search_api.search.highlight import snippet

KIND_LABELS = {"article": "法条", "law": "法规", "case": "案例", "policy": "政策", "news": "新闻", "qa": "问答"}
KINDS = tuple(KIND_LABELS)


def doc_url(doc_id: str) -> str:
    return f"/doc/{doc_id}"


def display_title(doc: Document) -> str:
    """《劳动合同法》第三十八条 for an article; the title otherwise."""
    if doc.kind == "article":
        return f"《{doc.short_title}》{doc.article_label}"
    return doc.title


def filters_from(
    kind: list[str] | None, law: list[str] | None, region: list[str] | None, topic: list[str] | None = None
) -> dict[str, list[str]]:
    """Query-string filters (API, pages, CLI) → engine filters; unknown kinds match nothing rather than failing."""
    out: dict[str, list[str]] = {}
    if kind:
        out["kind"] = [k for k in kind if k in KINDS] or ["__none__"]
    if law:
        out["source_id"] = law
    if region:
        out["region"] = region
    if topic:
        out["topics"] = topic
    return out


def shape_hit(hit: SearchHit, terms: list[str]) -> dict[str, Any]:
    """A hit as the API returns it (the contract in DESIGN.md) and the result page shows it."""
    d = hit.doc
    body = d.sections.get("裁判要点") if d.kind == "case" and d.sections.get("裁判要点") else d.text
    out: dict[str, Any] = {
        "id": d.id,
        "kind": d.kind,
        "kind_label": KIND_LABELS.get(d.kind, d.kind),
        "doc_type": d.doc_type,
        "title": d.title,
        "display_title": display_title(d),
        "url": doc_url(d.id),
        "snippet": snippet(body, terms),
        "score": round(hit.score, 4),
        "region": d.region,
    }
    if d.kind in ("article", "law"):
        out["source_title"] = d.source_title
        out["short_title"] = d.short_title
        out["source_id"] = d.source_id
    if d.kind == "article":
        out["article"] = d.article
        out["article_label"] = d.article_label
        out["chapter_path"] = d.chapter_path
    if d.kind == "case":
        out["case_number"] = d.case_number
        out["cites"] = d.cites
    return out
