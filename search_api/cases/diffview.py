"""A side-by-side view of two case versions, as a reviewer reads them: each changed field in both
versions, rendered (paragraphs; the annotation's Markdown as HTML), with what was removed marked
on the left and what was added on the right, character by character (Chinese has no spaces
to diff words by)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from search_api.cases.fields import FIELD_LABELS, FIELDS
from search_api.web.markdown import render_markdown


@dataclass
class SideBySide:
    name: str
    label: str
    old: Markup
    new: Markup


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value or "")


def _marked(text: str, spans: list[tuple[int, int]], tag: str) -> Markup:
    """``text`` escaped, each span in ``<tag>``, line breaks kept as paragraphs."""
    out, last = [], 0
    for start, end in spans:
        out.append(escape(text[last:start]))
        # a span across a line break is closed before it and reopened after (each line is a paragraph)
        parts = [Markup(f"<{tag}>{escape(part)}</{tag}>") if part else "" for part in text[start:end].split("\n")]
        out.append(Markup("\n").join(parts))
        last = end
    out.append(escape(text[last:]))
    html = str(Markup("").join(out))
    paragraphs = [p for p in html.split("\n") if p.strip()]
    return Markup("".join(f"<p>{p}</p>" for p in paragraphs) or "<p class='muted'>（空）</p>")


def side_by_side(old: Any, new: Any) -> list[SideBySide]:
    """The changed fields of versions ``old`` and ``new``, each as two rendered columns."""
    out = []
    for name in FIELDS:
        a, b = _text(old.data.get(name)), _text(new.data.get(name))
        if a == b:
            continue
        if name == "annotation":  # Markdown: show it as the public page will
            out.append(SideBySide(name, FIELD_LABELS[name], render_markdown(a), render_markdown(b)))
            continue
        removed, added = [], []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op in ("delete", "replace"):
                removed.append((i1, i2))
            if op in ("insert", "replace"):
                added.append((j1, j2))
        out.append(SideBySide(name, FIELD_LABELS[name], _marked(a, removed, "del"), _marked(b, added, "ins")))
    return out
