"""One normaliser for index and query text: traditional → simplified, full-width → half-width, lower case.

``normalise`` keeps the length of its input whenever OpenCC converts character for
character, which lets highlights found on normalised text map straight back onto
the original; ``normalise_aligned`` guarantees it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc

# Full-width ASCII block and the ideographic space map to plain ASCII.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    # s2tw: Taiwan standard characters (為, 裡, 著), not OpenCC's own inherited forms (爲, 裏, 着);
    # characters only, no phrase changes (s2twp would turn 软件 into 軟體 inside the statutes).
    return opencc.OpenCC("s2tw")


def fullwidth_to_halfwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


def normalise(text: str) -> str:
    """Text as the index sees it. The original is kept separately for display."""
    return _t2s().convert(fullwidth_to_halfwidth(text)).lower()


@lru_cache(maxsize=4096)
def _char_t2s(ch: str) -> str:
    out = _t2s().convert(ch)
    return out if len(out) == 1 else ch


def normalise_aligned(text: str) -> str:
    """Like ``normalise`` but always the same length as ``text`` (position i ↔ position i)."""
    out = normalise(text)
    if len(out) == len(text):
        return out
    # Phrase-level conversion changed the length: fall back to char-by-char.
    return "".join(_char_t2s(c) for c in fullwidth_to_halfwidth(text)).lower()


def to_traditional(text: str) -> str:
    """Simplified → traditional in Taiwan standard forms, for the site's 繁/简 switch."""
    return _s2t().convert(text)


def strip_controls(text: str) -> str:
    """Drop control and format characters (keeps newlines and tabs)."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
