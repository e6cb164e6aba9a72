"""Elasticsearch fixtures (a pytest plugin: ``pytest_plugins = ["tests.conftest_es"]``).

``es_url`` starts the local node with ``scripts/elasticsearch.sh`` once per session
(or reuses ``LABOURKB_ES_URL`` / a node already up). When ``CI`` is set a node that
cannot start fails the tests with its log; locally, a machine that cannot get
Elasticsearch at all (no Maven and nothing cached) skips them with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from search_api.engines import es_server
from search_api.settings import Settings


def _can_install() -> bool:
    home = Path(os.environ.get("LABOURKB_ES_HOME", "/opt/labourkb-es"))
    cached = any(home.glob("elasticsearch-*/bin/elasticsearch")) or any(home.glob("dl/*.zip"))
    return cached or shutil.which("mvn") is not None


@pytest.fixture(scope="session")
def es_url() -> str:
    """URL of a running Elasticsearch (started or reused once per session)."""
    if not os.environ.get("CI") and not os.environ.get("LABOURKB_ES_URL") and not _can_install():
        pytest.skip("Elasticsearch 未安装且无法下载（没有 mvn）；设置 LABOURKB_ES_URL 或安装 Maven")
    try:
        return es_server.ensure_running()
    except es_server.EsServerError as exc:
        pytest.fail(f"Elasticsearch could not start:\n{exc}", pytrace=False)


def es_settings(url: str, **overrides) -> Settings:
    """Settings for an engine on ``url`` with a fresh, unique index prefix."""
    values = {
        "engine": "elasticsearch",
        "es_url": url,
        "es_index_prefix": f"labourkb-test-{uuid.uuid4().hex[:8]}",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def es_engine_factory(es_url: str) -> Iterator:
    """Build ``ElasticsearchEngine``s with unique prefixes; all their indices go on teardown."""
    from search_api.engines.elasticsearch import ElasticsearchEngine

    made: list[ElasticsearchEngine] = []

    def make(url: str | None = None, **overrides) -> ElasticsearchEngine:
        engine = ElasticsearchEngine(es_settings(url or es_url, **overrides))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        try:
            engine.drop_indices()
        except Exception:  # a test that stopped its own server: nothing left to clean there
            pass
        engine.close()


@pytest.fixture
def es_engine(es_engine_factory):
    """An ``ElasticsearchEngine`` with its own index prefix (``labourkb-test-<uuid8>``)."""
    return es_engine_factory()
