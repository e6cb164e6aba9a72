"""Pinyin typos the dictionary makes unambiguous (经济补尝 → 经济补偿, 实业金 → 失业金).

Pinyin input puts a wrong character with the right sound into a word. ``typos.txt``
lists the common ones by hand, some only in context; this module catches the rest, but
only where the project's dictionary decides:

* a stretch of 2–4 characters of the question that is not itself a word (neither in
  the general jieba dictionary nor in the lexicon) reads, syllable for syllable, like
  a legal term of the lexicon (user dictionary, thesaurus, typo corrections);
* it differs from that term in one character (two for a four-character term), the
  other characters being the same;
* exactly one lexicon term fits, and no word of the typed question (jieba's precise
  cut) reaches across the stretch's edge. Otherwise nothing is changed.

Longer stretches are tried first, and a stretch that is a real word is kept as typed,
so 事业单位 never becomes 失业单位 and 工商局 never becomes 工伤局.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

# Only single characters are read here: skip pypinyin's phrase dictionary (44 MB of RSS).
os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "true")
from pypinyin import Style, pinyin

from ingest.lexicon import Lexicon
from ingest.tokenise import Tokeniser

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
MIN_LEN, MAX_LEN = 2, 4
MAX_READINGS = 16  # pinyin keys per term (polyphonic characters multiply them)


@cache
def readings(char: str) -> tuple[str, ...]:
    """Toneless pinyin readings of one character (several for a polyphonic one)."""
    return tuple(dict.fromkeys(pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")[0]))


def pinyin_keys(word: str) -> list[tuple[str, ...]]:
    """Every syllable sequence ``word`` can be read as (at most MAX_READINGS)."""
    options = [readings(c) or (c,) for c in word]
    return list(itertools.islice(itertools.product(*options), MAX_READINGS))


def allowed_changes(length: int) -> int:
    return 2 if length >= 4 else 1


class HomophoneFixer:
    """Corrects normalised query text against a fixed set of legal terms."""

    def __init__(self, terms: Iterable[str], is_word: Callable[[str], bool], cut: Callable[[str], list[str]]):
        """``is_word``: the general dictionary; ``cut``: precise word segmentation of the query."""
        self.cut = cut
        self.terms = frozenset(t for t in terms if MIN_LEN <= len(t) <= MAX_LEN and _CJK_RUN.fullmatch(t))
        self.is_word = is_word
        self.by_sound: dict[tuple[str, ...], set[str]] = {}
        for term in self.terms:
            for key in pinyin_keys(term):
                self.by_sound.setdefault(key, set()).add(term)

    def candidate(self, window: str) -> str | None:
        """The one lexicon term ``window`` is a homophone typo of, or None."""
        found: set[str] = set()
        for key in pinyin_keys(window):
            for term in self.by_sound.get(key, ()):
                changed = sum(a != b for a, b in zip(term, window, strict=False))  # same length by construction
                if 0 < changed <= allowed_changes(len(window)):
                    found.add(term)
        return found.pop() if len(found) == 1 else None

    def fix(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """``text`` with homophone typos corrected, and the (typed, corrected) pairs."""
        fixes: list[tuple[str, str]] = []
        words: list[tuple[int, int]] | None = None  # segmented only once a candidate turns up

        def fix_run(m: re.Match[str]) -> str:
            nonlocal words
            run, out, i = m.group(), [], 0
            while i < len(run):
                for length in range(min(MAX_LEN, len(run) - i), MIN_LEN - 1, -1):
                    window = run[i : i + length]
                    if window in self.terms or self.is_word(window):
                        out.append(window)  # typed right: keep it whole
                        break
                    term = self.candidate(window)
                    if term and words is None:
                        words = self._word_spans(text)
                    start = m.start() + i
                    if term and not _straddles(words or [], start, start + length):
                        fixes.append((window, term))
                        out.append(term)
                        break
                else:
                    length = 1
                    out.append(run[i])
                i += length
            return "".join(out)

        return _CJK_RUN.sub(fix_run, text), fixes

    def _word_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each word of two or more characters in the typed text."""
        spans, pos = [], 0
        for word in self.cut(text):
            at = text.find(word, pos)
            if at < 0:
                continue
            pos = at + len(word)
            if len(word) > 1:
                spans.append((at, pos))
        return spans


def _straddles(words: list[tuple[int, int]], start: int, end: int) -> bool:
    """True when a word of the typed text reaches across the stretch's edge: in 原工资福利,
    派遣公司, 抵工资 the 工/公 belongs to 工资/公司, so 原工, 派遣公, 抵工 are no misspelt terms."""
    return any(s < end and e > start and (s < start or e > end) for s, e in words)


def lexicon_terms(lexicon: Lexicon) -> set[str]:
    """The legal terms a typo may be corrected to: the lexicon's own words."""
    terms = set(lexicon.userdict) | set(lexicon.thesaurus)
    terms.update(t for targets in lexicon.thesaurus.values() for t, _ in targets)
    terms.update(rule.correct for rule in lexicon.typo_rules)
    return terms


_FIXERS: dict[Path, HomophoneFixer] = {}


def fixer_for(lexicon: Lexicon, tok: Tokeniser) -> HomophoneFixer:
    """One fixer per lexicon directory, built on first use (about 0.1 s)."""
    fixer = _FIXERS.get(lexicon.directory)
    if fixer is None:
        fixer = _FIXERS[lexicon.directory] = HomophoneFixer(lexicon_terms(lexicon), tok.has_word, tok.cut_precise)
    return fixer
