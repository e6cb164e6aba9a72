"""Extract the article from a web page or a plain-text page, dropping boilerplate and spam.

Everything here is a general rule about how web pages are built, never a rule keyed to
one site's class names or to particular spam words:

* markup that is never article text and text a reader cannot see are removed first
  (``ingest.hidden``);
* the article container is chosen by a readability-style score (punctuation and length
  of its paragraphs, discounted by link density);
* inside it, blocks that are mostly links are dropped, and so are short lines led by the
  usual Chinese web boilerplate words (上一篇, 分享到, 责任编辑, 版权所有 …) and the lists
  that follow a "related / hot / comments" heading.

Plain-text pages are cleaned by ``ingest.textpage.clean_text``, re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from bs4.element import Declaration, Doctype, ProcessingInstruction

from ingest.boilerplate import (
    ASCII_WS,
    SOURCE_WRAP,
    WRAP,
    filter_lines,
    is_tail_marker,
    norm_line,
)
from ingest.hidden import remove_invisible_and_junk
from ingest.textpage import clean_text  # plain-text pages; imported from here by callers

__all__ = ["clean_html", "clean_text"]

_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "blockquote",
    "pre",
    "hr",
    "center",
    "figure",
    "figcaption",
    "address",
    "caption",
    "body",
    "html",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}
_CELL_TAGS = {"td", "th"}
# Containers that may hold a run of text directly (a "div used as a paragraph").
_TEXT_CONTAINERS = {"div", "section", "article", "td", "blockquote", "font", "center"}

_PUNCT = re.compile(r"[，,。；;、！？!?：:]")
_TITLE_SEPARATORS = ("_", "|", "｜", " - ", " — ", " – ", "——", "--", " -", "- ")


def clean_html(html: str) -> tuple[str, str]:
    """Return ``(title, text)`` of the article in a decoded HTML page.

    ``text`` is plain paragraphs separated by a blank line ("\\n\\n"), one per ``<p>``,
    block or ``<br>`` line. The title is the ``<h1>`` (or matching heading) or the
    ``<title>`` without its site suffix. Never raises on malformed markup; an empty page
    gives ``("", "")``.
    """
    soup = BeautifulSoup(html, "html.parser")
    title = _find_title(soup)
    remove_invisible_and_junk(soup)
    root = soup.body or soup
    try:
        stats = _link_stats(root)
        nodes = _pick_content(root, stats)
        lines = []
        for node in nodes:
            lines.extend(_extract_lines(node, stats, is_root=True))
        paragraphs = filter_lines(lines)
        if not paragraphs and nodes != [root]:
            paragraphs = filter_lines(_extract_lines(root, stats, is_root=True))
    except RecursionError:
        # Thousands of unclosed tags nest too deep to walk; bs4's own text iterator is flat.
        paragraphs = filter_lines([norm_line(t) for t in root.get_text("\n").split("\n")])
    return title, "\n\n".join(paragraphs)


# --- title -------------------------------------------------------------------------


def _find_title(soup: BeautifulSoup) -> str:
    parts = _title_parts(norm_line(soup.title.get_text())) if soup.title else []
    headings = [norm_line(h.get_text(" ")) for h in soup.find_all(["h1", "h2", "h3"])]
    headings = [h for h in headings if 0 < len(h) <= 200]
    if parts:
        # "标题_栏目_网站" is the usual order, so the last part is the site name, unless the
        # first part is too short to be a title.
        if len(parts) > 1 and len(parts[0]) >= 4:
            parts = parts[:-1]
        # A heading that agrees with the title is the article title; an <h1> that does not
        # is often the site logo, so <title> wins then.
        for part in parts:
            for heading in headings:
                short, long_ = sorted((heading, part), key=len)
                if short in long_ and len(short) >= min(4, len(long_)):
                    return heading
        return parts[0] if len(parts[0]) >= 4 else max(parts, key=len)
    h1 = [norm_line(h.get_text(" ")) for h in soup.find_all("h1")]
    h1 = [h for h in h1 if h]
    return h1[0] if h1 else (headings[0] if headings else "")


def _title_parts(title: str) -> list[str]:
    """ "标题_栏目_网站" → ["标题", "栏目", "网站"]; [] for an empty title."""
    if not title:
        return []
    for sep in _TITLE_SEPARATORS:
        if sep in title:
            parts = [p.strip() for p in title.split(sep) if p.strip()]
            return parts or [title]
    # A bare hyphen also joins years and numbers ("2023-2024年度"): split off only a last part.
    head, sep, tail = title.rpartition("-")
    if sep and head and len(tail) < len(head) and not tail[:1].isdigit():
        return [head.strip(), tail.strip()]
    return [title]


# --- content scoring -----------------------------------------------------------------


@dataclass
class _Stats:
    text_len: int = 0
    link_len: int = 0
    links: int = 0

    @property
    def link_density(self) -> float:
        return self.link_len / self.text_len if self.text_len else 0.0


def _visible_len(text: str) -> int:
    return len(ASCII_WS.sub("", text).replace("\u3000", ""))


def _link_stats(root: Tag) -> dict[int, _Stats]:
    """Text length, link-text length and link count for every element, in one pass."""
    stats: dict[int, _Stats] = {}

    def visit(el: Tag, in_link: bool) -> _Stats:
        s = _Stats()
        here_link = in_link or el.name == "a"
        if el.name == "a":
            s.links += 1
        for child in el.children:
            if isinstance(child, Tag):
                c = visit(child, here_link)
                s.text_len += c.text_len
                s.link_len += c.link_len
                s.links += c.links
            elif _is_text(child):
                n = _visible_len(str(child))
                s.text_len += n
                if here_link:
                    s.link_len += n
        stats[id(el)] = s
        return s

    visit(root, False)
    return stats


def _is_text(node: object) -> bool:
    return isinstance(node, NavigableString) and not isinstance(
        node, (Comment, Doctype, Declaration, ProcessingInstruction)
    )


def _has_block_child(el: Tag) -> bool:
    return any(isinstance(c, Tag) and (c.name in _BLOCK_TAGS or c.name in _CELL_TAGS) for c in el.children)


_TAG_PRIOR = {
    "div": 5,
    "article": 5,
    "section": 3,
    "main": 3,
    "pre": 3,
    "td": 3,
    "blockquote": 3,
    "address": -3,
    "ol": -3,
    "ul": -3,
    "dl": -3,
    "dd": -3,
    "dt": -3,
    "li": -3,
    "form": -3,
    "h1": -5,
    "h2": -5,
    "h3": -5,
    "h4": -5,
    "h5": -5,
    "h6": -5,
    "th": -5,
}


def _paragraph_score(text: str) -> float:
    return 1 + len(_PUNCT.findall(text)) + min(_visible_len(text) / 100, 3)


def _pick_content(root: Tag, stats: dict[int, _Stats]) -> list[Tag]:
    """The element holding the article, plus siblings that look like more of it."""
    scores: dict[int, float] = {}
    elements: dict[int, Tag] = {}

    def add(el: Tag, amount: float) -> None:
        key = id(el)
        if key not in scores:
            scores[key] = float(_TAG_PRIOR.get(el.name, 0))
            elements[key] = el
        scores[key] += amount

    for el in root.find_all(["p", "pre", *_TEXT_CONTAINERS]):
        if el.name != "p" and el.name != "pre" and _has_block_child(el):
            continue
        text = el.get_text()
        if _visible_len(text) < 10:
            continue
        score = _paragraph_score(text)
        if el.name in _TEXT_CONTAINERS:
            add(el, score)  # a text block that is its own container can win by itself
        ancestor, level = el.parent, 0
        while isinstance(ancestor, Tag) and level < 3:
            add(ancestor, score if level == 0 else score / (2 if level == 1 else level * 3))
            ancestor, level = ancestor.parent, level + 1

    if not scores:
        return [root]
    final = {k: v * (1 - stats.get(k, _Stats()).link_density) for k, v in scores.items()}
    best_key = max(final, key=lambda k: final[k])
    best = elements[best_key]
    if final[best_key] <= 0 or best.parent is None:
        return [best]

    threshold = max(10.0, final[best_key] * 0.2)
    chosen = []
    for sib in best.parent.children:
        if not isinstance(sib, Tag):
            continue
        if sib is best or final.get(id(sib), 0) >= threshold:
            chosen.append(sib)
        elif sib.name == "p" or (sib.name in _TEXT_CONTAINERS and not _has_block_child(sib)):
            s = stats.get(id(sib), _Stats())
            text = norm_line(sib.get_text())
            if (s.text_len > 80 and s.link_density < 0.25) or (
                s.text_len > 0 and s.links == 0 and text.endswith(("。", "！", "？"))
            ):
                chosen.append(sib)
    return chosen


# --- text extraction ------------------------------------------------------------------


def _is_link_block(el: Tag, stats: dict[int, _Stats]) -> bool:
    s = stats.get(id(el))
    if s is None or s.text_len == 0:
        return False
    if s.links >= 2 and s.link_density > 0.5:
        return True
    # One link that is the whole block ("more", a single headline): navigation, not text.
    return s.links == 1 and s.link_density > 0.9 and s.text_len < 30 and el.name in ("li", "dd", "dt")


def _extract_lines(root: Tag, stats: dict[int, _Stats], is_root: bool = False) -> list[str]:
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            line = norm_line("".join(current))
            if line:
                lines.append(line)
            current.clear()

    def walk(el: Tag, root_level: bool, in_pre: bool = False) -> None:
        if not root_level and (el.name in _BLOCK_TAGS or el.name in _CELL_TAGS) and _is_link_block(el, stats):
            return
        if _is_tail_heading(el, stats):
            return
        block = el.name in _BLOCK_TAGS
        in_pre = in_pre or el.name == "pre"
        if block:
            flush()
        skip_following = False
        for child in el.children:
            if isinstance(child, Tag):
                if skip_following and (child.name in _BLOCK_TAGS or child.name in _CELL_TAGS):
                    if _looks_like_list_item(child, stats):
                        continue
                    skip_following = False
                if child.name == "br":
                    flush()
                    continue
                if child.name in _CELL_TAGS:
                    current.append(" ")
                if _is_tail_heading(child, stats):
                    # What follows a "相关阅读"-style heading lists other pages or comments.
                    flush()
                    skip_following = True
                    continue
                walk(child, False, in_pre)
            elif _is_text(child) and in_pre:
                # Preformatted text keeps its line breaks: each source line is a paragraph.
                first, *rest = str(child).split("\n")
                current.append(first)
                for line in rest:
                    flush()
                    current.append(line)
            elif _is_text(child):
                current.append(SOURCE_WRAP.sub(WRAP, str(child)))
        if block:
            flush()

    walk(root, is_root)
    flush()
    return lines


def _looks_like_list_item(el: Tag, stats: dict[int, _Stats]) -> bool:
    s = stats.get(id(el), _Stats())
    return el.name in ("ul", "ol", "dl", "li", "table") or s.text_len < 50 or s.link_density > 0.3


def _is_tail_heading(el: Tag, stats: dict[int, _Stats]) -> bool:
    if el.name not in _BLOCK_TAGS and el.name not in ("span", "strong", "b"):
        return False
    if stats.get(id(el), _Stats()).text_len > 30:
        return False
    return is_tail_marker(norm_line(el.get_text()))
