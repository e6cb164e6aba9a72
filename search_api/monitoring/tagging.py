"""What a logged query is about: its topics and the employers it names, from the project lexicon.

Both run on the search path (the record is committed before the answer leaves), so they are
precomputed tables, loaded once, and never raise: a lexicon that does not load means no topics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from search_api.monitoring import records
from search_api.monitoring.employer_list import source_for
from search_api.settings import Settings

log = logging.getLogger("search_api.monitoring.querylog")


class TopicMatcher:
    """``Lexicon.topics_for`` on tokens plus on the text, precomputed for the search path.

    Same answer as ``list(dict.fromkeys(lex.topics_for(tokens) + lex.topics_for(text)))``
    (tests compare them), without walking every trigger of every topic per call: trigger →
    topics and token → thesaurus terms are tables built once.
    """

    def __init__(self, lex: Any):
        self.order = {t.id: i for i, t in enumerate(lex.topics)}
        self.by_trigger: dict[str, list[str]] = {}
        for t in lex.topics:
            for w in t.triggers:  # a trigger listed twice counts twice, as in Lexicon.topics_for
                self.by_trigger.setdefault(w, []).append(t.id)
        self.triggers = list(self.by_trigger)
        self.thesaurus = lex.thesaurus

    def _ranked(self, matched: Iterable[str]) -> list[str]:
        hits: dict[str, int] = {}
        for w in matched:
            for tid in self.by_trigger[w]:
                hits[tid] = hits.get(tid, 0) + 1
        return sorted(hits, key=lambda tid: (-hits[tid], self.order[tid]))

    def __call__(self, tokens: list[str], normalised_text: str) -> list[str]:
        found: list[str] = []
        if tokens:
            words = set(tokens)
            for token in tokens:
                words.update(term for term, _ in self.thesaurus.get(token, ()))
            found = self._ranked(w for w in words if w in self.by_trigger)
        in_text = self._ranked([w for w in self.triggers if w in normalised_text])
        return list(dict.fromkeys(found + in_text))


def lexicon_topics(settings: Settings) -> records.TopicsFor:
    """Topic ids from the project lexicon (``ingest.lexicon``); no topics when it cannot load.

    The lexicon is loaded once (``load_lexicon`` caches it per directory anyway); until it
    loads, every call tries again.
    """

    loaded: list[TopicMatcher] = []
    warned = []

    def topics_for(tokens: list[str], text: str) -> list[str]:
        from ingest.lexicon import LexiconError, canonical, load_lexicon

        if not loaded:
            try:
                loaded.append(TopicMatcher(load_lexicon(settings.lexicon_dir)))
            except LexiconError as exc:
                if not warned:
                    warned.append(exc)
                    log.warning("query log: no topics, the lexicon does not load: %s", exc)
                return []
        # Tokens catch thesaurus expansions, the text catches triggers jieba cut differently.
        return loaded[0](list(tokens), canonical(text))

    return topics_for


def lexicon_employers(settings: Settings) -> records.EmployersFor:
    """Employer names with the union's list, the lexicon's aliases and the built-in brands
    (``employer_list.source_for``: the list's version is checked on every call)."""

    source = source_for(settings)

    def employers_for(text: str) -> list[str]:
        return source.recogniser().extract(text)

    return employers_for
