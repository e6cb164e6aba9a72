"""The start-up warm-up fills the term caches and changes no result."""

import time

from fastapi.testclient import TestClient

from search_api.app import create_app
from search_api.engines.sqlite import SqliteEngine
from search_api.search.service import SearchService
from tests.conftest import make_settings

QUESTIONS = ["老板拖欠工资三个月不发怎么办", "被炒鱿鱼了有没有赔偿", "公司拖欠薪資怎麼辦", "试用期最长多久"]


def test_warm_up_fills_caches_without_changing_results(corpus_settings):
    cold = SearchService(corpus_settings, SqliteEngine(corpus_settings.index_path))
    before = {q: [h["id"] for h in cold.search(q).hits] for q in QUESTIONS}
    warm = SearchService(corpus_settings, SqliteEngine(corpus_settings.index_path))
    assert warm.warm_up() > 500  # the lexicon's words have candidates in the corpus
    assert {q: [h["id"] for h in warm.search(q).hits] for q in QUESTIONS} == before


def test_app_warms_in_the_background(tmp_path, corpus_index):
    app = create_app(
        make_settings(tmp_path / "data", sqlite_path=corpus_index, warm_cache=True, querylog_enabled=False)
    )
    with TestClient(app) as client:
        assert client.get("/api/search", params={"q": "工伤"}).status_code == 200  # served while warming
        deadline = time.monotonic() + 30
        engine = app.state.engine
        while time.monotonic() < deadline and (engine._cache is None or len(engine._cache._top) < 500):
            time.sleep(0.05)
        assert len(engine._cache._top) >= 500
