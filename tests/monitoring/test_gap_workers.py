"""Approved additions are live in every worker of ``labourkb serve --workers 2`` without a restart,
and a thesaurus line approved from a gap widens the search like the shipped file's lines do."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient

from ingest.tokenise import get_tokeniser
from search_api import db
from search_api.accounts.store import Store
from search_api.cases.index import preparer
from search_api.engines import get_engine
from search_api.search.additions import AdditionStore
from search_api.settings import Settings
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, law_documents, make_app
from tests.fixtures.es import es_settings
from tests.monitoring.server import Server

QUESTION = "干满三年走人老板要给几个月钱"
TARGET = "labor-contract-law.47"


def _approve(settings, kind: str, text: str, article_id: str = "") -> None:
    users = Store(db.app_database(settings)).users
    a, b = users.create("proposer", PASSWORD, "reviewer"), users.create("approver", PASSWORD, "reviewer")
    additions = AdditionStore(db.app_database(settings))
    additions.review(b, additions.propose(a, kind, text, article_id).id, approve=True)


def _firsts(server: Server, times: int = 8) -> list[str | None]:
    out = []
    for _ in range(times):
        with httpx.Client(base_url=server.url, timeout=30) as http:  # a new connection: either worker
            hits = http.get("/api/search", params={"q": QUESTION}).json()["hits"]
            out.append(hits[0]["id"] if hits else None)
    return out


def test_an_approved_question_is_live_in_every_worker(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    engine = get_engine(settings)
    prepare = preparer(get_tokeniser(settings.lexicon_dir))
    engine.index_documents([prepare(d) for d in law_documents()])
    engine.refresh()
    engine.close()
    server = Server(tmp_path, env={"LABOURKB_SEMANTIC": "false"}, workers=2)
    try:
        assert _firsts(server) == [None] * 8  # both workers have searched (and checked the store)
        _approve(settings, "question", QUESTION, TARGET)
        assert _firsts(server) == [TARGET] * 8
    finally:
        server.stop()


def test_an_approved_thesaurus_line_widens_the_search(settings):
    app = make_app(settings)
    with TestClient(app) as client:
        assert client.get("/api/search", params={"q": QUESTION}).json()["total"] == 0
        _approve(settings, "thesaurus", "干满 => 工作, 年限 |0.8")
        hits = client.get("/api/search", params={"q": QUESTION}).json()["hits"]
        assert [h["id"] for h in hits if h["kind"] == "article"][:1] == [TARGET]  # (the whole law holds it too)
        assert ("年限", 0.8) in app.state.service.lexicon.expand("干满")


@pytest.mark.parametrize("engine", ["sqlite", "elasticsearch"])
def test_an_approved_question_gets_its_vector_through_the_semantic_layer(engine, request, tmp_path):
    overrides = {"semantic": True}
    if engine == "elasticsearch":
        url = request.getfixturevalue("es_url")
        overrides.update(engine="elasticsearch", es_url=url, es_index_prefix=es_settings(url).es_index_prefix)
    settings = make_settings(tmp_path / "data", **overrides)
    app = make_app(settings)
    try:
        with TestClient(app) as client:
            semantic = app.state.service.semantic
            assert semantic.ready.wait(120) and semantic.retriever is not None, semantic.status
            before = dict(semantic.retriever.semantic_scores(QUESTION, 10)).get(TARGET, 0.0)
            _approve(settings, "question", QUESTION, TARGET)
            client.get("/api/search", params={"q": QUESTION})  # applies the addition, vectors in the background
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                nearest = semantic.retriever.semantic_scores(QUESTION, 10)
                after = dict(nearest).get(TARGET, 0.0)
                if after > before + 0.1:  # the article now carries this very question (≈0.58 → ≈0.79)
                    break
                time.sleep(0.2)
            assert after > before + 0.1 and nearest[0][0] == TARGET
    finally:
        if engine == "elasticsearch":
            from search_api.engines.elasticsearch import ElasticsearchEngine

            cleanup = ElasticsearchEngine(settings)
            cleanup.drop_indices()
            cleanup.close()
