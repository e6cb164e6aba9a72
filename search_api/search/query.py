"""From what a worker types to weighted engine terms.

normalise → fix pinyin typos (the listed ones, then homophones of lexicon terms) → tokenise (the
same path as the index) → drop question filler → add thesaurus expansions at lower weight. Also spots article
citations (劳动合同法第47条) and region names, which the service turns into a
direct hit and a region boost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.citations import TitleRegistry, find_citations
from ingest.lexicon import Lexicon
from ingest.normalise import normalise, strip_controls
from ingest.segment import CITIES, region_of
from ingest.tokenise import Tokeniser
from search_api.engines.base import Term
from search_api.search.homophones import fixer_for

# Sub-words of a typed word count less than the word itself (search-mode tokens overlap).
SUBWORD_WEIGHT = 0.6
# A thesaurus expansion never outweighs the words typed; its own sub-words weigh less again.
MAX_EXPANSIONS_PER_TOKEN = 6
SINGLE_CHAR_WEIGHT = 0.3
NO_GROUP = -1
# The parties of every labour question say who, not what: an article answering
# "公司不给交社保" says 用人单位 or nobody at all, so they never decide coverage.
ROLE_WORDS = frozenset(
    {"公司", "老板", "单位", "用人单位", "厂里", "工厂", "厂", "员工", "工人", "劳动者", "职工", "我", "我们"}
)
NEGATIONS = frozenset({"不", "没", "没有", "未", "无", "别"})
WEAK_WEIGHT = 0.8

# A quantity (三个, 五个月, 一年, 几天, 98天) describes the situation, it isn't a concept
# an answer must contain: only its unit is kept, as a light single-character term, so
# "产假有几天" still favours the article that counts days.
_QUANTITY = re.compile(
    r"^(?:[0-9零〇一二两三四五六七八九十百千万半几]+|多少)(个月|个|周岁|岁|年|月|周|天|日|小时|次|倍|元|块|名|人)?$"
)
_EMPTY_UNITS = frozenset({"个", "名", "人"})


@dataclass
class Analysis:
    raw: str
    normalised: str
    corrected: str  # after typo fixes
    tokens: list[str]  # content tokens as typed (filler removed)
    terms: list[Term]
    filler_only: bool = False
    article_ids: list[str] = field(default_factory=list)  # articles named in the query
    region: str | None = None
    semantic_text: str = ""  # what the embedding model reads: the corrected sentence without filler at its ends

    @property
    def highlight_terms(self) -> list[str]:
        """Typed tokens plus expansions worth marking in snippets, longest first."""
        words = {t.text for t in self.terms if t.weight >= 0.5 and len(t.text) > 1} | set(self.tokens)
        return sorted(words, key=len, reverse=True)


def clean_query(q: str, max_chars: int) -> str:
    return re.sub(r"\s+", " ", strip_controls(q or "")).strip()[:max_chars]


_PLACE_SUFFIXES = ("", "省", "市", "自治区", "地区")


def _asked_region(token: str) -> str | None:
    """The province a token names as a place (上海, 山东省, 郑州市); not 河南人 or 上海话."""
    if len(token) < 2:
        return None
    region = region_of(token)
    if region == "全国":
        return None
    for name in (region, *(c for c, p in CITIES.items() if p == region)):
        if token.startswith(name) and token[len(name) :] in _PLACE_SUFFIXES:
            return region
    return None


def _known(word: str, lexicon: Lexicon) -> bool:
    return word in lexicon.userdict or word in lexicon.thesaurus


def _strip_filler_affixes(word: str, lexicon: Lexicon, tok: Tokeniser) -> str:
    """能休 → 休, 签了 → 签: jieba's guesser glues a filler character to an unknown word.

    Only words the dictionary doesn't know are stripped, so 会计 or 可能 stay whole.
    """
    if tok.has_word(word) or _known(word, lexicon):
        return word
    while len(word) > 1 and lexicon.is_filler(word[0]):
        word = word[1:]
    while len(word) > 1 and lexicon.is_filler(word[-1]):
        word = word[:-1]
    return "" if lexicon.is_filler(word) else word


PASSIVE = "被"
PASSIVE_REACH = 2  # the agent between 被 and its verb: 被|老板|炒了, 被|黑心|老板|开除 is too far


DISPOSAL = "把"  # 公司把我开了: what the company did to me is what I underwent, 被开
FIRST_PERSON = frozenset({"我", "俺", "咱", "我们"})


def _passive_verbs(precise: list[str], lexicon: Lexicon) -> list[str]:
    """Glue the passive marker back to its verb across the agent: 被老板炒了 is cut 被/老板/炒/了,
    and 被 alone is filler; the lexicon knows 被炒 (dismissed), so the verb becomes 被炒. The
    把-construction with the worker as its object says the same: 公司把我开了 → 被开."""
    out = list(precise)
    for i, word in enumerate(out):
        if word == PASSIVE:
            reach = range(i + 1, min(len(out), i + 1 + PASSIVE_REACH))
        elif word == DISPOSAL and i + 2 < len(out) and out[i + 1] in FIRST_PERSON:
            reach = range(i + 2, i + 3)
        else:
            continue
        for j in reach:
            if _known(PASSIVE + out[j], lexicon):
                out[j] = PASSIVE + out[j]
                break
    return out


def _content_words(precise: list[str], lexicon: Lexicon, tok: Tokeniser) -> list[str]:
    """Precise tokens minus filler, filler affixes and quantities (a quantity keeps its unit)."""
    out = []
    for word in _passive_verbs(precise, lexicon):
        if lexicon.is_filler(word):
            continue
        if not _known(word, lexicon):
            m = _QUANTITY.match(word)
            if m:
                unit = m.group(1) or ""
                if unit and unit not in _EMPTY_UNITS:
                    out.append(unit[-1])
                continue
            word = _strip_filler_affixes(word, lexicon, tok)
        if word:
            out.append(word)
    return _join_lexicon_phrases(out, lexicon)


MAX_JOIN = 4


def _join_lexicon_phrases(words: list[str], lexicon: Lexicon) -> list[str]:
    """Rejoin neighbours that form a lexicon word once filler between them is gone.

    不给交社保 is cut 不/给/交/社保; without 给 the words spell 不交社保, a thesaurus
    entry that knows the legal wording. Only whole lexicon words are rebuilt, longest first.
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        for j in range(min(len(words), i + MAX_JOIN), i + 1, -1):
            phrase = "".join(words[i:j])
            if _known(phrase, lexicon):
                out.append(phrase)
                i = j
                break
        else:
            out.append(words[i])
            i += 1
    return out


