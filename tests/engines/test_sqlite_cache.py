"""The SQLite engine's term cache: shared by threads, dropped when any connection or process writes."""

import threading

from ingest.pipeline import ingest
from search_api.engines.base import SearchQuery, Term
from search_api.engines.sqlite import SqliteEngine
from tests.conftest import LEXICON
from tests.fixtures.corpus import write_corpus


def _ids(engine, text):
    return {h.id for h in engine.search(SearchQuery(terms=[Term(text)], size=50)).hits}


def test_cache_is_shared_across_threads_and_sees_other_writers(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    path = tmp_path / "index.sqlite3"
    reader = SqliteEngine(path)
    ingest([corpus], reader, lexicon_dir=LEXICON)
    assert "case-901" in _ids(reader, "劳动报酬")
    first = reader._cache

    # another thread (its own connection) reuses the same cache object
    seen = []
    t = threading.Thread(target=lambda: (seen.append(_ids(reader, "劳动报酬")), seen.append(reader._cache)))
    t.start()
    t.join()
    assert seen[1] is first

    # a different engine object (as another process would) deletes a document: the reader notices
    writer = SqliteEngine(path)
    assert writer.delete(["case-901"]) == 1
    assert "case-901" not in _ids(reader, "劳动报酬")
    assert reader._cache is not first
