"""The gap loop, end to end: a question answered badly shows in the gap report, a reviewer adds it
as an everyday question of the right article, a second reviewer approves, and the same search
then ranks that article first — on both engines, and in a second app instance on the same data
directory (another worker process) without a restart.
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import prepare_corpus
from ingest.tokenise import get_tokeniser
from search_api import db
from search_api.accounts.store import Store
from search_api.search.additions import AdditionStore, approved_questions
from tests.conftest import CORPUS, LEXICON, make_settings
from tests.fixtures.cases import PASSWORD, csrf_from, law_documents, login, make_app
from tests.fixtures.es import es_settings

# No document matches it at first (0 results): the worker's own words for article 47.
QUESTION = "干满三年走人老板要给几个月钱"
TARGET = "labor-contract-law.47"


@pytest.fixture(params=["sqlite", "elasticsearch"])
def loop_settings(request, tmp_path):
    if request.param == "sqlite":
        yield make_settings(tmp_path / "data")
        return
    url = request.getfixturevalue("es_url")
    es = es_settings(url)
    settings = make_settings(tmp_path / "data", engine="elasticsearch", es_url=url, es_index_prefix=es.es_index_prefix)
    yield settings
    from search_api.engines.elasticsearch import ElasticsearchEngine

    engine = ElasticsearchEngine(settings)
    engine.drop_indices()
    engine.close()


def _first(client) -> tuple[int, str | None]:
    body = client.get("/api/search", params={"q": QUESTION}).json()
    return body["total"], (body["hits"][0]["id"] if body["hits"] else None)


def test_a_gap_closed_by_an_everyday_question_ranks_the_article_first(loop_settings):
    app, other = make_app(loop_settings), make_app(loop_settings, engine_docs=False)
    store = app.state.store
    store.users.create("reviewer1", PASSWORD, "reviewer")
    store.users.create("reviewer2", PASSWORD, "reviewer")
    with TestClient(app) as client, TestClient(other) as second:
        assert _first(second) == (0, None)  # the other instance has searched (and checked the store) before
        for agent in ("phone-a", "phone-b"):  # two visitors ask, nobody is answered
            page = client.get("/search", params={"q": QUESTION}, headers={"User-Agent": agent})
            assert page.status_code == 200
        app.state.querylog.flush()

        login(client, "reviewer1")
        report = client.get("/review/gaps")
        assert report.status_code == 200 and QUESTION in report.text
        key = re.search(r'href="/review/gaps/([0-9a-f]{16})\?', report.text).group(1)
        gap = client.get(f"/review/gaps/{key}")
        assert f'value="{QUESTION}"' in gap.text  # the question is prefilled from the gap

        # bad input: the form comes back with a Chinese message and what was typed
        bad = client.post(
            f"/review/gaps/{key}/question",
            data={"csrf_token": csrf_from(gap.text), "article_other": "no-such-law.1", "question": QUESTION},
        )
        assert bad.status_code == 422 and "没有编号为“no-such-law.1”的条文" in bad.text
        assert 'value="no-such-law.1"' in bad.text

        sent = client.post(
            f"/review/gaps/{key}/question",
            data={"csrf_token": csrf_from(gap.text), "article_other": TARGET, "question": QUESTION},
            follow_redirects=False,
        )
        assert sent.status_code == 303 and sent.headers["location"].startswith("/review/additions")
        pending = client.get("/review/additions")
        addition_id = re.search(r'action="/review/additions/(\d+)"', pending.text).group(1)
        own = client.post(
            f"/review/additions/{addition_id}", data={"csrf_token": csrf_from(pending.text), "decision": "approve"}
        )
        assert own.status_code == 422 and "另一位审阅人" in own.text  # nobody approves their own
        assert _first(client) == (0, None)  # not live before the second reviewer approves

        client.post("/logout", data={"csrf_token": csrf_from(pending.text)})
        login(client, "reviewer2")
        pending = client.get("/review/additions")
        approved = client.post(
            f"/review/additions/{addition_id}",
            data={"csrf_token": csrf_from(pending.text), "decision": "approve"},
            follow_redirects=False,
        )
        assert approved.status_code == 303
        history = client.get("/review/additions").text
        assert "第 1 版" in history and "reviewer2" in history

        assert _first(client)[1] == TARGET
        assert _first(second)[1] == TARGET  # the other worker, without a restart
        doc = client.get(f"/api/documents/{TARGET}").json()
        assert QUESTION in doc["questions"]


def test_rebuild_keeps_the_approved_questions(settings):
    """``labourkb rebuild``/``ingest`` read the store's approved questions on top of the files."""
    additions = AdditionStore(db.app_database(settings))
    users = Store(db.app_database(settings)).users
    a, b = users.create("rev1", PASSWORD, "reviewer"), users.create("rev2", PASSWORD, "reviewer")
    item = additions.propose(a, "question", QUESTION, TARGET)
    additions.review(b, item.id, approve=True)
    docs, _ = prepare_corpus(
        [CORPUS / "laws" / "labor-contract-law.md"], LEXICON, extra_questions=approved_questions(additions)
    )
    article = next(d for d in docs if d.id == TARGET)
    assert article.questions[-1] == QUESTION and len(article.questions) > 1  # the files' questions stay
    assert "干满" in article.tokens["questions"].split()


def test_the_cli_search_uses_the_approved_additions(env, monkeypatch):
    """``labourkb search`` answers like the site: the store's thesaurus lines apply there too."""
    from click.testing import CliRunner

    from search_api.cases.index import preparer
    from search_api.cli import cli
    from search_api.engines import get_engine
    from search_api.settings import get_settings

    monkeypatch.setenv("LABOURKB_SEMANTIC", "false")  # lexical: the thesaurus line is what finds it
    get_settings.cache_clear()
    settings = get_settings()
    engine = get_engine(settings)
    prepare = preparer(get_tokeniser(settings.lexicon_dir))
    engine.index_documents([prepare(d) for d in law_documents()])
    engine.refresh()
    engine.close()
    assert json.loads(CliRunner().invoke(cli, ["search", QUESTION, "--json"]).output)["total"] == 0
    users = Store(db.app_database(settings)).users
    a, b = users.create("rev1", PASSWORD, "reviewer"), users.create("rev2", PASSWORD, "reviewer")
    additions = AdditionStore(db.app_database(settings))
    additions.review(b, additions.propose(a, "thesaurus", "干满 => 工作, 年限 |0.8").id, approve=True)
    found = json.loads(CliRunner().invoke(cli, ["search", QUESTION, "--json"]).output)
    assert TARGET in [h["id"] for h in found["hits"]]
