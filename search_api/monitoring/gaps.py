"""The gap report: questions the knowledge base answers badly, grouped by meaning, worst first.

Each logged search in the range becomes a set of *concepts*: its analysed tokens (stored
redacted in the query log) without filler words and single characters, each replaced by
the legal term the thesaurus maps it to most strongly (被炒 and 辞退 both become
解除劳动合同), so different everyday wordings of one question meet. Searches with the same
concepts form one group; groups whose concepts mostly overlap (Jaccard ≥ ``MERGE_AT``)
are merged, so near-identical wordings ("老板不发工资怎么办" / "老板不给发工资怎么办啊")
are one gap.

A group is ranked by ``visitors × badness``: distinct visitors (day-salted ids: one person
on two days counts twice) times the share of bad signals (:mod:`search_api.monitoring.signals`:
no confident answer, refined within a minute, no click, and a help request counting double).
Groups with no bad signal at all are answered: they are not gaps.

A gap's ``key`` is the hash of its leading concept set; the concept key of each search
(``concept_key``) is what "mark as noise" stores, so noise stays hidden whatever else is asked.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.lexicon import Lexicon
from search_api.db import Conn
from search_api.monitoring.signals import signals_of

MERGE_AT = 0.6
CANONICAL_WEIGHT = 0.8  # a thesaurus expansion at least this strong names the concept
HELP_WEIGHT = 2
SIGNALS = ("unconfident", "refined", "no_click", "helped")
SIGNAL_LABELS = {
    "unconfident": "无把握答案",
    "refined": "一分钟内换说法再搜",
    "no_click": "没有点开结果",
    "helped": "随后求助",
}


def concepts(tokens: Iterable[str], lexicon: Lexicon) -> frozenset[str]:
    """The question's concepts: content tokens, each as its strongest thesaurus term."""
    out = set()
    for token in tokens:
        if len(token) < 2 or lexicon.is_filler(token) or token.startswith("["):
            continue
        strongest = lexicon.expand(token)[:1]
        out.add(strongest[0][0] if strongest and strongest[0][1] >= CANONICAL_WEIGHT else token)
    return frozenset(out)


def concept_key(cs: frozenset[str]) -> str:
    return hashlib.sha256("\x1f".join(sorted(cs)).encode("utf-8")).hexdigest()[:16]


@dataclass
class Gap:
    key: str
    concepts: frozenset[str]
    member_keys: set[str] = field(default_factory=set)
    wordings: Counter = field(default_factory=Counter)
    visitors: set[str] = field(default_factory=set)
    topics: Counter = field(default_factory=Counter)
    searches: int = 0
    signals: Counter = field(default_factory=Counter)

    @property
    def badness(self) -> float:
        """Share of bad signals, 0–1 (a help request counts double)."""
        weights = sum(1 for s in SIGNALS if s != "helped") + HELP_WEIGHT
        bad = sum(self.signals[s] for s in SIGNALS if s != "helped") + HELP_WEIGHT * self.signals["helped"]
        return bad / (weights * self.searches) if self.searches else 0.0

    @property
    def score(self) -> float:
        return round(len(self.visitors) * self.badness, 3)

    @property
    def question(self) -> str:
        """The most asked wording (the one a fix is written from)."""
        return self.wordings.most_common(1)[0][0] if self.wordings else ""

    def absorb(self, other: Gap) -> None:
        self.member_keys |= other.member_keys
        self.wordings.update(other.wordings)
        self.visitors |= other.visitors
        self.topics.update(other.topics)
        self.searches += other.searches
        self.signals.update(other.signals)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def gap_report(
    conn: Conn,
    lexicon: Lexicon,
    since: str,
    until: str,
    *,
    hidden: set[str] = frozenset(),
    mask: Callable[[str], str] = str,
    limit: int = 100,
) -> list[Gap]:
    """The gaps of searches in ``[since, until]`` (stored UTC text), worst first.

    ``hidden``: concept keys marked as noise; ``mask`` is applied to every wording shown (the
    employer mask of the dashboard).
    """
    flags = signals_of(conn, since, until)
    rows = conn.rows(
        "SELECT query_id, client_id, user_query, tokens, topics FROM queries "
        "WHERE timestamp >= :since AND timestamp <= :until AND failed = 0 ORDER BY seq",
        {"since": since, "until": until},
    )
    groups: dict[frozenset[str], Gap] = {}
    for row in rows:
        qid, client, text = row["query_id"], row["client_id"], row["user_query"]
        cs = concepts(json.loads(row["tokens"]), lexicon)
        key = concept_key(cs)
        if not cs or key in hidden:
            continue
        gap = groups.get(cs)
        if gap is None:
            gap = groups[cs] = Gap(key=key, concepts=cs, member_keys={key})
        gap.wordings[mask(text)] += 1
        gap.visitors.add(client)
        gap.topics.update(json.loads(row["topics"]))
        gap.searches += 1
        gap.signals.update({s: v for s, v in flags.get(qid, {}).items() if v})
    merged: list[Gap] = []
    for gap in sorted(groups.values(), key=lambda g: (-g.searches, g.key)):
        home = next((m for m in merged if _jaccard(m.concepts, gap.concepts) >= MERGE_AT), None)
        if home is None:
            merged.append(gap)
        else:
            home.absorb(gap)
    gaps = [g for g in merged if g.badness > 0]
    gaps.sort(key=lambda g: (-g.score, -len(g.visitors), -g.searches, g.key))
    return gaps[:limit]


def find_gap(gaps: list[Gap], key: str) -> Gap | None:
    """The gap with ``key``, or the one that absorbed a group with that key."""
    return next((g for g in gaps if g.key == key), None) or next((g for g in gaps if key in g.member_keys), None)
