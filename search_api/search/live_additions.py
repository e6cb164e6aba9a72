"""Approved additions applied to a running search service, in every worker process.

``labourkb serve --workers N`` runs N processes over one data directory, and several app servers
may share one PostgreSQL store. Before each search, :meth:`LiveAdditions.sync` asks the app store
for the newest approval number (one indexed ``MAX`` on a pooled connection, as the employer list
does); when it moved, this process applies
every approved addition on top of the shipped files:

- thesaurus lines: the service's lexicon becomes the files' lexicon plus the lines
  (:func:`ingest.lexicon.with_thesaurus`), and the cached query analyses are dropped;
- everyday questions: each article concerned is re-indexed on the active engine with its
  questions (files' plus approved, in approval order) — unless another process already did —
  and handed to the semantic layer, which gives it vectors (Elasticsearch: in the engine;
  embedded: this process's in-memory index), like a published case (``CaseIndex``).

Applying is idempotent, so processes racing on the same version write the same documents.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING

from ingest.lexicon import LexiconError, with_thesaurus
from ingest.model import Document
from ingest.pipeline import token_fields
from search_api.search.additions import AdditionStore, approved_questions, approved_thesaurus

if TYPE_CHECKING:
    from search_api.search.service import SearchService

log = logging.getLogger("labourkb")


def with_questions(doc: Document, added: list[str]) -> bool:
    """Give ``doc`` the ``added`` questions it lacks (in place); whether it changed."""
    new = [q for q in dict.fromkeys(added) if q not in doc.questions]
    if not new:
        return False
    doc.questions = [*doc.questions, *new]
    base = doc.content_hash.split(":q", 1)[0]
    doc.content_hash = base + ":q" + hashlib.sha256("\n".join(doc.questions).encode("utf-8")).hexdigest()[:12]
    return True


class LiveAdditions:
    """Keeps one search service in step with the approved additions of the app store."""

    def __init__(self, store: AdditionStore, service: SearchService):
        self.store = store
        self.service = service
        self.base_lexicon = service.lexicon  # the shipped files: additions go on top of these
        self.applied = 0
        self._thesaurus: list[str] = []
        self._questions: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Apply what was approved since the last call (cheap when nothing was). Never raises."""
        try:
            version = self.store.version()
            if version == self.applied:
                return
            with self._lock:
                if version != self.applied:
                    self._apply(version)
        except Exception:  # search goes on with what it has; the next search tries again
            log.exception("could not apply the approved search additions")

    def _apply(self, version: int) -> None:
        service = self.service
        lines = approved_thesaurus(self.store)
        if lines != self._thesaurus:
            try:
                service.lexicon = with_thesaurus(self.base_lexicon, lines)
            except LexiconError:  # checked on proposal; a shipped file changed under it since
                log.exception("approved thesaurus lines no longer load; searching without them")
                service.lexicon = self.base_lexicon
            self._thesaurus = lines
        questions = approved_questions(self.store)
        touched = [a for a, qs in questions.items() if qs != self._questions.get(a)]
        docs = service.engine.get_many(touched) if touched else []
        changed = [d for d in docs if d.kind == "article" and with_questions(d, questions[d.id])]
        for doc in changed:
            doc.tokens = token_fields(doc, service.tok)
        if changed:
            report = service.engine.index_documents(changed)
            if getattr(report, "failed", None):
                raise RuntimeError(f"re-indexing failed: {report.failed[0][1]}")
            service.engine.refresh()
        service.invalidate()  # cached analyses were made with the old lexicon and index
        # this process's vectors (in-memory index, or the engine's) for every article touched
        service.semantic.add([d for d in docs if d.kind == "article"])
        self._questions = questions
        self.applied = version
        log.info("search additions: version %d applied (%d articles re-indexed)", version, len(changed))
