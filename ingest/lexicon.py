"""The labour-law concept layer: user dictionary, thesaurus, filler words, typos and topics.

The data lives in plain text files under ``ingest/resources/lexicon/`` (format in its README.md),
shipped inside the package (``ingest.resources.LEXICON_DIR``).
:func:`load_lexicon` parses them strictly: a malformed line raises :class:`LexiconError`
naming the file and line, so a typo in the data never turns into a silently smaller
lexicon. Every entry must already be in normalised form (simplified, half-width,
lower-case), because it is matched against normalised text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from ingest.normalise import normalise

FILES = ("userdict.txt", "thesaurus.txt", "filler.txt", "typos.txt", "topics.txt")

# Default weights when a thesaurus line has no ``|w``: a two-way synonym is almost the
# same word; a one-way expansion (everyday word -> legal term) is a looser hint.
SYNONYM_WEIGHT = 0.9
EXPANSION_WEIGHT = 0.7

_TAG_RE = re.compile(r"^[a-z]{1,4}$")
_TOPIC_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOPIC_FLAGS = frozenset({"distress"})


class LexiconError(ValueError):
    """A lexicon file is missing, undecodable or has a malformed line."""

    def __init__(self, path: Path | str, line_no: int, reason: str):
        where = f"{path}:{line_no}" if line_no else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = Path(path)
        self.line_no = line_no
        self.reason = reason


@dataclass(frozen=True)
class Topic:
    """One topic of the taxonomy; ``distress`` marks topics the union watches for alerts."""

    id: str
    name: str
    triggers: tuple[str, ...]
    distress: bool = False


@dataclass(frozen=True)
class Typo:
    """A pinyin-input typo; with ``contexts`` it is only fixed when one of them is present."""

    typo: str
    correct: str
    contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lexicon:
    """The loaded lexicon. Build it with :func:`load_lexicon`, not directly."""

    directory: Path
    userdict: dict[str, tuple[int | None, str | None]]
    thesaurus: dict[str, list[tuple[str, float]]]
    filler: frozenset[str]
    typos: dict[str, str]
    topics: list[Topic]
    typo_rules: tuple[Typo, ...] = ()
    thesaurus_lines: int = 0

    def expand(self, token: str) -> list[tuple[str, float]]:
        """Terms a (normalised) token expands to, with weights below 1, best first.

        Expansion is one hop: the expansions of an expansion are not followed, so a
        thesaurus line cannot drag in unrelated terms through a chain.
        """
        return list(self.thesaurus.get(token, ()))

    def is_filler(self, token: str) -> bool:
        """True for question filler (怎么办, 吗 …) that should not weigh in a query."""
        return token in self.filler

    def fix_typos(self, text: str) -> str:
        """Replace known pinyin typos in normalised *query* text (never in documents).

        Longer typos are replaced first. A typo with contexts (e.g. 工商 => 工伤 only
        next to 认定/受伤/…) is left alone when no context word occurs in the text.
        """
        for rule in self.typo_rules:
            if rule.typo not in text:
                continue
            if rule.contexts and not any(c in text for c in rule.contexts):
                continue
            text = text.replace(rule.typo, rule.correct)
        return text

    def topics_for(self, text_or_tokens: str | Iterable[str]) -> list[str]:
        """Topic ids for a normalised text (substring match) or a token sequence.

        Tokens match a trigger exactly, directly or through their thesaurus
        expansions. Topics come back by number of matched triggers, then file order.
        """
        if isinstance(text_or_tokens, str):
            text = text_or_tokens
            hits = {t.id: sum(1 for w in t.triggers if w in text) for t in self.topics}
        else:
            words: set[str] = set()
            for token in text_or_tokens:
                words.add(token)
                words.update(term for term, _ in self.thesaurus.get(token, ()))
            hits = {t.id: sum(1 for w in t.triggers if w in words) for t in self.topics}
        order = {t.id: i for i, t in enumerate(self.topics)}
        found = [tid for tid, n in hits.items() if n]
        return sorted(found, key=lambda tid: (-hits[tid], order[tid]))

    def topic(self, topic_id: str) -> Topic:
        """The topic with this id (KeyError when unknown)."""
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)

    def jieba_entries(self) -> list[tuple[str, int | None, str | None]]:
        """Every word the tokeniser must keep whole: ``(word, freq, tag)``.

        The user dictionary, plus thesaurus words, typo fixes and topic triggers, so a
        query word the thesaurus knows is never cut into pieces before lookup.
        """
        entries = dict(self.userdict)
        extra: list[str] = list(self.thesaurus)
        for terms in self.thesaurus.values():
            extra.extend(term for term, _ in terms)
        extra.extend(self.typos.values())
        for t in self.topics:
            extra.extend(t.triggers)
        for word in extra:
            if len(word) > 1 and word not in entries:
                entries[word] = (None, None)
        return [(w, f, tag) for w, (f, tag) in entries.items()]


def canonical(text: str) -> str:
    """The normal form lexicon entries must be written in (the ingest normaliser's output)."""
    return normalise(text)


def load_lexicon(lexicon_dir: Path | str) -> Lexicon:
    """Load and validate every lexicon file in ``lexicon_dir``; cached per directory.

    Raises :class:`LexiconError` for a missing file or the first malformed line.
    Call ``load_lexicon.cache_clear()`` after editing the files in a running process.
    """
    return _load_cached(str(Path(lexicon_dir).resolve()))


@lru_cache(maxsize=8)
def _load_cached(directory: str) -> Lexicon:
    base = Path(directory)
    userdict = _parse_userdict(base / "userdict.txt")
    thesaurus, n_lines = _parse_thesaurus(base / "thesaurus.txt")
    filler = _parse_filler(base / "filler.txt")
    typo_rules = _parse_typos(base / "typos.txt")
    topics = _parse_topics(base / "topics.txt")
    return Lexicon(
        directory=base,
        userdict=userdict,
        thesaurus=thesaurus,
        filler=filler,
        typos={r.typo: r.correct for r in typo_rules},
        topics=topics,
        typo_rules=tuple(sorted(typo_rules, key=lambda r: -len(r.typo))),
        thesaurus_lines=n_lines,
    )


load_lexicon.cache_clear = _load_cached.cache_clear  # type: ignore[attr-defined]


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    """Yield ``(line_no, content)`` for non-blank lines, comments stripped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LexiconError(path, 0, "file not found") from None
    except OSError as exc:
        raise LexiconError(path, 0, f"cannot read: {exc.strerror}") from None
    for no, bline in enumerate(raw.split(b"\n"), start=1):
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError:
            raise LexiconError(path, no, "not valid UTF-8") from None
        if no == 1:
            line = line.removeprefix("\ufeff")
        line = line.split("#", 1)[0].strip()
        if line:
            yield no, line


def _word(path: Path, no: int, word: str, what: str = "word") -> str:
    """Validate one entry: non-empty, no inner whitespace, already normalised."""
    word = word.strip()
    if not word:
        raise LexiconError(path, no, f"empty {what}")
    if any(ch.isspace() for ch in word):
        raise LexiconError(path, no, f"{what} {word!r} contains whitespace")
    norm = canonical(word)
    if norm != word:
        raise LexiconError(path, no, f"{what} {word!r} is not normalised; write {norm!r}")
    return word


def _parse_userdict(path: Path) -> dict[str, tuple[int | None, str | None]]:
    out: dict[str, tuple[int | None, str | None]] = {}
    for no, line in _lines(path):
        parts = line.split()
        if len(parts) > 3:
            raise LexiconError(path, no, f"expected 'word [freq] [tag]', got {len(parts)} fields")
        word = _word(path, no, parts[0])
        freq: int | None = None
        tag: str | None = None
        rest = parts[1:]
        if rest and rest[0].isdigit():
            freq = int(rest.pop(0))
            if freq <= 0:
                raise LexiconError(path, no, "frequency must be a positive integer")
        elif rest and re.fullmatch(r"[-+]?\d+(\.\d*)?", rest[0]):
            raise LexiconError(path, no, f"frequency {rest[0]!r} must be a positive integer")
        if rest:
            tag = rest.pop(0)
            if not _TAG_RE.match(tag):
                raise LexiconError(path, no, f"bad part-of-speech tag {tag!r} (1-4 lower-case letters)")
        if rest:
            raise LexiconError(path, no, "the tag must come after the frequency")
        if word in out:
            raise LexiconError(path, no, f"duplicate word {word!r}")
        out[word] = (freq, tag)
    return out


def _parse_weight(path: Path, no: int, text: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise LexiconError(path, no, f"weight {text!r} is not a number") from None
    if not 0 < weight < 1:
        raise LexiconError(path, no, f"weight {weight} must be between 0 and 1 (exclusive)")
    return weight


def _terms(path: Path, no: int, side: str) -> list[str]:
    terms = [_word(path, no, t, "term") for t in side.split(",")] if side.strip() else []
    if not terms:
        raise LexiconError(path, no, "a side of the rule has no terms")
    if len(set(terms)) != len(terms):
        raise LexiconError(path, no, "a term is listed twice on one side")
    return terms


def with_thesaurus(lexicon: Lexicon, lines: Iterable[str], label: str = "thesaurus additions") -> Lexicon:
    """``lexicon`` with more thesaurus lines on top (the app store's reviewed additions; the files
    stay as they are). Raises :class:`LexiconError` naming the first bad line."""
    numbered = ((no, ln.split("#", 1)[0].strip()) for no, ln in enumerate(lines, 1))
    extra, n_lines = _parse_thesaurus(Path(label), [(no, ln) for no, ln in numbered if ln])
    merged = {src: dict(terms) for src, terms in lexicon.thesaurus.items()}
    for src, terms in extra.items():
        slot = merged.setdefault(src, {})
        for dst, weight in terms:
            slot[dst] = max(weight, slot.get(dst, 0.0))
    ordered = {src: sorted(d.items(), key=lambda kv: -kv[1]) for src, d in merged.items()}
    return replace(lexicon, thesaurus=ordered, thesaurus_lines=lexicon.thesaurus_lines + n_lines)


def _parse_thesaurus(
    path: Path, lines: Iterable[tuple[int, str]] | None = None
) -> tuple[dict[str, list[tuple[str, float]]], int]:
    best: dict[str, dict[str, float]] = {}
    n_lines = 0

    def add(src: str, dst: str, weight: float) -> None:
        if src != dst:
            slot = best.setdefault(src, {})
            slot[dst] = max(weight, slot.get(dst, 0.0))

    for no, line in _lines(path) if lines is None else lines:
        line = line.replace("，", ",")  # a full-width comma is an easy slip when typing Chinese
        body, weight = line, None
        if "|" in line:
            body, _, wtext = line.rpartition("|")
            weight = _parse_weight(path, no, wtext.strip())
        if "=>" in body:
            if body.count("=>") > 1 or "=" in body.replace("=>", ""):
                raise LexiconError(path, no, "use exactly one '=>' or '=' per line")
            left, right = body.split("=>")
            lterms, rterms = _terms(path, no, left), _terms(path, no, right)
            if set(lterms) & set(rterms):
                raise LexiconError(path, no, "a term appears on both sides of '=>'")
            for src in lterms:
                for dst in rterms:
                    add(src, dst, weight or EXPANSION_WEIGHT)
        elif "=" in body:
            group = [_word(path, no, t, "term") for t in body.split("=")]
            if len(set(group)) != len(group):
                raise LexiconError(path, no, "a synonym is listed twice")
            for src in group:
                for dst in group:
                    add(src, dst, weight or SYNONYM_WEIGHT)
        else:
            raise LexiconError(path, no, "no '=>' (expansion) or '=' (synonyms) in line")
        n_lines += 1
    ordered = {src: sorted(d.items(), key=lambda kv: -kv[1]) for src, d in best.items()}
    return ordered, n_lines


def _parse_filler(path: Path) -> frozenset[str]:
    words: set[str] = set()
    for no, line in _lines(path):
        if len(line.split()) != 1:
            raise LexiconError(path, no, "one filler word per line")
        word = _word(path, no, line)
        if word in words:
            raise LexiconError(path, no, f"duplicate word {word!r}")
        words.add(word)
    return frozenset(words)


def _parse_typos(path: Path) -> list[Typo]:
    rules: dict[str, Typo] = {}
    for no, line in _lines(path):
        body, _, ctx = line.partition("?")
        if body.count("=>") != 1:
            raise LexiconError(path, no, "expected 'typo => correct [? context, …]'")
        typo, correct = (_word(path, no, s, "typo entry") for s in body.split("=>"))
        if typo == correct:
            raise LexiconError(path, no, "typo and correction are the same")
        if typo in rules:
            raise LexiconError(path, no, f"duplicate typo {typo!r}")
        contexts: tuple[str, ...] = ()
        if "?" in line:
            contexts = tuple(_terms(path, no, ctx))
        rules[typo] = Typo(typo, correct, contexts)
    return list(rules.values())


def _parse_topics(path: Path) -> list[Topic]:
    topics: list[Topic] = []
    for no, line in _lines(path):
        fields = [f.strip() for f in line.split("|")]
        if len(fields) not in (3, 4):
            raise LexiconError(path, no, "expected 'id | 名称 | trigger, … [| distress]'")
        tid, name, triggers = fields[:3]
        if not _TOPIC_ID_RE.match(tid):
            raise LexiconError(path, no, f"bad topic id {tid!r} (lower-case ascii, digits, _)")
        if any(t.id == tid for t in topics):
            raise LexiconError(path, no, f"duplicate topic id {tid!r}")
        if not name:
            raise LexiconError(path, no, "empty topic name")
        flags = set(fields[3].split()) if len(fields) == 4 else set()
        if flags - _TOPIC_FLAGS:
            raise LexiconError(path, no, f"unknown flag(s) {sorted(flags - _TOPIC_FLAGS)}; known: distress")
        words = _terms(path, no, triggers.replace("，", ","))
        topics.append(Topic(tid, name, tuple(words), "distress" in flags))
    if not topics:
        raise LexiconError(path, 0, "no topics defined")
    return topics
