"""The query log as a library: redaction, pseudonymous visitors, records, purge."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.redact import make_client_id, redact, ua_family
from search_api.settings import Settings

ID_CARD = "11010119900307123X"
PHONE = "13812345678"
CHROME_ANDROID = "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


def simple_topics(tokens, text):
    table = {"欠薪": "wage_arrears", "工资": "wage_arrears", "破产": "bankruptcy", "工伤": "work_injury"}
    return sorted({tid for word, tid in table.items() if word in text})


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, secret_key="test-secret", engine="sqlite")


@pytest.fixture
def qlog(settings):
    ql = QueryLog(settings, topics_for=simple_topics)
    yield ql
    ql.close()


def rows(ql, table="queries"):
    conn = sqlite3.connect(ql.path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY seq")]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("身份证11010119900307123X被扣", "身份证[身份证号]被扣"),
        ("身份证110101900307123", "身份证[身份证号]"),
        ("电话+86 138-1234-5678", "电话[手机号]"),
        ("电话１３８１２３４５６７８", "电话[手机号]"),  # full-width digits
        ("卡号6222 0212 3456 7890 128", "卡号[银行卡号]"),
        ("写信到 zhang.san@example.com.cn", "写信到 [邮箱]"),
        ("劳动合同法第47条", "劳动合同法第47条"),
        ("a\x00b\x1b[31mc\u200bd", "a b [31mcd"),
    ],
)
def test_redact(raw, expected):
    assert redact(raw) == expected


def test_redact_bounds_hostile_input():
    assert redact("9" * 10_000) == "[数字]"
    long = redact("欠薪" * 5_000)
    assert len(long) == 200
    assert redact("\x00\x01\x02") == ""
    # a number at the cut is removed whole, never left as a fragment
    assert not re.search(r"\d{5}", redact("问" * 195 + PHONE))


def test_client_id_rotates_daily_and_hides_the_ip():
    secret = b"s"
    day1 = datetime(2024, 5, 1, 10, tzinfo=UTC)
    same_day = make_client_id(secret, "10.0.0.1", CHROME_ANDROID, day1)
    assert same_day == make_client_id(secret, "10.0.0.1", CHROME_ANDROID, day1 + timedelta(hours=5))
    assert same_day != make_client_id(secret, "10.0.0.1", CHROME_ANDROID, day1 + timedelta(days=1))
    assert same_day != make_client_id(secret, "10.0.0.2", CHROME_ANDROID, day1)
    assert "10.0.0.1" not in same_day
    assert ua_family(CHROME_ANDROID) == "chrome/mobile"
    assert ua_family("Baiduspider") == "bot"


def test_search_record_has_ubi_shape_and_no_personal_data(qlog, settings):
    qid = qlog.log_search(
        q=f"身份证{ID_CARD} 电话{PHONE} 欠薪怎么办",
        tokens=["身份证", ID_CARD, "电话", PHONE, "欠薪", "怎么办"],
        filters={"kind": ["article"]},
        engine="sqlite",
        total=3,
        top_ids=["labor-contract-law.30", "labor-contract-law.85"],
        took_ms=12.345,
        failed=False,
        source="api",
        district=f"天河区{PHONE}",
        client_ip="203.0.113.9",
        user_agent=CHROME_ANDROID,
    )
    qlog.log_click(
        query_id=qid, doc_id="labor-contract-law.85", position=2, client_ip="203.0.113.9", user_agent=CHROME_ANDROID
    )
    # journaled before log_search returned (monitoring.journal): redacted there too
    journal = b"".join(p.read_bytes() for p in (settings.data_dir / "querylog-journal").glob("*.jsonl"))
    assert qid.encode() in journal
    qlog.flush()
    (rec,) = rows(qlog)
    assert rec["query_id"] == qid
    assert rec["user_query"] == "身份证[身份证号] 电话[手机号] 欠薪怎么办"
    assert json.loads(rec["tokens"]) == ["身份证", "电话", "欠薪", "怎么办"]
    assert json.loads(rec["hit_ids"]) == ["labor-contract-law.30", "labor-contract-law.85"]
    assert json.loads(rec["topics"]) == ["wage_arrears"]
    assert rec["district"] == "天河区[手机号]"
    assert rec["took_ms"] == 12.35 and rec["total"] == 3 and rec["source"] == "api"
    (click,) = rows(qlog, "events")
    assert (click["query_id"], click["object_id"], click["position"]) == (qid, "labor-contract-law.85", 2)
    assert click["client_id"] == rec["client_id"]
    qlog.close()
    # nothing of the raw identifiers anywhere in the file (WAL checkpointed on close)
    data = journal + b"".join(p.read_bytes() for p in settings.data_dir.rglob("querylog*") if p.is_file())
    for secret in (ID_CARD, PHONE, "203.0.113.9", "Pixel 7", "Mozilla"):
        assert secret.encode() not in data


@pytest.mark.parametrize("q", ["1" * 10_000, "劳" * 10_000, "\x00\x07\x1b\u202e欠薪\r\n", ""])
def test_hostile_queries_are_stored_truncated(qlog, q):
    qlog.log_search(q=q, tokens=[q], engine="sqlite", total=0, client_ip="1.2.3.4", user_agent="x")
    qlog.flush()
    (rec,) = rows(qlog)
    assert len(rec["user_query"]) <= 200
    assert not re.search(r"[\x00-\x1f\u202e]", rec["user_query"])
    assert not re.search(r"\d{11}", rec["user_query"] + rec["tokens"])


def test_logging_never_raises_into_search(qlog):
    bad = object()
    qid = qlog.log_search(q=bad, tokens=[bad], filters={"x": bad}, engine=None, total="many")  # type: ignore[arg-type]
    qlog.log_search(q="欠薪", tokens=["欠薪"], engine="sqlite", total=1)
    qlog.flush()
    assert isinstance(qid, str)
    assert [r["user_query"] for r in rows(qlog)][-1] == "欠薪"


def test_disabled_log_writes_nothing(tmp_path):
    ql = QueryLog(Settings(data_dir=tmp_path, secret_key="s", querylog_enabled=False), topics_for=simple_topics)
    ql.log_search(q="欠薪", engine="sqlite", total=1)
    ql.flush()
    assert rows(ql) == []
    ql.close()


def test_purge_removes_old_records(qlog):
    qlog.log_search(q="旧的", engine="sqlite", total=1)
    qlog.log_search(q="新的", engine="sqlite", total=1)
    qlog.flush()
    old = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    conn = sqlite3.connect(qlog.path)
    with conn:
        conn.execute("UPDATE queries SET timestamp = ? WHERE user_query = '旧的'", (old,))
    conn.close()
    assert qlog.purge(older_than_days=180) == {"queries": 1, "events": 0}
    assert [r["user_query"] for r in rows(qlog)] == ["新的"]


def test_secret_key_file_is_generated_once(tmp_path):
    s = Settings(data_dir=tmp_path)
    a = QueryLog(s, topics_for=simple_topics)
    b = QueryLog(s, topics_for=simple_topics)
    try:
        assert a._secret == b._secret and len(a._secret) == 64
        assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    finally:
        a.close()
        b.close()
