"""The feed and the Elasticsearch log indices against the OpenSearch UBI 1.3.0 schemas, field by field.

``QUERY_SCHEMA``/``EVENT_SCHEMA`` restate the constraints of UBI's ``query.request.schema.json``
and ``event.schema.json`` (types, lengths, required fields, the integer ``position.ordinal``);
``check`` applies them. ES runs for real (tests/fixtures/es.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from search_api.accounts.tokens import create_token
from search_api.app import create_app
from search_api.monitoring.es_sink import make_client
from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.records import click_record, ubi_event
from search_api.settings import Settings
from tests.monitoring.test_querylog_es import drop, es_log_settings

STR100 = {"type": str, "max": 100}
QUERY_SCHEMA = {
    "required": {"user_query"},
    "fields": {
        "application": STR100,
        "query_id": STR100,
        "client_id": STR100,
        "user_query": {"type": str},
        "query_attributes": {"type": dict},
        "object_id_field": STR100,
        "timestamp": {"type": "date-time"},
        "query_response_id": {"type": str},
        "query_response_hit_ids": {"type": list, "items": str},
    },
}
EVENT_SCHEMA = {
    "required": {"action_name", "timestamp"},
    "fields": {
        "application": STR100,
        "action_name": STR100,
        "query_id": STR100,
        "session_id": STR100,
        "client_id": STR100,
        "user_id": STR100,
        "timestamp": {"type": "date-time"},
        "message_type": STR100,
        "message": {"type": str, "max": 1024},
        "event_attributes": {"type": dict},
    },
}
# Ours, beside UBI's (UBI allows additional properties): the feed's resume point, the event's id.
OUR_TOP_LEVEL = {"cursor", "event_id"}


def check(doc: dict, schema: dict) -> None:
    """Raise AssertionError where ``doc`` breaks ``schema``."""
    assert schema["required"] <= set(doc), f"missing {schema['required'] - set(doc)}"
    for name, value in doc.items():
        if name in OUR_TOP_LEVEL:
            continue
        assert name in schema["fields"], f"{name} is not a UBI field: ours go in *_attributes"
        rule = schema["fields"][name]
        if rule["type"] == "date-time":
            assert isinstance(value, str) and value.endswith("Z") and datetime.fromisoformat(value), value
        else:
            assert isinstance(value, rule["type"]), (name, value)
        if "max" in rule:
            assert len(value) <= rule["max"], name
        if "items" in rule:
            assert all(isinstance(v, rule["items"]) for v in value), name
    attributes = doc.get("event_attributes")
    if attributes is not None:
        assert set(attributes["object"]) >= {"object_id"} and len(attributes["object"]["object_id"]) <= 256
        if "position" in attributes:  # UBI: an integer ordinal (or x/y), never null
            assert isinstance(attributes["position"]["ordinal"], int)


def test_feed_records_are_ubi_queries(tmp_path):
    settings = Settings(data_dir=tmp_path, secret_key="s", engine="sqlite")
    with TestClient(create_app(settings)) as client:
        client.app.state.querylog.log_search(
            q="小明鞋厂拖欠工资怎么办", tokens=["小明", "鞋厂", "拖欠", "工资"], engine="sqlite", total=3,
            top_ids=["a.1", "a.2"], district="天河区", client_ip="10.9.0.1",
        )  # fmt: skip
        client.app.state.querylog.flush()
        token = create_token(settings, "monitor", ["logs:read"])
        feed = client.get("/api/logs", headers={"Authorization": f"Bearer {token}"}).text
    (rec,) = [json.loads(line) for line in feed.splitlines()]
    check(rec, QUERY_SCHEMA)
    assert rec["query_response_hit_ids"] == ["a.1", "a.2"] and uuid.UUID(rec["query_response_id"])
    attributes = rec["query_attributes"]
    assert attributes["district"] == "天河区" and attributes["total"] == 3 and attributes["engine"] == "sqlite"
    assert "小明鞋厂" not in feed and "[用人单位]" in rec["user_query"]  # one visitor: below K


def test_click_events_are_ubi_events():
    item = {"query_id": "q1", "doc_id": "a.1", "client_ip": "10.0.0.1", "user_agent": "ua", "when": datetime.now()}
    check(ubi_event(click_record({**item, "position": 2}, secret=b"s")), EVENT_SCHEMA)
    unranked = ubi_event(click_record({**item, "position": None}, secret=b"s"))
    check(unranked, EVENT_SCHEMA)
    assert "position" not in unranked["event_attributes"]


@pytest.fixture
def es_log(es_url, tmp_path):
    settings = es_log_settings(tmp_path, es_url)
    ql = QueryLog(settings)
    client = make_client(settings)
    yield settings, ql, client
    ql.close()
    drop(client, settings.es_index_prefix)
    client.close()


def test_es_log_indices_hold_masked_ubi_documents(es_log):
    """es_sink sent the query text unmasked: an employer below K reached the ES log indices."""
    settings, ql, client = es_log
    prefix = settings.es_index_prefix
    qid = ql.log_search(
        q="小明鞋厂拖欠工资怎么办", tokens=["小明", "鞋厂", "拖欠", "工资"], engine="elasticsearch", total=1,
        top_ids=["a.1"], client_ip="192.0.2.7", user_agent="ua",
    )  # fmt: skip
    ql.log_click(query_id=qid, doc_id="a.1", position=1, client_ip="192.0.2.7", user_agent="ua")
    ql.flush()
    client.indices.refresh(index=f"{prefix}-*")
    (hit,) = client.search(index=f"{prefix}-ubi_queries")["hits"]["hits"]
    doc = hit["_source"]
    check(doc, QUERY_SCHEMA)
    assert "小明" not in json.dumps(doc, ensure_ascii=False) and doc["user_query"] == "[用人单位]拖欠工资怎么办"
    assert doc["query_attributes"]["total"] == 1 and "_employers" not in doc
    # UBI tools aggregate on user_query: a keyword, with a text sub-field for full-text search
    found = client.search(index=f"{prefix}-ubi_queries", query={"match": {"user_query.text": "拖欠"}})
    assert found["hits"]["total"]["value"] == 1
    terms = client.search(index=f"{prefix}-ubi_queries", size=0, aggs={"q": {"terms": {"field": "user_query"}}})
    assert [b["key"] for b in terms["aggregations"]["q"]["buckets"]] == ["[用人单位]拖欠工资怎么办"]
    (event,) = client.search(index=f"{prefix}-ubi_events")["hits"]["hits"]
    check(event["_source"], EVENT_SCHEMA)
    assert event["_source"]["query_id"] == qid and event["_source"]["event_attributes"]["position"]["ordinal"] == 1
