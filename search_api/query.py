"""From what a worker types to weighted engine terms.

normalise → fix pinyin typos → tokenise (the same path as the index) → drop
question filler → add thesaurus expansions at lower weight. Also spots article
citations (劳动合同法第47条) and region names, which the service turns into a
direct hit and a region boost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.citations import TitleRegistry, find_citations
from ingest.lexicon import Lexicon
from ingest.normalise import normalise, strip_controls
from ingest.segment import region_of
from ingest.tokenise import Tokeniser
from search_api.engines.base import Term

# Sub-words of a typed word count less than the word itself (search-mode tokens overlap).
SUBWORD_WEIGHT = 0.6
# A thesaurus expansion never outweighs the words typed; its own sub-words weigh less again.
MAX_EXPANSIONS_PER_TOKEN = 6
SINGLE_CHAR_WEIGHT = 0.3
NO_GROUP = -1
REGION_BOOST = 2.2


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

    @property
    def highlight_terms(self) -> list[str]:
        """Typed tokens plus expansions worth marking in snippets, longest first."""
        words = {t.text for t in self.terms if t.weight >= 0.5 and len(t.text) > 1} | set(self.tokens)
        return sorted(words, key=len, reverse=True)


def clean_query(q: str, max_chars: int) -> str:
    return re.sub(r"\s+", " ", strip_controls(q or "")).strip()[:max_chars]


def _subword_tokens(tok: Tokeniser, normalised: str) -> tuple[list[str], set[str]]:
    """Search-mode tokens and which of them are sub-words of a longer precise token."""
    precise = tok.cut_precise(normalised)
    search = tok.cut(normalised)
    whole = set(precise)
    return search, {t for t in search if t not in whole}


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
    corrected = lexicon.fix_typos(normalised)
    precise = [t for t in tok.cut_precise(corrected) if not lexicon.is_filler(t)]
    tokens: list[str] = []
    terms: dict[str, Term] = {}

    def add(term: str, w: float, group: int) -> None:
        if not term or lexicon.is_filler(term):
            return
        old = terms.get(term)
        if old is None or w > old.weight:
            terms[term] = Term(term, round(w, 3), old.group if old and old.weight >= w else group)

    for g, word in enumerate(dict.fromkeys(precise)):
        # A lone character carries little meaning on its own (月, 交, 能): it still
        # scores, lightly, but doesn't count as a concept the answer must cover.
        group = g if len(word) > 1 else NO_GROUP
        tokens.append(word)
        add(word, 1.0 if len(word) > 1 else SINGLE_CHAR_WEIGHT, group)
        subs = [t for t in tok.cut(word) if t != word]
        for sub in subs:
            add(sub, SUBWORD_WEIGHT, group)
        for source, factor in ((word, 1.0), *((sub, SUBWORD_WEIGHT) for sub in subs if len(sub) > 1)):
            for term, w in lexicon.expand(source)[:MAX_EXPANSIONS_PER_TOKEN]:
                for part in tok.cut(term):
                    add(part, w * factor * (1.0 if part == term else SUBWORD_WEIGHT), group)
    terms = list(terms.values())  # type: ignore[assignment]
    article_ids: list[str] = []
    if registry is not None:
        article_ids = [c.target for c in find_citations(corrected, registry) if c.target]
    region = None
    for t in tokens:
        r = region_of(t)
        if r != "全国" and len(t) >= 2:
            region = r
            break
    return Analysis(
        raw=raw,
        normalised=normalised,
        corrected=corrected,
        tokens=tokens,
        terms=terms,
        filler_only=bool(raw) and not terms,
        article_ids=article_ids,
        region=region,
    )


def suggest(analysis: Analysis, lexicon: Lexicon, tok: Tokeniser) -> str | None:
    """A "did you mean" query from typo fixes, thesaurus terms and dictionary words.

    Returns None when there is nothing better to offer than the query itself.
    """
    if analysis.corrected != analysis.normalised:
        return _content(analysis.corrected, lexicon, tok)
    legal: list[str] = []
    for t in analysis.tokens:
        exp = lexicon.expand(t)
        if exp:
            legal.append(exp[0][0])
        elif len(t) > 1 and t in lexicon.userdict:
            legal.append(t)
    if not legal:
        legal = _closest_words(analysis.corrected, lexicon)
    suggestion = " ".join(dict.fromkeys(legal))
    return suggestion if suggestion and suggestion != analysis.corrected else None


def _content(text: str, lexicon: Lexicon, tok: Tokeniser) -> str:
    return "".join(t for t in tok.cut_precise(text) if not lexicon.is_filler(t))


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)} or {s}


def _closest_words(text: str, lexicon: Lexicon, limit: int = 2) -> list[str]:
    """Dictionary and thesaurus words sharing the most character pairs with ``text``."""
    grams = _bigrams(text)
    scored = []
    for word in (*lexicon.thesaurus, *lexicon.userdict):
        if len(word) < 2:
            continue
        overlap = len(grams & _bigrams(word))
        if overlap:
            scored.append((overlap / len(_bigrams(word)), len(word), word))
    scored.sort(reverse=True)
    return [w for s, _, w in scored[:limit] if s >= 0.5]
