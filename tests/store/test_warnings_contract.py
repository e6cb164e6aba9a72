"""Early warnings, webhook deliveries and the weekly report with two app servers on one store.

Each test runs on SQLite and on a fresh PostgreSQL schema (``log_db``). A "server" is its own
:class:`Database` (its own engine and connection pool) with its own warning monitor and webhook
sender, as two app servers sharing one PostgreSQL database have. Deliveries go to real HTTP
receivers on 127.0.0.1 that count the POSTs.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from search_api import db
from search_api.db import iso, utc_now
from search_api.db.database import _postgresql_engine, _sqlite_engine
from search_api.monitoring import weekly
from search_api.monitoring.alerts import WarningMonitor, list_warnings
from search_api.monitoring.webhooks import DELIVERY_HEADER, Claims, WebhookSender, deliveries, verify
from search_api.settings import Settings
from tests.monitoring.helpers import Receiver

SECRET = "contract-secret"
DISTRESS = {"wage_arrears"}
K = 3


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    hooks = [Receiver(), Receiver()]
    yield hooks
    for hook in hooks:
        hook.close()


@pytest.fixture
def settings(tmp_path, receivers) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s",
        warning_min_visitors=K,
        webhook_urls=",".join(r.url for r in receivers),
        webhook_secret=SECRET,
        webhook_timeout=2,
    )


@pytest.fixture
def servers(log_db) -> Iterator[list[db.Database]]:
    """Two app servers' views of the one query-log store, each with its own connection pool."""
    if log_db.is_postgresql:
        engine = _postgresql_engine(log_db.engine.url.render_as_string(hide_password=False))
    else:
        engine = _sqlite_engine(Path(log_db.engine.url.database))
    other = db.Database(engine, "querylog")
    yield [log_db, other]
    other.dispose()


@pytest.fixture
def senders(servers, settings) -> Iterator[list[WebhookSender]]:
    made = [WebhookSender(database, settings, backoff=0.05) for database in servers]
    yield made
    for sender in made:
        sender.close()


def ask(database: db.Database, employer: str, network: str, minutes_ago: float = 5, topic: str = "wage_arrears"):
    """One stored search naming ``employer`` with ``topic``, from visitor network ``network``."""
    with database.transaction(lock=False) as conn:
        conn.execute(
            "INSERT INTO queries (query_id, client_id, timestamp, user_query, tokens, filters, engine, total,"
            " hit_ids, took_ms, failed, source, district, topics, employers, network_id, browser)"
            " VALUES (:qid, :client, :ts, '[用人单位]欠薪', '[]', '{}', 'sqlite', 1, '[]', 1.0, 0, 'site', NULL,"
            " :topics, :employers, :network, 'chrome/mobile')",
            {
                "qid": uuid.uuid4().hex,
                "client": f"c-{network}",
                "ts": iso(utc_now() - timedelta(minutes=minutes_ago)),
                "topics": json.dumps([topic]),
                "employers": json.dumps([employer], ensure_ascii=False),
                "network": network,
            },
        )


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment, one thread each; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def warnings(database: db.Database):
    with database.connect() as conn:
        return list_warnings(conn)


def settle(senders: list[WebhookSender]) -> None:
    for sender in senders:
        assert sender.wait_idle(20)


def test_two_servers_raise_each_warning_once(servers, settings):
    employers = [f"华强电子{i}厂" for i in range(6)]
    for employer in employers:
        for n in range(K):  # the K visitors' searches landed on either server
            ask(servers[n % 2], employer, f"net-{n}", minutes_ago=30 - n)
    monitors = [WarningMonitor(database, DISTRESS, settings) for database in servers]
    for employer in employers:
        raised = race(*(lambda m=m, e=employer: m.check_employer(e) for m in monitors))
        assert sorted(len(r) for r in raised) == [0, 1], employer  # exactly one server raised it
    rows = warnings(servers[1])
    assert sorted(w.subject for w in rows) == sorted(employers)
    assert {(w.visitors, w.networks, w.topics[0]) for w in rows} == {(K, K, "wage_arrears")}
    # a re-check on either server never raises it again
    assert monitors[0].check_employer(employers[0]) == [] and monitors[1].check_employer(employers[0]) == []


