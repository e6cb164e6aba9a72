"""Extract the article from a page saved as plain text, dropping boilerplate and injected spam.

A text page keeps what a hacked portal spliced into the HTML, only flattened: tag
debris, link-farm lines and unrelated blocks appended to the article. The rules are
general shapes, never words taken from a particular page or spam:

* tag debris: HTML tags and comments are not text; a line left empty without them goes;
* a link farm: one line of many short titles joined by separators (| , 、 _ — / spaces),
  with no sentence in it, after an optional "label:" lead;
* an unrelated tail: trailing lines whose vocabulary (character bigrams) barely overlaps
  the article before them;
* plus what ``ingest.boilerplate`` drops on every page (paging, credits, "related" lists).
"""

from __future__ import annotations

import re
import statistics

from ingest.boilerplate import filter_lines, is_tail_marker, norm_line

_TAG = re.compile(r"<!--[\s\S]{0,2000}?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>\n]*)?/?>")
_SOURCE_LINE_LEADS = ("原文地址", "原文链接", "本文链接", "文章来源网址")

# --- link farms
_SEPARATORS = re.compile(r"\s*(?:[|｜,，、_/／]|—+|–+|-{2,})\s*")
_SPACES = re.compile(r"\s+")
_LEAD_LABEL = re.compile(r"^[^:：|｜,，、。]{1,16}[:：]\s*")
_SENTENCE_END = re.compile(r"[。！？!?；;：:]$")
_FARM_MIN_ITEMS = 5
_FARM_SPACED_MIN_ITEMS = 6  # titles joined by bare spaces need a longer run to be a farm
_FARM_ITEM_MEDIAN = (4, 30)  # a list of names (2–3 characters) is not a list of page titles
_FARM_ITEM_MAX = 40

# --- unrelated tail
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_TAIL_MIN_BIGRAMS = 8  # a shorter line (a date, a signature, a credit) is not judged
_TAIL_MIN_BODY_BIGRAMS = 60  # too little article to compare a block with
# A line sharing at most this share of its bigrams with the article is foreign to it
# (measured: appended spam 0–0.08 even against long articles; an article's own last
# paragraphs 0.2–0.4, the lowest seen 0.125).
_MAX_OVERLAP = 0.1
_TAIL_MAX_LINES = 30


def clean_text(text: str) -> tuple[str, str]:
    """Return ``(title, text)`` of a plain-text page.

    The first non-empty line is the title. The body keeps one paragraph per line,
    separated by a blank line, with indentation removed; tag debris, link-farm lines,
    paging lines (上一篇/下一篇), "原文地址" lines and short boilerplate lines are dropped,
    a "推荐阅读"-style heading ends the article (what follows lists other pages), and so
    does a trailing block unrelated to the article's vocabulary.
    """
    text = strip_tags(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [ln for ln in (norm_line(line) for line in text.split("\n")) if ln]
    # A list of titles is a link farm when its titles are foreign to the page's own prose.
    shaped = [looks_like_link_list(ln) for ln in lines]
    prose = [ln for ln, s in zip(lines, shaped, strict=True) if not s]
    vocabulary = _vocabulary(drop_unrelated_tail(prose[1:], prose[0]) if prose else [], prose[:1])
    title = ""
    body: list[str] = []
    for line, shape in zip(lines, shaped, strict=True):
        if shape and _overlap(bigrams(line), vocabulary) <= _MAX_OVERLAP:
            continue
        if not title:
            title = line
            continue
        if is_tail_marker(line):
            break
        if line.startswith(_SOURCE_LINE_LEADS):
            continue
        body.append(line)
    return title, "\n\n".join(drop_unrelated_tail(filter_lines(body), title))


def strip_tags(text: str) -> str:
    """``text`` without HTML tags or comments (each replaced by a space)."""
    return _TAG.sub(" ", text)


def is_link_farm(line: str, vocabulary: set[str] | None = None) -> bool:
    """True for one line of many short titles joined by separators, with no sentence in it,
    that share (almost) no words with ``vocabulary`` (the page's own bigrams, when given)."""
    if not looks_like_link_list(line):
        return False
    return vocabulary is None or _overlap(bigrams(line), vocabulary) <= _MAX_OVERLAP


def looks_like_link_list(line: str) -> bool:
    """The shape of a link farm: many short items joined by separators, no sentence."""
    core = _LEAD_LABEL.sub("", line)
    if _SENTENCE_END.search(core) or core.count("。") >= 2:
        return False
    items = [s for s in _SEPARATORS.split(core) if s]
    minimum = _FARM_MIN_ITEMS
    if len(items) < minimum:
        items = [s for s in _SPACES.split(core) if s]
        minimum = _FARM_SPACED_MIN_ITEMS
        if any(not _CJK_RUN.search(s) for s in items):
            return False  # dates, times, numbers and Latin words are joined by spaces in prose
    if len(items) < minimum:
        return False
    lengths = [len(s) for s in items]
    low, high = _FARM_ITEM_MEDIAN
    return low <= statistics.median(lengths) <= high and max(lengths) <= _FARM_ITEM_MAX


def bigrams(text: str) -> set[str]:
    """Pairs of adjacent Chinese characters, within runs (punctuation breaks a run)."""
    return {run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)}


def _overlap(grams: set[str], vocabulary: set[str]) -> float:
    return len(grams & vocabulary) / len(grams) if grams else 0.0


def _vocabulary(*blocks: list[str]) -> set[str]:
    return set().union(*(bigrams(p) for block in blocks for p in block))


def drop_unrelated_tail(paragraphs: list[str], title: str = "") -> list[str]:
    """``paragraphs`` without a trailing block whose vocabulary barely overlaps the article.

    The block is the longest run of trailing lines (within the last few) each of which,
    when it has enough words to judge, shares at most a tenth of its bigrams with the
    title and the paragraphs before the block. Lines too short to judge go with it.
    """
    grams_of = [bigrams(p) for p in paragraphs]
    first = max(1, len(paragraphs) - _TAIL_MAX_LINES)
    before = [bigrams(title).union(*grams_of[:first])]  # before[k]: the article up to line first + k
    for grams in grams_of[first:-1]:
        before.append(before[-1] | grams)
    judged = [i for i in range(first, len(paragraphs)) if len(grams_of[i]) >= _TAIL_MIN_BIGRAMS]
    cut = len(paragraphs)
    for k, c in reversed(list(enumerate(judged))):
        article = before[c - first]
        if len(article) < _TAIL_MIN_BODY_BIGRAMS:
            break
        if all(_overlap(grams_of[j], article) <= _MAX_OVERLAP for j in judged[k:]):
            cut = c
    return paragraphs[:cut]
