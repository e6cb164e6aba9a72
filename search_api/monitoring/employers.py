"""Employer names in queries: finding them, one spelling per employer, and masking them.

The query log stores the employers a query names (:func:`extract_employers`) so the warning
monitor can count visitors per employer; everything the log shows (feed, dashboard, CSV)
passes through :func:`mask_employers`, so an employer fewer than K visitors asked about is
never revealed. Known nicknames map to one name through ``employer_aliases.txt`` in the
lexicon directory (``alias = canonical name`` per line).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

ALIASES_FILE = "employer_aliases.txt"
MASK = "[用人单位]"

Aliases = tuple[tuple[str, str], ...]

_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司", "工地", "厂", "店")
_NAME_CHARS = r"0-9A-Za-z\u4e00-\u9fff()（）·&"
_EMPLOYER_RE = re.compile(rf"[{_NAME_CHARS}]{{2,24}}?(?:{'|'.join(_SUFFIXES)})")
# Words that end the sentence part before a name: "我在X厂上班", "X公司老板跑路了".
_LEAD_CUT_RE = re.compile(
    r".*(?:我们|我在|我们在|我|在|被|了|的|给|从|到|跟|向|对|是|问|去|找|请问|关于|这家|那家|一家|某)"
)
# Stems that name a kind of employer, not one employer ("服装厂", "外包公司"), space-separated.
_GENERIC_STEMS = """
工 本 该 这 那 这个 那个 黑 小 大 分 子 母 总 我们 他们 原 新 老
外包 劳务 劳务派遣 派遣 中介 个体 用人 私人 工程 建筑 服装 电子 加工 食品
商 饭 酒 网 药 物业 保险 快递 外卖 上市 国有 民营 有限
"""
_GENERIC = frozenset(_GENERIC_STEMS.split())


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
    # longest alias first, so 富士康科技 wins over 富士康
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


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
    """One spelling per employer: full-width brackets, 有限责任/股份有限公司 → 有限公司."""
    name = name.replace("(", "（").replace(")", "）")
    for long in ("股份有限公司", "有限责任公司"):
        if name.endswith(long):
            name = name[: -len(long)] + "有限公司"
    return name


def _split_lead(match: str) -> tuple[str, str]:
    """``(words before the name, the name)`` of a regex match such as ``我在华强电子厂``."""
    lead = _LEAD_CUT_RE.match(match)
    return (match[: lead.end()], match[lead.end() :]) if lead else ("", match)


def _names_one_employer(name: str) -> bool:
    stem = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
    return not (len(stem) < 2 or stem in _GENERIC or stem.isdigit())


def extract_employers(text: str, aliases: Aliases = ()) -> list[str]:
    """Employer names in a (redacted) query, canonical and de-duplicated.

    >>> extract_employers("我在深圳华强电子厂上班，老板欠薪跑路了")
    ['深圳华强电子厂']
    """
    found: list[str] = []
    rest = text
    for alias, canonical in aliases:
        if alias in rest:
            found.append(canonical)
            rest = rest.replace(alias, " ")
    for match in _EMPLOYER_RE.finditer(rest):
        _, name = _split_lead(match.group(0))
        if _names_one_employer(name):
            found.append(canonical_employer(name))
    return list(dict.fromkeys(found))


def mask_employers(text: str, aliases: Aliases = (), allowed: set[str] | frozenset[str] = frozenset()) -> str:
    """Replace employer names in ``text`` by ``[用人单位]`` unless their canonical name is ``allowed``.

    Shown lists (dashboard, CSV, feed) use this with the employers that already have a
    warning, so an employer fewer than K visitors asked about is never revealed.
    """
    for alias, canonical in aliases:
        if alias in text and canonical not in allowed:
            text = text.replace(alias, MASK)

    def repl(match: re.Match[str]) -> str:
        head, name = _split_lead(match.group(0))
        if not _names_one_employer(name) or canonical_employer(name) in allowed:
            return match.group(0)
        return head + MASK

    return _EMPLOYER_RE.sub(repl, text)
