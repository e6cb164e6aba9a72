"""Everyday questions: how workers ask about an article, written from the article's own text.

The project's ``ingest/resources/everyday/<law file stem>.jsonl`` files hold, one JSON object per line,

    {"article": "labor-contract-law.47", "questions": ["被公司辞退能拿几个月工资的补偿", …]}

Each article of the national texts that gives a worker a right, a duty, an amount, a deadline
or a procedure has three to eight questions as different workers would type them. They are the
document side of the concept layer: indexed with the article (a field of its own on both
engines, and embedded for the semantic retriever), so a worker's own words find it, and shown
on the article page as 常见问题. A text without numbered articles (a notice) takes one entry for
the whole document, named by its file stem, and so does a case (``<case file stem>.jsonl``: the
situations a worker would tell, which its ruling decides). ``ingest/resources/everyday/README.md`` describes the format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

MIN_QUESTIONS = 3
MAX_QUESTIONS = 8
MIN_CHARS, MAX_CHARS = 6, 60
# <law file stem>.<article number>, or <stem> alone for a text without numbered articles
ARTICLE_ID = re.compile(r"[\w-]+(?:\.\d+)?")


class EverydayError(ValueError):
    """A malformed or dangling entry; names the file and line."""

    def __init__(self, path: Path, line_no: int, message: str):
        super().__init__(f"{path}:{line_no}: {message}")
        self.path, self.line_no = path, line_no


@dataclass(frozen=True)
class Entry:
    article: str
    questions: tuple[str, ...]
    path: Path
    line_no: int


def default_dir(lexicon_dir: Path | None) -> Path | None:
    """The ``everyday`` directory beside the lexicon directory, when it exists."""
    if lexicon_dir is None:
        return None
    candidate = Path(lexicon_dir).parent / "everyday"
    return candidate if candidate.is_dir() else None


def load_entries(directory: Path | None) -> list[Entry]:
    """Every entry under ``directory`` (none when it is None). Raises ``EverydayError``."""
    if directory is None:
        return []
    entries: list[Entry] = []
    seen: dict[str, tuple[Path, int]] = {}
    for path in sorted(Path(directory).glob("*.jsonl")):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            entry = _parse(path, no, line)
            if entry.article != path.stem and not entry.article.startswith(path.stem + "."):
                raise EverydayError(path, no, f"{entry.article} is not an article of {path.stem}")
            if entry.article in seen:
                first = seen[entry.article]
                raise EverydayError(path, no, f"{entry.article} already has questions at {first[0].name}:{first[1]}")
            seen[entry.article] = (path, no)
            entries.append(entry)
    return entries


def _parse(path: Path, no: int, line: str) -> Entry:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EverydayError(path, no, f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or set(data) != {"article", "questions"}:
        raise EverydayError(path, no, 'expected {"article": …, "questions": […]}')
    article, questions = data["article"], data["questions"]
    if not isinstance(article, str) or not ARTICLE_ID.fullmatch(article):
        raise EverydayError(
            path, no, f"article id must be <law stem>.<number> (<stem> for a text without articles), not {article!r}"
        )
    if not isinstance(questions, list) or not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        raise EverydayError(path, no, f"{article}: {MIN_QUESTIONS} to {MAX_QUESTIONS} questions")
    for q in questions:
        if not isinstance(q, str) or not MIN_CHARS <= len(q.strip()) <= MAX_CHARS:
            raise EverydayError(path, no, f"{article}: each question is {MIN_CHARS}–{MAX_CHARS} characters: {q!r}")
    return Entry(article, tuple(q.strip() for q in questions), path, no)


def questions_by_article(entries: list[Entry], law_ids: set[str], article_ids: set[str]) -> dict[str, list[str]]:
    """Questions of the documents being indexed: ``article_ids`` are the articles, and the texts
    without numbered articles, which take questions whole. An entry for an indexed law whose
    article does not exist is an error (a typo in the file would otherwise hide its questions for
    good), and so is a whole-text entry for a law that has articles."""
    out: dict[str, list[str]] = {}
    for e in entries:
        law = e.article.rpartition(".")[0]
        if e.article in article_ids:
            out[e.article] = list(e.questions)
        elif e.article in law_ids:
            raise EverydayError(e.path, e.line_no, f"{e.article} has numbered articles: name the one that answers")
        elif law in law_ids:
            raise EverydayError(e.path, e.line_no, f"{e.article}: no such article in {law}")
    return out
