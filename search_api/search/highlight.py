"""Snippets and highlights computed on the original text (never on space-joined tokens).

Terms are found in the aligned normalised text (same length as the original, so
traditional characters and full-width digits still match) and the positions are
marked in the original.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache
from html import escape

from ingest.normalise import normalise_aligned

SNIPPET_CHARS = 120
# Texts whose flattened and normalised forms are kept: the same few hundred articles answer most
# questions, and normalising one (OpenCC over the whole text) was a third of a snippet's cost.
ALIGNED_CACHE = 1024


def find_spans(text: str, terms: list[str], norm: str | None = None) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of ``terms`` in ``text``; longer terms win.

    ``norm`` is ``normalise_aligned(text)`` when the caller already has it.
    """
    norm = normalise_aligned(text) if norm is None else norm
    taken = bytearray(len(norm))
    spans: list[tuple[int, int]] = []
    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        start = norm.find(term)
        while start != -1:
            end = start + len(term)
            if not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                spans.append((start, end))
            start = norm.find(term, end)
    spans.sort()
    return spans


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """HTML-escaped ``text[start:end]`` with the spans inside it wrapped in <mark>."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(escape(text[pos:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(escape(text[pos:end]))
    return "".join(out)


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """The window of ``width`` characters with the most distinct matched terms, marked up."""
    flat, norm = _flat_aligned(text)
    spans = find_spans(flat, terms, norm)
    if not spans:
        return escape(flat[:width]) + ("…" if len(flat) > width else "")
    best, best_score = 0, -1
    starts = [a for a, _ in spans]
    for s, _ in spans:
        begin = max(0, s - width // 4)
        # the spans inside [begin, begin + width): sorted and non-overlapping, so a run from the first
        window = []
        for a, b in spans[bisect_left(starts, begin) :]:
            if a >= begin + width:
                break
            if b <= begin + width:
                window.append(norm[a:b])
        score = len(set(window)) * 10 + len(window)
        if score > best_score:
            best, best_score = begin, score
    begin = best
    # start at a sentence or clause boundary when one is close
    for i in range(begin, max(0, begin - 20), -1):
        if i == 0 or flat[i - 1] in "。；;：:，,\n ":
            begin = i
            break
    end = min(len(flat), begin + width)
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(flat) else ""
    return prefix + mark(flat, spans, begin, end) + suffix


@lru_cache(maxsize=ALIGNED_CACHE)
def _flat_aligned(text: str) -> tuple[str, str]:
    """``text`` with its whitespace runs made one space, and that aligned-normalised."""
    flat = " ".join(text.split())
    return flat, normalise_aligned(flat)
