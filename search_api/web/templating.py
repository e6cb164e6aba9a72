"""Jinja2 environment: filters and globals shared by every page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from ingest.normalise import to_traditional
from search_api.search.nextsteps import COMMON_TROUBLES, HOTLINES
from search_api.search.service import KIND_LABELS, doc_url
from search_api.settings import Settings

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def linked_text(text: str, citations: Iterable[dict[str, Any]] = (), self_id: str = "") -> Markup:
    """Escape ``text`` and turn each resolved citation in it into a link to its article.

    Citations carry the text as written (``raw``) but no position, so they are matched in
    order of appearance: the n-th occurrence of a raw string takes the n-th citation
    with that string, which keeps 第四十条 of two different laws apart.
    """
    pending: dict[str, list[str]] = {}
    for c in citations:
        raw, target = c.get("raw") or "", c.get("target")
        if raw and target and target != self_id:
            pending.setdefault(raw, []).append(target)
    if not pending:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(r) for r in sorted(pending, key=len, reverse=True)))
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        targets = pending[m.group(0)]
        target = targets.pop(0) if len(targets) > 1 else targets[0]
        out.append(escape(text[last : m.start()]))
        out.append(Markup('<a class="cite" href="{}">{}</a>').format(doc_url(target), m.group(0)))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def paragraphs(text: str, citations: Iterable[dict[str, Any]] = (), self_id: str = "") -> list[Markup]:
    """Split a document text on blank lines; each paragraph escaped, with citations linked."""
    cites = list(citations)
    return [linked_text(p.strip(), cites, self_id) for p in _PARAGRAPH_BREAK.split(text or "") if p.strip()]


def configure(templates: Jinja2Templates, settings: Settings) -> Jinja2Templates:
    env = templates.env
    env.globals["kind_labels"] = KIND_LABELS
    env.globals["settings"] = settings
    env.globals["common_troubles"] = COMMON_TROUBLES
    env.globals["hotlines"] = HOTLINES
    env.filters["traditional"] = to_traditional
    env.filters["paragraphs"] = paragraphs
    env.filters["linked"] = linked_text
    return templates
