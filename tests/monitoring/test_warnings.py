"""Early warnings and signed webhooks, against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from search_api import db
from search_api.db import iso
from search_api.monitoring.alerts import WarningMonitor, list_warnings
from search_api.monitoring.employers import extract_employers
from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.webhooks import attach_monitoring, deliveries, verify
from search_api.settings import Settings
from tests.monitoring.helpers import Receiver

SECRET = "webhook-test-secret"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1 Mobile"


@pytest.fixture
def settings(tmp_path):
    # the project's real lexicon supplies the topics (欠薪 → wage_arrears, distress)
    return Settings(data_dir=tmp_path, secret_key="s", engine="sqlite")


def hooked(settings, receiver):
    return settings.model_copy(update={"webhook_urls": receiver.url, "webhook_secret": SECRET, "webhook_timeout": 2})


@pytest.fixture
def monitored(settings, receiver):
    settings = hooked(settings, receiver)
    ql = QueryLog(settings)
    watcher, sender = attach_monitoring(ql, settings)
    sender.backoff = 0.05
    yield ql, watcher, sender
    ql.close()
    sender.close()
    watcher.close()


def ask(ql, ip, q="深圳华强电子厂欠薪怎么办", tokens=("欠薪", "怎么办")):
    ql.log_search(
        q=q, tokens=list(tokens), engine="sqlite", total=2, top_ids=["a"], source="site", client_ip=ip, user_agent=UA
    )


def settle(ql, sender):
    ql.flush()
    assert sender.wait_idle(10)


def warnings_of(ql):
    with db.log_database(ql.settings).connect() as conn:
        return list_warnings(conn)


def set_timestamps(settings, stamps):
    """Move the query rows ``seq`` → ``timestamp`` into the past."""
    with db.log_database(settings).transaction() as conn:
        conn.execute("UPDATE queries SET timestamp = :ts WHERE seq = :seq", [{"seq": q, "ts": t} for q, t in stamps])


def test_employer_names_are_extracted():
    assert extract_employers("我在深圳华强电子厂上班，老板欠薪跑路了") == ["深圳华强电子厂"]
    assert extract_employers("华强电子有限责任公司破产了") == ["华强电子有限公司"]
    assert extract_employers("我们公司欠薪") == []
    assert extract_employers("工厂倒闭了") == []
    assert extract_employers("鸿海欠薪", (("鸿海", "富士康科技集团"),)) == ["富士康科技集团"]


def test_three_visitors_raise_one_signed_warning(monitored, receiver):
    ql, _, sender = monitored
    ask(ql, "10.1.0.1")
    ask(ql, "10.2.0.1")
    settle(ql, sender)
    assert warnings_of(ql) == [] and receiver.calls == []
    ask(ql, "10.3.0.1", q="华强电子厂拖欠工资三个月")
    ask(ql, "10.3.0.1")  # the same visitor again: no second warning
    settle(ql, sender)
    ask(ql, "10.4.0.1")  # a fourth visitor in the same window: still one warning
    settle(ql, sender)
    (w,) = warnings_of(ql)
    assert (w.kind, w.subject, w.visitors, w.topics) == ("employer", "深圳华强电子厂", 3, ["wage_arrears"])
    assert len(receiver.calls) == 1
    headers, body = receiver.calls[0]
    assert verify(body, SECRET, headers["x-labourkb-signature"])
    assert not verify(body, "wrong-secret", headers["x-labourkb-signature"])
    payload = json.loads(body)
    assert payload["type"] == "employer_warning" and payload["subject"] == "深圳华强电子厂"
    assert payload["visitors"] == 3
    # aggregate facts only: no query text, no visitor ids
    assert "怎么办" not in body.decode() and "client" not in body.decode()
    assert [d["state"] for d in deliveries(db.log_database(ql.settings))] == ["delivered"]


def test_a_flood_from_one_visitor_counts_once(monitored, receiver):
    ql, _, sender = monitored
    for _ in range(50):
        ask(ql, "10.0.0.9")
    ask(ql, "10.0.0.10")
    settle(ql, sender)
    assert warnings_of(ql) == []
    assert receiver.calls == []


def test_no_distress_topic_no_warning(monitored, receiver):
    ql, _, sender = monitored
    for ip in ("10.0.1.1", "10.0.1.2", "10.0.1.3"):
        ask(ql, ip, q="深圳华强电子厂年假怎么休", tokens=("年假",))
    settle(ql, sender)
    assert warnings_of(ql) == [] and receiver.calls == []


def test_webhook_answering_500_is_retried(settings):
    receiver = Receiver(statuses=(500, 503, 200))
    settings = hooked(settings, receiver)
    ql = QueryLog(settings)
    watcher, sender = attach_monitoring(ql, settings)
    sender.backoff = 0.05
    try:
        for ip in ("10.0.2.1", "10.0.3.1", "10.0.4.1"):
            ask(ql, ip)
        settle(ql, sender)
        assert len(receiver.calls) == 3
        keys = {h["x-labourkb-delivery"] for h, _ in receiver.calls}
        assert len(keys) == 1  # the same delivery, so the receiver can de-duplicate
        (d,) = deliveries(db.log_database(ql.settings))
        assert (d["state"], d["attempts"]) == ("delivered", 3)
    finally:
        ql.close()
        sender.close()
        watcher.close()
        receiver.close()


def test_visitors_spread_beyond_the_window_raise_nothing(tmp_path, settings):
    ql = QueryLog(settings)
    for ip in ("10.0.5.1", "10.0.6.1", "10.0.7.1"):
        ask(ql, ip)
    ql.flush()
    now = datetime.now(UTC)
    # 9 and 0 days ago: never 3 within 7 days
    set_timestamps(settings, [(seq, iso(now - timedelta(days=ago))) for seq, ago in ((1, 9), (2, 4), (3, 0))])
    watcher = WarningMonitor(db.log_database(settings), {"wage_arrears"}, settings)
    try:
        assert watcher.check_employer("深圳华强电子厂", now=now) == []
        # with a 10-day window the three do add up, and re-checking never duplicates
        watcher.window = timedelta(days=10)
        assert len(watcher.check_employer("深圳华强电子厂", now=now)) == 1
        assert watcher.check_employer("深圳华强电子厂", now=now) == []
    finally:
        watcher.close()
        ql.close()


def test_district_topic_spike_against_own_baseline(settings):
    ql = QueryLog(settings)
    now = datetime.now(UTC)
    n = 0
    # four quiet weeks (1 visitor each) in 天河区, then 6 visitors this week; 越秀区 steady at 6
    plan = [("天河区", w, 1) for w in (1, 2, 3, 4)] + [("天河区", 0, 6)]
    plan += [("越秀区", w, 6) for w in (0, 1, 2, 3, 4)]
    stamps = []
    for district, weeks_ago, visitors in plan:
        for v in range(visitors):
            n += 1
            ql.log_search(
                q="工伤认定怎么办",
                tokens=["工伤认定"],
                engine="sqlite",
                total=1,
                district=district,
                client_ip=f"10.9.{n}.1",
                user_agent=UA,
            )
            stamps.append(iso(now - timedelta(days=7 * weeks_ago + 1, minutes=v)))
    ql.flush()
    set_timestamps(settings, list(enumerate(stamps, start=1)))
    spiky = settings.model_copy(update={"spike_min_count": 5})
    watcher = WarningMonitor(db.log_database(settings), {"work_injury"}, spiky)
    try:
        spikes = watcher.check_spikes(now=now)
        assert [(s.subject, s.visitors) for s in spikes] == [("天河区/work_injury", 6)]
        assert watcher.check_spikes(now=now) == []  # same week: never twice
    finally:
        watcher.close()
        ql.close()


def test_create_app_takes_thresholds_and_webhooks_from_its_settings(settings, receiver):
    from search_api.app import create_app

    app = create_app(hooked(settings, receiver).model_copy(update={"warning_min_visitors": 2}))
    ql, (watcher, sender) = app.state.querylog, app.state.monitor
    sender.backoff = 0.05
    try:
        assert (watcher.k, sender.urls, sender.secret) == (2, [receiver.url], SECRET)
        ask(ql, "10.0.8.1")
        ask(ql, "10.0.9.1")
        settle(ql, sender)
        (w,) = warnings_of(ql)
        assert (w.subject, w.visitors) == ("深圳华强电子厂", 2)
        headers, body = receiver.calls[0]
        assert verify(body, SECRET, headers["x-labourkb-signature"])
    finally:
        ql.close()
        sender.close()
        watcher.close()
        app.state.engine.close()