def test_a_server_counts_the_visitors_of_every_server(servers, settings):
    a, b = servers
    ask(a, "宏达五金厂", "net-1", minutes_ago=20)
    ask(a, "宏达五金厂", "net-2", minutes_ago=10)
    monitor_b = WarningMonitor(b, DISTRESS, settings)
    assert monitor_b.check_employer("宏达五金厂") == []  # two visitors so far, both on server A
    ask(b, "宏达五金厂", "net-1", minutes_ago=5)  # the same network again: still two
    assert monitor_b.check_employer("宏达五金厂") == []
    ask(b, "宏达五金厂", "net-3", minutes_ago=1)
    (w,) = monitor_b.check_employer("宏达五金厂")
    assert (w.subject, w.visitors, w.evidence) == ("宏达五金厂", 3, {"networks": 3, "days": w.days, "browsers": 1})
    assert [x.id for x in warnings(a)] == [w.id]


def test_two_senders_deliver_each_warning_once_per_url(servers, settings, senders, receivers):
    for n in range(K):
        ask(servers[n % 2], "小明鞋厂", f"net-{n}", minutes_ago=10 - n)
    monitors = [WarningMonitor(d, DISTRESS, settings, notify=s.send) for d, s in zip(servers, senders, strict=True)]
    race(*(lambda m=m: m.check_employer("小明鞋厂") for m in monitors))
    (alert,) = warnings(servers[0])
    # both servers enqueue it, and both sweep for unsent deliveries, at the same moment
    race(*(lambda s=s: s.send([alert]) for s in senders), *(lambda s=s: s.resume() for s in senders))
    settle(senders)
    for receiver in receivers:
        ((headers, body),) = receiver.calls
        assert verify(body, SECRET, headers["x-labourkb-signature"])
        assert json.loads(body)["subject"] == "小明鞋厂"
    rows = deliveries(servers[1])
    assert [(r["url"], r["state"], r["attempts"]) for r in rows] == sorted((r.url, "delivered", 1) for r in receivers)
    assert all(r["claimed_by"] in {s.claims.worker for s in senders} for r in rows)


def add_warning(database: db.Database, subject: str = "宏达五金厂") -> int:
    with database.transaction() as conn:
        return conn.scalar(
            "INSERT INTO warnings (kind, subject, window_start, window_end, topics, visitors, created_at,"
            " networks, days, browsers) VALUES ('employer', :subject, :start, :end, '[\"wage_arrears\"]', 3,"
            " :start, 3, 1, 1) RETURNING id",
            {"subject": subject, "start": iso(utc_now() - timedelta(hours=1)), "end": iso(utc_now())},
        )


def claimed(database: db.Database, warning_id: int, url: str, minutes_ago: float, attempts: int, by: str) -> None:
    with database.transaction() as conn:
        conn.execute(
            "INSERT INTO webhook_deliveries (warning_id, url, state, attempts, claimed_at, claimed_by)"
            " VALUES (:w, :url, 'sending', :attempts, :at, :by)",
            {
                "w": warning_id,
                "url": url,
                "attempts": attempts,
                "by": by,
                "at": iso(utc_now() - timedelta(minutes=minutes_ago)),
            },
        )


def test_a_claim_left_by_a_dead_server_is_sent_again_once(servers, settings, senders, receivers):
    stale_url, fresh_url = (r.url for r in receivers)
    wid = add_warning(servers[0])
    claimed(servers[0], wid, stale_url, minutes_ago=20, attempts=1, by="dead-server")  # killed mid-send
    claimed(servers[0], wid, fresh_url, minutes_ago=1, attempts=1, by="busy-server")  # still sending
    assert race(*(lambda s=s: s.resume() for s in senders)) == [1, 1]  # both see the stale one
    settle(senders)
    assert len(receivers[0].calls) == 1 and receivers[1].calls == []
    rows = {r["url"]: r for r in deliveries(servers[1])}
    assert (rows[stale_url]["state"], rows[stale_url]["attempts"]) == ("delivered", 2)  # attempts add up
    assert rows[stale_url]["claimed_by"] in {s.claims.worker for s in senders}
    assert (rows[fresh_url]["state"], rows[fresh_url]["claimed_by"]) == ("sending", "busy-server")
    assert [s.resume() for s in senders] == [0, 0]  # nothing left to send


def test_a_stale_claim_without_attempts_left_is_given_up(servers, settings, senders, receivers):
    wid = add_warning(servers[0])
    claimed(servers[0], wid, receivers[0].url, minutes_ago=20, attempts=settings.webhook_max_attempts, by="dead")
    assert senders[1].resume() == 0
    settle(senders)
    assert receivers[0].calls == []
    (row,) = deliveries(servers[0])
    assert row["state"] == "failed"


