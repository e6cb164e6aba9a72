"""`labourkb rebuild`: the index is rebuilt from the corpus files plus the app store, atomically."""

import json

from click.testing import CliRunner

from ingest.tokenise import get_tokeniser
from search_api import db
from search_api.accounts.store import Store
from search_api.cases.index import CaseIndex, preparer
from search_api.cases.workflow import CaseService
from search_api.cli import cli
from search_api.engines.base import SearchQuery, Term
from search_api.engines.sqlite import SqliteEngine
from search_api.search.rebuild import rebuild_index
from search_api.settings import get_settings
from tests.conftest import CORPUS, LEXICON, make_settings
from tests.fixtures.cases import CASE, PASSWORD
from tests.fixtures.corpus import write_corpus


def publish_case(settings, engine) -> str:
    store = Store(db.app_database(settings))
    lawyer = store.users.create("lawyer1", PASSWORD, "lawyer")
    reviewer = store.users.create("reviewer1", PASSWORD, "reviewer")
    service = CaseService(store.cases, CaseIndex(engine, prepare=preparer(get_tokeniser(LEXICON))))
    case = service.create(lawyer, CASE)
    service.submit(lawyer, case.id)
    service.review(reviewer, case.id, "publish")
    return f"lawyer-case-{case.id}"


def test_rebuild_from_corpus_and_store(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data", corpus_dir=corpus)
    engine = SqliteEngine(settings.index_path)
    case_id = publish_case(settings, engine)
    engine.index_documents([])  # a stray, unrelated state that a rebuild must not keep
    engine.delete([case_id])  # the index lost the case: the store still has it

    report = rebuild_index(settings, engine)
    assert report["lawyer_cases"] == 1 and not report["failed"] and not report["skipped"]
    assert report["indexed"] == engine.count() == 8 + 1  # 8 corpus documents + the published case
    hits = engine.search(SearchQuery(terms=[Term("拖欠工资")], filters={"kind": ["case"]})).hits
    assert case_id in [h.id for h in hits]
    # the rebuilt case is linked like any other: it cites 劳动合同法 articles the corpus doesn't hold here
    assert engine.get(case_id).citations


def test_rebuild_is_atomic_for_a_reader(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data", corpus_dir=corpus)
    reader = SqliteEngine(settings.index_path)
    writer = SqliteEngine(settings.index_path)
    rebuild_index(settings, writer)
    before = reader.count()
    rebuild_index(settings, writer)  # a second rebuild swaps a whole new file in
    assert reader.count() == before == 8  # the reader reopens the new file, never a half-built one
    generations = sorted(p.name for p in settings.index_path.parent.glob("index-*.sqlite3"))
    assert len(generations) == 2  # the live one and the previous one; older ones are removed
    rebuild_index(settings, writer)
    assert len(list(settings.index_path.parent.glob("index-*.sqlite3"))) == 2
    assert not settings.index_path.exists()  # the pre-rebuild file went with the second rebuild
    assert reader.count() == 8


def test_rebuild_command(tmp_path, monkeypatch):
    monkeypatch.setenv("LABOURKB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LABOURKB_CORPUS_DIR", str(CORPUS / "cases"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["rebuild", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["indexed"] == 28 and report["by_kind"] == {"case": 28}
