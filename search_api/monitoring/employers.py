"""Employer names in queries: finding them, one spelling per employer, and masking them.

The query log stores the employers a query names (:meth:`Recogniser.extract`) so the warning
monitor can count visitors per employer; everything the log shows (feed, dashboard, CSV)
passes through :meth:`Recogniser.mask`, so an employer fewer than K visitors asked about is
never revealed. A name is found, in this order, as

1. an alias of a listed employer — the union's list (``employer_list``), the lexicon's
   ``employer_aliases.txt`` (``alias = canonical name`` per line), then the built-in brands
   (``brands``) — with what follows it when that is a branch or a legal form (华为技术有限公司,
   海底捞五四广场店); a short alias counts only where jieba, told about the aliases, cuts a
   word boundary (京东 is not in 北京东城区);
2. a name with an employer's ending (宏达五金厂, 华强电子有限公司, 宏达物流青岛分公司);
3. a name on no list, from how the question is built (X拖欠工资, X倒闭了, 在X上班,
   X的老板跑了, 被X辞退), when ``employer_rules.plausible`` accepts it.

Text is matched after ``normalise_aligned`` (traditional → simplified, same length), so 華為
is 华为, and positions map back onto the text as typed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.normalise import normalise, normalise_aligned
from search_api.monitoring import employer_rules as rules
from search_api.monitoring.brands import builtin_aliases

ALIASES_FILE = "employer_aliases.txt"
MASK = "[用人单位]"

Aliases = tuple[tuple[str, str], ...]

_SUFFIX_ALT = "|".join(rules.SUFFIXES)
_EMPLOYER_RE = re.compile(rf"[0-9a-z\u4e00-\u9fff()（）·&]{{2,24}}?(?:{_SUFFIX_ALT})")
# Words that end the sentence part before a name: "我在X厂上班", "X公司老板跑路了".
_LEAD_CUT_RE = re.compile(
    r".*(?:我们|我在|我们在|我|在|被|了|的|给|从|到|跟|向|对|是|问|去|找|请问|关于|这家|那家|一家|某|和|与|说)"
)
_ENDINGS = "|".join(sorted(set(rules.SUFFIXES) | set(rules.BRANCH_ENDINGS), key=len, reverse=True))
_TAIL = rf"(?P<tail>{rules.NAME_CHAR}{{0,6}}?(?:{_ENDINGS}))?"
_BRANCH_RE = re.compile(rf"{rules.NAME_CHAR}{{0,6}}?(?:{'|'.join(rules.BRANCH_ENDINGS)})")
_BLANK = "\x00"  # stands in for text already recognised, so later steps skip it


@dataclass(frozen=True)
class Found:
    """An employer named at ``text[start:end]``, counted as ``name``."""

    start: int
    end: int
    name: str


@lru_cache(maxsize=8)
def _aliases_cached(path: str, mtime: float) -> Aliases:
    pairs = []
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{no}: expected 'alias = canonical name'")
        alias, canonical = (s.strip() for s in line.split("=", 1))
        if not alias or not canonical:
            raise ValueError(f"{path}:{no}: empty alias or name")
        pairs.append((alias, canonical))
    return tuple(pairs)


def load_aliases(path: Path | str) -> Aliases:
    """``(alias, canonical)`` pairs from the alias file (``alias = canonical`` per line); () if absent."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        return ()
    return _aliases_cached(str(path), mtime)


def lexicon_aliases(lexicon_dir: Path | str) -> Aliases:
    """The aliases of the lexicon directory's ``employer_aliases.txt`` (re-read when it changes)."""
    return load_aliases(Path(lexicon_dir) / ALIASES_FILE)


def canonical_employer(name: str) -> str:
    """One spelling per employer: simplified, full-width brackets, 有限责任/股份有限公司 → 有限公司."""
    name = normalise(name).strip().replace("(", "（").replace(")", "）")
    for long in ("股份有限公司", "有限责任公司"):
        if name.endswith(long):
            name = name[: -len(long)] + "有限公司"
    return name


class _Segmenter:
    """jieba with every alias as a word, to tell 京东 from 北京东城区 (shared, words only added)."""

    def __init__(self) -> None:
        self._jieba = None
        self._words: set[str] = set()
        self._lock = threading.Lock()

    def boundaries(self, text: str, words: Iterable[str]) -> set[int]:
        with self._lock:
            if self._jieba is None:
                import rjieba

                self._jieba = rjieba.Jieba()
            for word in words:
                if word not in self._words:
                    self._jieba.add_word(word, None, None)
                    self._words.add(word)
            cuts, pos = {0}, 0
            for token in self._jieba.cut(text, True):
                pos += len(token)
                cuts.add(pos)
            return cuts


_SEGMENTER = _Segmenter()


