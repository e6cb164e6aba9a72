"""The search service analyses a question once and shares the analysis until the law titles change."""

from ingest.pipeline import ingest
from search_api.engines.sqlite import SqliteEngine
from search_api.search.service import SearchService
from tests.conftest import LEXICON, make_settings
from tests.fixtures.corpus import write_corpus

QUESTION = "《示范劳动保护法》第二条 公司拖欠劳动报酬怎么办"


def test_a_question_asked_again_is_analysed_once(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data", corpus_dir=corpus)
    engine = SqliteEngine(settings.index_path)
    ingest([corpus], engine, lexicon_dir=LEXICON)
    service = SearchService(settings, engine)
    first = service.analyse(QUESTION)
    assert first.article_ids and first.terms
    assert service.analyse(QUESTION) is first

    # a response's tokens are its own: changing them changes nothing for the next search
    response = service.search(QUESTION)
    response.tokens.append("改动")
    assert "改动" not in service.analyse(QUESTION).tokens
    assert service.search(QUESTION).hits[0]["id"] == response.hits[0]["id"] == first.article_ids[0]

    service.invalidate()  # after an ingest or a publish: analysed again, to the same result
    again = service.analyse(QUESTION)
    assert again is not first
    assert (again.tokens, again.terms, again.article_ids) == (first.tokens, first.terms, first.article_ids)


def test_a_citation_asked_before_its_law_was_indexed_resolves_once_it_is(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data", corpus_dir=corpus)
    service = SearchService(settings, SqliteEngine(settings.index_path))
    assert service.analyse(QUESTION).article_ids == []  # no laws in the index yet

    ingest([corpus], SqliteEngine(settings.index_path), lexicon_dir=LEXICON)  # `labourkb ingest` meanwhile
    assert service.analyse(QUESTION).article_ids