def analyse(
    q: str,
    lexicon: Lexicon,
    tok: Tokeniser,
    registry: TitleRegistry | None = None,
    max_chars: int = 200,
) -> Analysis:
    """Analyse a query; never raises on odd input (operators, quotes, control characters …)."""
    raw = clean_query(q, max_chars)
    normalised = normalise(raw)
    corrected, _ = fixer_for(lexicon, tok).fix(lexicon.fix_typos(normalised))
    cut = tok.cut_precise(corrected)
    precise = _content_words(cut, lexicon, tok)
    tokens: list[str] = []
    by_text: dict[str, Term] = {}

    def add(term: str, w: float, group: int) -> None:
        if not term or lexicon.is_filler(term):
            return
        old = by_text.get(term)
        if old is None or w > old.weight:
            by_text[term] = Term(term, round(w, 3), old.group if old and old.weight >= w else group)

    for g, word in enumerate(dict.fromkeys(precise)):
        # A lone character (月, 交, 能), a party (公司) or a bare negation (没有) carries
        # little meaning on its own: it still scores, lightly, but doesn't count as a
        # concept the answer must cover.
        weak = len(word) == 1 or word in ROLE_WORDS or word in NEGATIONS
        group = NO_GROUP if weak else g
        tokens.append(word)
        add(word, (SINGLE_CHAR_WEIGHT if len(word) == 1 else WEAK_WEIGHT) if weak else 1.0, group)
        subs = [t for t in tok.cut(word) if t != word]
        for sub in subs:
            add(sub, SUBWORD_WEIGHT, group)
        for source, factor in ((word, 1.0), *((sub, SUBWORD_WEIGHT) for sub in subs if len(sub) > 1)):
            for term, w in lexicon.expand(source)[:MAX_EXPANSIONS_PER_TOKEN]:
                for part in tok.cut(term):
                    add(part, w * factor * (1.0 if part == term else SUBWORD_WEIGHT), group)
    terms = list(by_text.values())
    article_ids: list[str] = []
    if registry is not None:
        article_ids = [c.target for c in find_citations(corrected, registry) if c.target]
    region = next((r for r in map(_asked_region, tokens) if r), None)
    return Analysis(
        raw=raw,
        normalised=normalised,
        corrected=corrected,
        tokens=tokens,
        terms=terms,
        filler_only=bool(raw) and not terms,
        article_ids=article_ids,
        region=region,
        semantic_text=_trim_filler(cut, lexicon) or corrected,
    )


