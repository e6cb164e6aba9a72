"""Rebuild the search index from its sources of truth: the corpus files plus the app store."""

from __future__ import annotations

from typing import Any

from ingest.pipeline import prepare_corpus
from search_api import db
from search_api.cases.index import published_documents
from search_api.cases.store import CaseStore
from search_api.engines.base import SearchEngine
from search_api.help.qa import published_qa_documents
from search_api.help.store import HelpStore
from search_api.search.additions import AdditionStore, approved_questions
from search_api.settings import Settings


def rebuild_index(settings: Settings, engine: SearchEngine) -> dict[str, Any]:
    """Atomically replace the index with corpus documents plus published lawyers' cases."""
    app_db = db.app_database(settings)
    cases = published_documents(CaseStore(app_db)) + published_qa_documents(HelpStore(app_db))
    questions = approved_questions(AdditionStore(app_db))  # the gap report's reviewed additions
    docs, report = prepare_corpus([settings.corpus_dir], settings.lexicon_dir, extra=cases, extra_questions=questions)
    result = engine.rebuild(docs)
    out = report.as_dict()
    out.update(
        indexed=result.indexed, failed=[{"id": i, "reason": r} for i, r in result.failed], lawyer_cases=len(cases)
    )
    return out