def test_a_sender_whose_claim_was_taken_over_stops(servers, settings, receivers):
    url = receivers[0].url
    wid = add_warning(servers[0])
    with servers[0].transaction() as conn:
        conn.execute("INSERT INTO webhook_deliveries (warning_id, url) VALUES (:w, :u)", {"w": wid, "u": url})
    first, second = (Claims(d, "webhook_deliveries", "warning_id", 6, claim_timeout=600) for d in servers)
    assert first.claim(wid, url) == 0
    assert second.claim(wid, url) is None  # held by the first
    with servers[0].transaction() as conn:  # the first server stalls past the timeout
        conn.execute("UPDATE webhook_deliveries SET claimed_at = :at", {"at": iso(utc_now() - timedelta(hours=1))})
    assert second.claim(wid, url) == 0
    assert first.mark(wid, url, "sending", 1, None) is False  # it has lost the claim
    assert second.mark(wid, url, "sending", 1, None) is True
    assert second.mark(wid, url, "delivered", 1, None) is True
    assert first.mark(wid, url, "failed", 2, "late") is False
    (row,) = deliveries(servers[1])
    assert (row["state"], row["attempts"], row["claimed_by"]) == ("delivered", 1, second.worker)


def weekly_report(week: str = "2026-W47") -> dict[str, Any]:
    return {"type": "weekly_report", "week": week, "searches": {"queries": 7}}


def test_two_servers_send_the_weekly_report_once(servers, settings, receivers):
    states = race(*(lambda d=d: weekly.send_report(settings, weekly_report(), database=d) for d in servers))
    # each URL claimed by one server (one may win both, or each one of them)
    assert Counter(url for s in states for url in s) == Counter(r.url for r in receivers)
    assert {state for s in states for state in s.values()} == {"delivered"}
    for receiver in receivers:
        ((headers, _),) = receiver.calls
        assert headers[DELIVERY_HEADER.lower()] == "weekly-2026-W47"
    rows = weekly.weekly_deliveries(servers[1])
    assert {(r["week"], r["state"], r["attempts"]) for r in rows} == {("2026-W47", "delivered", 1)}
    assert race(*(lambda d=d: weekly.send_report(settings, weekly_report(), database=d) for d in servers)) == [{}, {}]
    assert weekly.unsent_urls(weekly.claims(servers[0], settings), "2026-W47", settings.webhook_url_list) == []


def test_a_weekly_report_left_by_a_crash_is_sent_later(servers, settings, receivers):
    crashed, waiting = (r.url for r in receivers)
    long_ago, just_now = iso(utc_now() - timedelta(hours=2)), iso(utc_now())
    with servers[0].transaction() as conn:
        conn.execute(
            "INSERT INTO weekly_deliveries (week, url, claimed_at, state, attempts, claimed_by)"
            " VALUES ('2026-W47', :url, :at, :state, :attempts, :by)",
            [
                {"url": crashed, "at": long_ago, "state": "sending", "attempts": 1, "by": "dead"},
                {"url": waiting, "at": just_now, "state": "sending", "attempts": 0, "by": "alive"},
            ],
        )
    claims = weekly.claims(servers[1], settings)
    assert weekly.unsent_urls(claims, "2026-W47", settings.webhook_url_list) == [crashed]
    states = race(*(lambda d=d: weekly.send_report(settings, weekly_report(), database=d) for d in servers))
    assert sorted(states, key=len) == [{}, {crashed: "delivered"}]
    assert len(receivers[0].calls) == 1 and receivers[1].calls == []
    rows = {r["url"]: r for r in weekly.weekly_deliveries(servers[0])}
    assert (rows[crashed]["state"], rows[crashed]["attempts"]) == ("delivered", 2)
    assert (rows[waiting]["state"], rows[waiting]["claimed_by"]) == ("sending", "alive")


def test_retries_count_across_servers(servers, settings):
    """A receiver failing with 503: each server's attempts add to one count, capped by the setting."""
    failing = Receiver(statuses=(503,))
    try:
        capped = settings.model_copy(update={"webhook_urls": failing.url, "webhook_max_attempts": 3})
        wid = add_warning(servers[0])
        claimed(servers[0], wid, failing.url, minutes_ago=30, attempts=1, by="dead")
        sender = WebhookSender(servers[1], capped, backoff=0.01)
        try:
            assert sender.resume() == 1
            settle([sender])
        finally:
            sender.close()
        assert len(failing.calls) == 2  # attempts 2 and 3
        (row,) = deliveries(servers[0])
        assert (row["state"], row["attempts"], row["last_error"]) == ("failed", 3, "HTTP 503")
    finally:
        failing.close()
