"""Shared fixtures: real engines on temporary files, the real corpus ingested once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.resources import LEXICON_DIR as LEXICON
from search_api.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SAMPLES = SHARED / "samples"
EVAL = REPO_ROOT / "corpus" / "eval"

pytest_plugins = ["tests.fixtures.es", "tests.pg"]


def make_settings(data_dir: Path, **overrides) -> Settings:
    # No start-up cache warm-up thread in tests (tests/test_warm_up.py covers it), and lexical
    # ranking unless a test asks for the semantic layer (tests/search/test_fusion.py).
    values = {
        "corpus_dir": CORPUS,
        "lexicon_dir": LEXICON,
        "cookie_secure": False,
        "warm_cache": False,
        "semantic": False,
        **overrides,
    }
    return Settings(data_dir=data_dir, **values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def semantic_data_dir(tmp_path_factory) -> Path:
    """A data directory whose vector cache every semantic test shares (the corpus is embedded once).

    The ranking tests run the product as served: lexical and semantic fused. ``make setup``
    fetches the model; without it these tests fail with the reason, as CI must have it.
    """
    from search_api.search.model import model_ok

    model_dir = Settings().model_dir
    assert model_ok(model_dir), f"embedding model missing in {model_dir}: run `labourkb model fetch`"
    return tmp_path_factory.mktemp("semantic-data")


def semantic_service(settings: Settings, engine, data_dir: Path):
    """A search service with the semantic layer built (from the shared vector cache)."""
    from search_api.search.service import SearchService

    service = SearchService(settings.model_copy(update={"semantic": True, "data_dir": data_dir}), engine)
    service.semantic.start(background=False)
    assert service.semantic.retriever is not None, service.semantic.status
    return service


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory) -> Path:
    """The real corpus ingested once into an SQLite index file (copied per test that writes)."""
    from ingest.pipeline import ingest
    from search_api.engines.sqlite import SqliteEngine

    path = tmp_path_factory.mktemp("corpus-index") / "index.sqlite3"
    engine = SqliteEngine(path)
    report = ingest([CORPUS], engine, lexicon_dir=LEXICON)
    assert report.documents > 3000 and not report.skipped, report.as_dict()
    engine.close()
    return path


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory, corpus_index: Path) -> Settings:
    """Settings whose index is the shared, read-only corpus index."""
    data = tmp_path_factory.mktemp("corpus-data")
    return make_settings(data, sqlite_path=corpus_index)


@pytest.fixture(scope="session")
def corpus_client(corpus_settings: Settings):
    """A TestClient over the real corpus on the embedded engine (read-only tests)."""
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    with TestClient(create_app(corpus_settings)) as client:
        yield client


@pytest.fixture
def env(tmp_path, monkeypatch):
    """For CLI tests: a fresh data directory in the environment, no query log, settings re-read."""
    from search_api.settings import get_settings

    monkeypatch.setenv("LABOURKB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LABOURKB_QUERYLOG_ENABLED", "false")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
