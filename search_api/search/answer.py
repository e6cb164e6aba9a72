"""The answer first: the sentence of an article that answers the question, with its citation.

When the first hit is a confident article, the answer card shows one sentence (a 款 or one of
its 项) taken verbatim from an article among the first few hits, highlighted, with the
article's title, the everyday question of that article closest to the worker's question, and
the calculator for the question's topic. Nothing here is written by us: every word of the
card's answer is the statute's.

The sentence is chosen by the question's concepts (its analysed terms, grouped by the word typed,
so 花钱 meets 收费 through the thesaurus) and by the everyday question nearest to the question;
the question's highlight terms are marked in it. A sentence that contains none of the question's words is no answer:
then there is no card, even when the engine was confident.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ingest.model import Document
from ingest.normalise import normalise_aligned
from search_api.engines.base import Term
from search_api.search.highlight import find_spans, mark
from search_api.search.present import display_title, doc_url

CANDIDATES = 3  # articles among the first hits whose sentences compete
QUESTION_MIN_SIMILARITY = 0.25  # below this an everyday question is not "the same question"
# topic → calculator (search_api.calc.CALCULATORS names), first matching topic wins
CALCULATOR_FOR_TOPIC: dict[str, tuple[str, str]] = {
    "dismissal": ("severance", "经济补偿计算器"),
    "work_injury": ("work-injury", "工伤伤残待遇计算器"),
    "occupational_disease": ("work-injury", "工伤伤残待遇计算器"),
    "labor_contract": ("double-wage", "未签合同二倍工资计算器"),
    "overtime_hours": ("overtime", "加班费计算器"),
    "leave": ("annual-leave", "年休假计算器"),
    "dispute_resolution": ("deadline", "维权期限提醒"),
    "wage_arrears": ("deadline", "维权期限提醒"),
}
_LABEL = re.compile(r"^\s*第[零一二三四五六七八九十百千〇0-9]+条(之[一二三四五六七八九十]+)?\s*")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])")

Analyser = Callable[[str], Sequence[Term]]  # text → its weighted terms (search.query.analyse)
SIMILARITY_WEIGHT = 2.0  # an everyday question that is the same question weighs like two concepts


@dataclass(frozen=True)
class Sentence:
    text: str
    score: float


def sentences(text: str) -> list[str]:
    """An article's text → its sentences: each 款/项 (line) split after 。！？; the 第N条 label dropped."""
    out: list[str] = []
    for paragraph in re.split(r"\n+", _LABEL.sub("", text or "", count=1)):
        out.extend(s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip())
    return out


def concept_score(text: str, terms: Iterable[Term]) -> float:
    """How many of the question's concepts ``text`` contains: per typed concept, its best term's weight.

    A concept is a typed word with its sub-words and thesaurus expansions (``Term.group``), so
    a sentence saying 收费 answers 花钱 without counting 收费 and 费用 twice. Function words
    (group -1) count for nothing.
    """
    norm = normalise_aligned(" ".join(text.split()))
    best: dict[int, float] = {}
    for t in terms:
        if t.group >= 0 and t.text in norm:
            best[t.group] = max(best.get(t.group, 0.0), t.weight)
    return sum(best.values())


def _words(terms: Iterable[Term]) -> set[str]:
    return {t.text for t in terms if t.weight >= 0.5 and t.group >= 0}


def similarity(a: set[str], b: set[str]) -> float:
    """Overlap of two term sets (Dice): 1 for the same terms, 0 for none in common."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def nearest_question(
    terms: Sequence[Term], doc: Document, analyser: Analyser
) -> tuple[str | None, float, Sequence[Term]]:
    """The article's everyday question closest to the query, how close, and its terms (None, 0 when none is close)."""
    words = _words(terms)
    best: tuple[str | None, float, Sequence[Term]] = (None, 0.0, ())
    for question in doc.questions:
        q_terms = analyser(question)
        sim = similarity(words, _words(q_terms))
        if sim > best[1]:
            best = (question, sim, q_terms)
    return best if best[1] >= QUESTION_MIN_SIMILARITY else (None, 0.0, ())


def best_sentence(doc: Document, terms: Sequence[Term], question_terms: Sequence[Term]) -> Sentence | None:
    """The sentence with most of the question's concepts (then of its everyday twin's); None when none has any."""
    best: Sentence | None = None
    for text in sentences(doc.text):
        score = concept_score(text, terms)
        if score:
            score += 0.5 * concept_score(text, question_terms)
        if score and (best is None or score > best.score):
            best = Sentence(text, score)
    return best


def calculator_for(topics: Iterable[str]) -> dict[str, str] | None:
    """The calculator for the first topic that has one: ``{"name", "title", "url"}``."""
    for topic in topics:
        if topic in CALCULATOR_FOR_TOPIC:
            name, title = CALCULATOR_FOR_TOPIC[topic]
            return {"name": name, "title": title, "url": f"/calc/{name}"}
    return None


def answer_card(
    docs: list[Document], terms: list[Term], highlight: list[str], topics: list[str], analyser: Analyser
) -> dict[str, Any] | None:
    """The card for the first hits' documents (best first), or None when no sentence answers.

    ``docs`` must start with a confident article; the caller decides confidence. The
    candidates are the articles among the first ``CANDIDATES`` documents; the one whose best
    sentence scores highest (ties: the better-ranked) gives the card.
    """
    if not docs or docs[0].kind != "article":
        return None
    best: tuple[float, Document, Sentence, str | None] | None = None
    for doc in [d for d in docs[:CANDIDATES] if d.kind == "article"]:
        question, sim, question_terms = nearest_question(terms, doc, analyser)
        sentence = best_sentence(doc, terms, question_terms)
        if sentence is None:
            continue
        score = concept_score(sentence.text, terms) + SIMILARITY_WEIGHT * sim
        if best is None or score > best[0]:
            best = (score, doc, sentence, question)
    if best is None:
        return None
    _, doc, sentence, question = best
    citation = display_title(doc)
    flat = " ".join(sentence.text.split())
    return {
        "id": doc.id,
        "url": doc_url(doc.id),
        "sentence": flat,
        "highlighted": mark(flat, find_spans(flat, highlight)),
        "citation": citation,
        "quote": f"{flat}——{citation}",
        "source_title": doc.source_title,
        "article": doc.article,
        "question": question,
        "calculator": calculator_for([*topics, *doc.topics]),
    }
