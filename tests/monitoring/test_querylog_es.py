"""The Elasticsearch sink of the query log against a real server, outage included.

The outage test runs its own node on a separate port (so stopping it cannot disturb
other tests using the shared node), stops it with ``scripts/elasticsearch.sh stop`` while
searches keep being logged, starts it again, and counts: none lost, none doubled.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from search_api.engines import es_server
from search_api.monitoring.es_sink import EsLogSink, make_client
from search_api.monitoring.querylog import QueryLog
from search_api.settings import Settings

OUTAGE_PORT = 9277
ID_CARD = "11010519491231002X"


def topics(tokens, text):
    return ["wage_arrears"] if "欠薪" in text else []


def es_log_settings(tmp_path, url):
    return Settings(
        data_dir=tmp_path,
        secret_key="s",
        engine="elasticsearch",
        es_url=url,
        es_index_prefix=f"labourkb-test-{uuid.uuid4().hex[:8]}",
    )


def count(client, prefix, kind="querylog"):
    client.indices.refresh(index=f"{prefix}-{kind}-*")
    return client.count(index=f"{prefix}-{kind}-*")["count"]


def drop(client, prefix):
    client.indices.delete(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True)
    for name in ("querylog", "queryevents"):
        try:
            client.indices.delete_index_template(name=f"{prefix}-{name}")
        except Exception:
            pass


def test_records_reach_dated_indices_idempotently(es_url, tmp_path):
    settings = es_log_settings(tmp_path, es_url)
    ql = QueryLog(settings, topics_for=topics)
    client = make_client(settings)
    prefix = settings.es_index_prefix
    try:
        qid = ql.log_search(
            q=f"身份证{ID_CARD} 欠薪",
            tokens=["欠薪"],
            engine="elasticsearch",
            total=1,
            top_ids=["a.1"],
            client_ip="192.0.2.1",
            user_agent="ua",
        )
        ql.log_click(query_id=qid, doc_id="a.1", position=1, client_ip="192.0.2.1", user_agent="ua")
        ql.flush()
        assert count(client, prefix) == 1 and count(client, prefix, "queryevents") == 1
        (hit,) = client.search(index=f"{prefix}-querylog-*")["hits"]["hits"]
        assert hit["_id"] == qid and hit["_index"].startswith(f"{prefix}-querylog-20")
        assert hit["_source"]["user_query"] == "身份证[身份证号] 欠薪"
        assert ID_CARD not in str(hit["_source"]) and "192.0.2.1" not in str(hit["_source"])
        assert "_employers" not in hit["_source"]
        mapping = client.indices.get_mapping(index=hit["_index"])[hit["_index"]]["mappings"]["properties"]
        assert mapping["timestamp"]["type"] == "date"
        assert mapping["query_attributes"]["properties"]["topics"]["type"] == "keyword"
        # sending the same record again is a no-op, not a duplicate
        ql.log_search(q="again", query_id=qid, engine="elasticsearch", total=1)
        ql.flush()
        assert count(client, prefix) == 1
        # retention drops whole dated indices
        ql.es_sink.write([{"query_id": "old", "timestamp": "2001-01-01T00:00:00.000Z", "user_query": "x"}], [])
        assert client.indices.exists(index=f"{prefix}-querylog-2001.01.01")
        assert ql.purge(older_than_days=180)["es_indices"] == 1
        assert count(client, prefix) == 1
    finally:
        ql.close()
        drop(client, prefix)
        client.close()


@pytest.fixture
def outage_node(es_url):
    """A node of our own on OUTAGE_PORT (``es_url`` only ensures ES can run here at all)."""
    url = es_server.ensure_running(port=OUTAGE_PORT, timeout=240)
    yield url
    es_server.stop(port=OUTAGE_PORT)


def test_spool_replays_after_an_outage(outage_node, tmp_path):
    settings = es_log_settings(tmp_path, outage_node)
    ql = QueryLog(settings, topics_for=topics)
    client = make_client(settings)
    prefix = settings.es_index_prefix
    produced: list[str] = []
    stop = threading.Event()

    def producer():
        i = 0
        while not stop.is_set():
            produced.append(
                ql.log_search(
                    q=f"欠薪 {i}",
                    tokens=["欠薪"],
                    engine="elasticsearch",
                    total=1,
                    client_ip=f"10.0.{i // 200}.{i % 200}",
                    user_agent="ua",
                )
            )
            i += 1
            time.sleep(0.02)

    thread = threading.Thread(target=producer)
    try:
        thread.start()
        time.sleep(1.5)
        es_server.stop(port=OUTAGE_PORT)  # scripts/elasticsearch.sh stop, mid-stream
        time.sleep(2)
        ql.flush()
        assert ql.es_sink.spooled() > 0, "records logged during the outage must be spooled"
        es_server.ensure_running(port=OUTAGE_PORT, timeout=240)
        time.sleep(RETRY_GRACE)
        stop.set()
        thread.join()
        ql.flush()  # the next write replays the spool first
        ql.replay_spool()
        assert ql.es_sink.spooled() == 0 and not ql.es_sink.spool_path.exists()
        assert count(client, prefix) == len(produced) == len(set(produced))
        ids = {h["_id"] for h in client.search(index=f"{prefix}-querylog-*", size=10_000, source=False)["hits"]["hits"]}
        assert ids == set(produced)
        # a crash between send and spool truncation means a second replay: still no doubles
        sink = EsLogSink(settings, client)
        sink._spool([("query", {"query_id": produced[0], "timestamp": "2030-01-01T00:00:00.000Z", "user_query": "x"})])
        sink._spool([("query", {"query_id": produced[1], "timestamp": "2030-01-01T00:00:00.000Z", "user_query": "x"})])
        assert sink.replay_spool() == 2
        assert count(client, prefix) == len(produced) + 2  # new index 2030.01.01 …
        assert sink.replay_spool() == 0
        sink._spool([("query", {"query_id": produced[0], "timestamp": "2030-01-01T00:00:00.000Z", "user_query": "x"})])
        sink.replay_spool()
        assert count(client, prefix) == len(produced) + 2  # … and replaying it again adds nothing
    finally:
        stop.set()
        thread.join(timeout=5)
        ql.close()
        try:
            drop(client, prefix)
        finally:
            client.close()


RETRY_GRACE = 6  # > querylog_es.RETRY_AFTER_S: the writer tries Elasticsearch again