class Recogniser:
    """Finds and masks employer names with one set of aliases and excluded words.

    ``aliases`` are ``(alias, name)`` pairs in order of precedence: the first source to list
    an alias decides its name, and a later source's name that an earlier one renamed follows it
    (the lexicon's 富士康 = 富士康科技集团 renames the built-in 富士康 and its aliases).
    ``excluded`` words are never employers (the union's corrections).
    """

    def __init__(self, aliases: Iterable[tuple[str, str]] = (), excluded: Iterable[str] = ()):
        self.excluded = frozenset(normalise(w).strip() for w in excluded if w.strip())
        names: dict[str, str] = {}
        for alias, name in aliases:
            key, canonical = normalise(alias).strip(), canonical_employer(name)
            canonical = names.get(canonical, canonical)
            if len(key) < 2 or key in names or key in self.excluded or canonical in self.excluded:
                continue
            names[key] = canonical
        self.names = names
        self._short = [a for a in names if len(a) <= 3]
        alternatives = "|".join(re.escape(a) for a in sorted(names, key=len, reverse=True))
        self._alias_re = re.compile(rf"(?P<alias>{alternatives}){_TAIL}") if names else None

    # -- finding

    def find(self, text: str) -> list[Found]:
        """Every employer named in ``text``, in order of position."""
        norm = normalise_aligned(text)
        work = list(norm)
        found: list[Found] = []

        def take(start: int, end: int, name: str) -> None:
            found.append(Found(start, end, name))
            work[start:end] = _BLANK * (end - start)

        if self._alias_re is not None:
            cuts: set[int] | None = None
            for m in self._alias_re.finditer(norm):
                alias = m.group("alias")
                if len(alias) <= 3:
                    cuts = cuts if cuts is not None else _SEGMENTER.boundaries(norm, self._short)
                    if m.start() not in cuts or m.end("alias") not in cuts:
                        continue
                branch = _BRANCH_RE.match(norm, m.end())
                take(m.start(), branch.end() if branch else m.end(), self.names[alias])
        for m in _EMPLOYER_RE.finditer("".join(work)):
            lead = _LEAD_CUT_RE.match(m.group(0))
            raw = m.group(0)[lead.end() :] if lead else m.group(0)
            name = rules.trim_head(raw)
            start = m.end() - len(name)
            if self._names_one(name):
                end = m.end()
                branch = _BRANCH_RE.match("".join(work), end)
                if branch:
                    end = branch.end()
                take(start, end, canonical_employer(name))
        for pattern in rules.CONTEXT_PATTERNS:
            for m in pattern.finditer("".join(work)):
                raw = m.group("name")
                name = rules.trim(raw)
                # a name with an employer's ending had its chance in the step before
                if rules.stem_of(name) != name or name in self.names or not rules.plausible(name, self.excluded):
                    continue
                start = m.start("name") + raw.index(name)
                take(start, start + len(name), canonical_employer(name))
        found.sort(key=lambda f: f.start)
        return found

    def _names_one(self, name: str) -> bool:
        if name in self.excluded or canonical_employer(name) in self.excluded:
            return False
        return rules.plausible_stem(rules.stem_of(name), self.excluded)

    def extract(self, text: str) -> list[str]:
        """Employer names in a (redacted) query, canonical and de-duplicated.

        >>> Recogniser().extract("我在深圳华强电子厂上班，老板欠薪跑路了")
        ['深圳华强电子厂']
        """
        return list(dict.fromkeys(f.name for f in self.find(text)))

    # -- masking

    def mask(self, text: str, allowed: set[str] | frozenset[str] = frozenset()) -> str:
        """``text`` with every employer not in ``allowed`` replaced by ``[用人单位]``."""
        return self.mask_found(text, allowed)[0]

    def mask_found(self, text: str, allowed: set[str] | frozenset[str] = frozenset()) -> tuple[str, list[str]]:
        """:meth:`mask`, and the normalised spellings it hid (to hide them in tokens too)."""
        out, pos, hidden = [], 0, []
        for f in self.find(text):
            if f.name in allowed or f.start < pos:
                continue
            out.append(text[pos : f.start])
            out.append(MASK)
            hidden.append(normalise(text[f.start : f.end]))
            pos = f.end
        out.append(text[pos:])
        return "".join(out), hidden


def hide_tokens(tokens: list[str], hidden: list[str]) -> list[str]:
    """Tokens with every piece of a hidden name replaced by ``[用人单位]`` (华为 of 华为拖欠工资)."""
    if not hidden:
        return tokens
    out = []
    for token in tokens:
        t = normalise(str(token))
        hit = any((len(t) >= 2 and t in h) or h in t for h in hidden)
        out.append(MASK if hit else token)
    return list(dict.fromkeys(out))


@lru_cache(maxsize=16)
def _recogniser(aliases: Aliases) -> Recogniser:
    return Recogniser((*aliases, *builtin_aliases()))


def extract_employers(text: str, aliases: Aliases = ()) -> list[str]:
    """Employer names in ``text`` with ``aliases`` before the built-in brands (see :class:`Recogniser`).

    >>> extract_employers("华为拖欠工资怎么办")
    ['华为']
    """
    return _recogniser(tuple(aliases)).extract(text)


def mask_employers(text: str, aliases: Aliases = (), allowed: set[str] | frozenset[str] = frozenset()) -> str:
    """Replace employer names in ``text`` by ``[用人单位]`` unless their canonical name is ``allowed``."""
    return _recogniser(tuple(aliases)).mask(text, allowed)
