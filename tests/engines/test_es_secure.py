"""The connection settings against a real secured node: HTTPS with our own CA, user/password,
API key, certificate verification. The node is started by `scripts/elasticsearch.sh` with
LABOURKB_ES_SECURE=1 on its own port (the shared test node stays unsecured)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from ingest.model import Document
from search_api.engines.base import EngineUnavailable, SearchQuery, Term
from search_api.settings import Settings
from tests.conftest import REPO_ROOT

PORT = 9288
SCRIPT = REPO_ROOT / "scripts" / "elasticsearch.sh"
HOME = Path(os.environ.get("LABOURKB_ES_HOME", "/opt/labourkb-es"))


def _script(action: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LABOURKB_ES_SECURE="1", LABOURKB_ES_PORT=str(PORT))
    return subprocess.run(["bash", str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def secure_node():
    if not os.environ.get("CI") and not os.environ.get("LABOURKB_REQUIRE_ES") and not shutil.which("mvn"):
        pytest.skip("no Maven here to fetch Elasticsearch; set CI or LABOURKB_REQUIRE_ES to require it")
    started = _script("start")
    if started.returncode != 0:
        pytest.fail(f"secured Elasticsearch did not start:\n{started.stderr[-3000:]}", pytrace=False)
    node = HOME / f"node-{PORT}"
    yield {
        "url": started.stdout.strip().splitlines()[-1],
        "ca": node / "config" / "certs" / "ca.crt",
        "password": (node / "elastic.password").read_text().strip(),
    }
    _script("stop")


def engine_for(node, **overrides):
    from search_api.engines.elasticsearch import ElasticsearchEngine

    values = dict(
        engine="elasticsearch",
        es_url=node["url"],
        es_ca_certs=node["ca"],
        es_username="elastic",
        es_password=node["password"],
        es_index_prefix=f"labourkb-sec-{uuid.uuid4().hex[:8]}",
        es_timeout=10.0,
    )
    values.update(overrides)
    return ElasticsearchEngine(Settings(**values))


def _doc() -> Document:
    return Document(
        id="sec-1",
        kind="article",
        title="第一条",
        text="拖欠工资",
        tokens={"title": "", "keywords": "", "body": "拖欠 工资"},
        source_path="sec.md",
    )


def test_https_with_our_ca_and_password(secure_node):
    engine = engine_for(secure_node)
    try:
        assert engine.index_documents([_doc()]).indexed == 1
        engine.refresh()
        assert [h.id for h in engine.search(SearchQuery(terms=[Term("工资")])).hits] == ["sec-1"]
        assert engine.health()["ok"] is True
    finally:
        engine.drop_indices()


def test_api_key(secure_node):
    from elasticsearch import BadRequestError, Elasticsearch

    admin = Elasticsearch(
        secure_node["url"], ca_certs=str(secure_node["ca"]), basic_auth=("elastic", secure_node["password"])
    )
    try:
        key = admin.security.create_api_key(name="labourkb-test")["encoded"]
    except BadRequestError as exc:
        if "pattern_capture" in str(exc):
            pytest.skip(
                "this Elasticsearch build lacks analysis-common, which the security index needs to "
                "store API keys; tests/engines/test_es_transport.py checks the ApiKey header is sent"
            )
        raise
    engine = engine_for(secure_node, es_username=None, es_password=None, es_api_key=key)
    try:
        assert engine.index_documents([_doc()]).indexed == 1
        assert engine.count() == 1
    finally:
        engine.drop_indices()
        admin.security.invalidate_api_key(name="labourkb-test")


def test_wrong_password_is_a_clear_engine_error(secure_node):
    engine = engine_for(secure_node, es_password="not-the-password")
    with pytest.raises(EngineUnavailable) as err:
        engine.search(SearchQuery(terms=[Term("工资")]))
    assert "401" in str(err.value)
    assert engine.health()["ok"] is False


def test_certificate_is_verified_unless_told_not_to(secure_node):
    untrusted = engine_for(secure_node, es_ca_certs=None)  # the system trust store doesn't know our CA
    with pytest.raises(EngineUnavailable) as err:
        untrusted.count()
    assert "certificate" in str(err.value).lower() or "ssl" in str(err.value).lower()
    unverified = engine_for(secure_node, es_ca_certs=None, es_verify_certs=False)
    assert unverified.health()["ok"] is True