_EDGE_PUNCT = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def _trim_filler(cut: list[str], lexicon: Lexicon) -> str:
    """The sentence without the politeness and particles at its ends (请问 … 呢？谢谢): they say
    nothing about the problem but move its embedding; the inside stays whole, as it was typed."""

    def empty(word: str) -> bool:
        return not _EDGE_PUNCT.sub("", word) or lexicon.is_filler(word)

    start, end = 0, len(cut)
    while start < end and empty(cut[start]):
        start += 1
    while end > start and empty(cut[end - 1]):
        end -= 1
    return "".join(cut[start:end])


def suggest(analysis: Analysis, lexicon: Lexicon, tok: Tokeniser) -> str | None:
    """A "did you mean" query from typo fixes, thesaurus terms and dictionary words.

    * a query with a known pinyin typo: the corrected query (工伤认证要多久 → 工伤认定要多久);
    * otherwise each content word becomes its main legal term (炒鱿鱼 → 解除劳动合同), a
      dictionary word stays, and an unknown word becomes the closest lexicon word by
      shared character pairs (劳动合tong → 劳动合同, 鱿鱼 → 炒鱿鱼).

    Returns None when there is nothing better to offer than the query itself.
    """
    if analysis.corrected != analysis.normalised:
        return analysis.corrected
    words: list[str] = []
    for t in analysis.tokens:
        exp = lexicon.expand(t)
        if t in ROLE_WORDS or t in NEGATIONS:
            words.append(t)
        elif exp:
            words.append(exp[0][0])
        elif len(t) > 1 and (t in lexicon.userdict or tok.has_word(t)):
            words.append(t)
        else:
            words.extend(_closest_words(t, lexicon, limit=1))
    if not any(w not in analysis.tokens for w in words):
        # compare the Chinese text only: pinyin left in (劳动合tong) shares no pairs
        words = _closest_words(re.sub(r"[^\u3400-\u9fff]", "", analysis.corrected), lexicon, limit=1)
    suggestion = " ".join(dict.fromkeys(words))
    return suggestion if suggestion and suggestion != analysis.corrected else None


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)} or {s}


MIN_SIMILARITY = 1 / 3


def _closest_words(text: str, lexicon: Lexicon, limit: int = 2) -> list[str]:
    """Lexicon words most like ``text`` (Jaccard similarity of character pairs), shortest first on ties."""
    grams = _bigrams(text)
    scored = []
    for word in dict.fromkeys((*lexicon.thesaurus, *lexicon.userdict)):
        if len(word) < 2 or word == text:
            continue
        other = _bigrams(word)
        overlap = len(grams & other)
        if overlap:
            scored.append((-overlap / len(grams | other), len(word), word))
    scored.sort()
    return [w for s, _, w in scored[:limit] if -s >= MIN_SIMILARITY]
