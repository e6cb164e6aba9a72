"""Safe Markdown for lawyers' annotations (律师解读).

Two layers, because either alone has had bypasses in the wild: markdown-it-py with
raw HTML disabled (``<script>`` typed by a lawyer becomes text), then nh3 sanitises
the generated HTML against a small allow-list. Only http(s)/mailto links and
relative links survive; every link gets ``rel="nofollow noopener"``.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = {"http", "https", "mailto"}

# ``table`` and ``strikethrough`` are GFM niceties lawyers use; ``html`` stays off.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
# Headings h1/h2 would fight the page's own headings: shift them down to h3.
_HEADING_SHIFT = {"h1": "h3", "h2": "h4"}


def _shift_headings(tokens) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close") and token.tag in _HEADING_SHIFT:
            token.tag = _HEADING_SHIFT[token.tag]


def render_markdown(source: str | None) -> Markup:
    """Render Markdown to sanitised HTML, safe to insert into a page unescaped."""
    if not source:
        return Markup("")
    tokens = _md.parse(source)
    _shift_headings(tokens)
    html = _md.renderer.render(tokens, _md.options, {})
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener",
        filter_style_properties={"text-align"},
        strip_comments=True,
    )
    return Markup(cleaned)
