"""The query log on either store: searches and clicks, the /api/logs feed, stats, signals, purge.

Each test runs on SQLite (the data directory's ``querylog.sqlite3``) and on a fresh PostgreSQL
schema (``log_db`` / ``database_url``). The figures asserted are exact: both databases give the
same ones. "Two servers" are two :class:`QueryLog` objects, each with its own connection pool.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ingest.lexicon import load_lexicon
from search_api import db
from search_api.accounts.tokens import create_token
from search_api.app import create_app
from search_api.db.database import Database, _postgresql_engine, _sqlite_engine
from search_api.monitoring import records, signals
from search_api.monitoring import stats as qs
from search_api.monitoring.employers import Recogniser
from search_api.monitoring.gaps import gap_report
from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.signals import signals_of
from search_api.settings import Settings
from tests.conftest import LEXICON

TOPICS = {"欠薪": "wage_arrears", "工资": "wage_arrears", "破产": "bankruptcy", "工伤": "work_injury"}
BRAND = Recogniser([("宏达五金厂", "宏达五金厂")])


def simple_topics(tokens, text):
    return sorted({tid for word, tid in TOPICS.items() if word in text})


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, secret_key="s", engine="sqlite", cookie_secure=False)


@pytest.fixture
def qlog(settings, log_db):
    ql = QueryLog(settings, topics_for=simple_topics, employers_for=lambda text: [])
    yield ql
    ql.close()


def rows(log_db, table="queries"):
    order = "query_id" if table == "query_signals" else "seq"
    with log_db.connect() as conn:
        return [dict(r) for r in conn.rows(f"SELECT * FROM {table} ORDER BY {order}")]


def stamp(log_db, query_id, at):
    with log_db.transaction() as conn:
        conn.execute("UPDATE queries SET timestamp = :at WHERE query_id = :qid", {"at": at, "qid": query_id})
        conn.execute("UPDATE events SET timestamp = :at WHERE query_id = :qid", {"at": at, "qid": query_id})


def test_a_search_and_its_click_are_stored_once_and_redacted(qlog, log_db):
    qid = qlog.log_search(
        q="电话13812345678 欠薪怎么办",
        tokens=["电话", "13812345678", "欠薪"],
        filters={"kind": ["article"]},
        engine="sqlite",
        total=3,
        top_ids=["labor-law.50", "labor-law.51"],
        took_ms=12.345,
        district="天河区",
        client_ip="203.0.113.9",
        user_agent="Mozilla/5.0 Chrome/120.0",
        confident=False,
    )
    qlog.log_click(query_id=qid, doc_id="labor-law.51", position=2, client_ip="203.0.113.9")
    qlog.flush()  # journaled when the calls returned (tests/monitoring/test_journal.py), stored now
    (row,) = rows(log_db)
    assert row["query_id"] == qid and row["user_query"] == "电话[手机号] 欠薪怎么办"
    assert json.loads(row["tokens"]) == ["电话", "欠薪"] and json.loads(row["topics"]) == ["wage_arrears"]
    assert json.loads(row["hit_ids"]) == ["labor-law.50", "labor-law.51"]
    assert (row["total"], row["took_ms"], row["failed"], row["district"]) == (3, 12.35, 0, "天河区")
    (click,) = rows(log_db, "events")
    assert (click["query_id"], click["object_id"], click["position"]) == (qid, "labor-law.51", 2)
    qlog.log_search(q="欠薪怎么办", engine="sqlite", total=1, query_id=qid)  # the same id again: kept once
    qlog.flush()
    assert len(rows(log_db)) == 1 and (qlog.failed, qlog.spooled) == (0, 0)


def test_a_query_with_nul_characters_is_answered_and_logged(settings, log_db):
    app = create_app(settings)
    with TestClient(app) as client:
        resp = client.get("/api/search", params={"q": "欠薪\x00怎么办"})
        assert resp.status_code == 200, resp.text
        assert client.get("/search", params={"q": "工伤\x00认定"}).status_code == 200
        querylog = app.state.querylog
        qid = querylog.log_search(
            q="破产\x00",
            tokens=["破\x00产"],
            filters={"kind\x00": ["art\x00icle"]},
            engine="sql\x00ite",
            total=1,
            top_ids=["a\x00.1"],
            source="ap\x00i",
            district="天河\x00区",
        )
        querylog.log_click(query_id=qid, doc_id="a\x00.1", position=1, user_agent="x\x00y")
        assert (querylog.failed, querylog.spooled) == (0, 0)
    stored = rows(log_db)
    assert [r["user_query"] for r in stored] == ["欠薪 怎么办", "工伤 认定", "破产"]
    assert resp.json()["query_id"] == stored[0]["query_id"]
    assert (stored[2]["engine"], stored[2]["source"], stored[2]["district"]) == ("sqlite", "api", "天河 区")
    (click,) = rows(log_db, "events")
    assert click["object_id"] == "a.1"
    assert "\x00" not in json.dumps([*stored, click], ensure_ascii=False).replace("\\u0000", "\x00")


def test_the_feed_pages_in_log_order_and_resumes_after_its_cursor(settings, log_db):
    app = create_app(settings)
    token = create_token(settings, "monitor", ["logs:read"])
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        districts = ["天河区", "越秀区", "天河区", None, "天河区"]
        ids = [
            app.state.querylog.log_search(q=f"欠薪{i}", engine="sqlite", total=1, district=d)
            for i, d in enumerate(districts)
        ]
        app.state.querylog.flush()
        stamp(log_db, ids[0], "2026-11-01T00:00:00.000Z")

        def page(**params):
            resp = client.get("/api/logs", params=params, headers=auth)
            assert resp.status_code == 200, resp.text
            lines = [json.loads(line) for line in resp.text.splitlines()]
            return [r["query_id"] for r in lines], [r["cursor"] for r in lines], resp.headers["X-Next-Cursor"]

        got, cursors, after = page(limit=2)
        assert got == ids[:2] and after == cursors[-1]
        more, _, after = page(limit=2, cursor=after)
        assert more == ids[2:4]
        rest, _, end = page(limit=2, cursor=after)
        assert rest == ids[4:]
        assert page(cursor=end) == ([], [], end)  # nothing new: the same cursor again
        assert page(cursor=cursors[0])[0] == ids[1:]  # a line's cursor resumes right after it
        assert page(district="天河区")[0] == [ids[0], ids[2], ids[4]]
        assert page(since="2026-11-02")[0] == ids[1:] and page(until="2026-11-01")[0] == ids[:1]
        assert client.get("/api/logs", params={"cursor": "junk"}, headers=auth).status_code == 400
        assert client.get("/api/logs").status_code == 401


class Plain:
    """A presenter that shows records as stored."""

    def record(self, row):
        return records.row_to_record(row)


def shaped(n: int) -> dict:
    item = dict(
        q=f"欠薪{n}", tokens=[], filters={}, engine="sqlite", total=1, top_ids=[], took_ms=1.0, failed=False,
        source="site", district=None, client_ip=None, user_agent=None, query_id=f"{n:032x}", when=db.utc_now(),
    )  # fmt: skip
    return records.query_record(item, secret=b"s", max_chars=200, topics_for=simple_topics, employers_for=lambda t: [])


def read_feed(log_db, after, limit=100):
    upto = qs.settled_seq(log_db)
    with log_db.connect() as conn:
        return list(qs.feed(conn, after, qs.LogFilter(), limit, Plain(), upto))


def test_a_record_committed_after_a_later_one_is_not_skipped_by_the_feed(log_db):
    """On PostgreSQL appends run at once: seq 1 may commit after seq 2. A reader resuming after 2
    would never see 1, so the feed reads only up to what has settled."""
    inserted, release = threading.Event(), threading.Event()

    def append(n, hold):
        with log_db.transaction(lock=False) as conn:
            records.insert(conn, [shaped(n)], [])
            if hold:
                inserted.set()
                release.wait(10)

    slow = threading.Thread(target=append, args=(1, True))
    slow.start()
    assert inserted.wait(10)
    fast = threading.Thread(target=append, args=(2, False))
    fast.start()
    fast.join(2)  # PostgreSQL: committed now, before seq 1; SQLite: waits for the first writer
    pages: list = []
    reader = threading.Thread(target=lambda: pages.append(read_feed(log_db, 0)))
    reader.start()
    reader.join(0.5)
    release.set()
    for t in (slow, fast, reader):
        t.join(30)
    (first,) = pages
    rest = read_feed(log_db, first[-1][0] if first else 0)
    assert sorted(rec["query_id"] for _, rec in first + rest) == [f"{1:032x}", f"{2:032x}"]


def test_the_feed_waits_for_a_long_transaction_briefly_and_searches_not_at_all(pg_url):
    log_db = db.open_database(pg_url, "querylog")
    held, release = threading.Event(), threading.Event()

    def long_append():
        with log_db.transaction(lock=False) as conn:
            records.insert(conn, [shaped(1)], [])
            held.set()
            release.wait(10)

    slow = threading.Thread(target=long_append)
    slow.start()
    assert held.wait(10)
    began = time.monotonic()
    assert qs.settled_seq(log_db) == 0  # gave up: nothing new this time, the same cursor next time
    assert 0.9 < time.monotonic() - began < 5
    began = time.monotonic()
    with log_db.transaction(lock=False) as conn:  # a search's append meanwhile: not queued behind the feed
        records.insert(conn, [shaped(2)], [])
    assert time.monotonic() - began < 0.5
    release.set()
    slow.join(10)
    assert [rec["query_id"] for _, rec in read_feed(log_db, 0)] == [f"{1:032x}", f"{2:032x}"]
    db.dispose_all()


def test_two_servers_logging_at_once_while_the_feed_is_read(settings, log_db, tmp_path):
    own = (
        Database(_postgresql_engine(settings.database_url), "querylog")
        if log_db.is_postgresql
        else Database(_sqlite_engine(settings.querylog_path), "querylog")
    )
    servers = [QueryLog(settings, topics_for=simple_topics, employers_for=lambda t: []) for _ in range(2)]
    servers[1].database = own
    logged: list[str] = []
    lock = threading.Lock()

    def search(server, n):
        for i in range(25):
            qid = server.log_search(q=f"欠薪 {n} {i}", engine="sqlite", total=1)
            with lock:
                logged.append(qid)

    writers = [threading.Thread(target=search, args=(servers[n % 2], n)) for n in range(6)]
    for t in writers:
        t.start()
    seen: list[tuple[int, str]] = []
    while len(seen) < 150:
        done = not any(t.is_alive() for t in writers)  # before the read: then an empty page is the end
        if done:
            for server in servers:
                server.flush()  # the last searches' records out of the journals
        page = read_feed(log_db, seen[-1][0] if seen else 0, limit=7)
        seen.extend((seq, rec["query_id"]) for seq, rec in page)
        if done and not page:
            break
    for t in writers:
        t.join()
    for server in servers:
        server.close()
    own.dispose()
    assert [seq for seq, _ in seen] == sorted({seq for seq, _ in seen})  # in order, none twice
    assert sorted(qid for _, qid in seen) == sorted(logged)  # none skipped


def ask(qlog, log_db, q, ip, at, total, district=None, failed=False, took=None):
    qid = qlog.log_search(
        q=q, engine="sqlite", total=total, failed=failed, took_ms=took, district=district, client_ip=ip
    )
    qlog.flush()
    stamp(log_db, qid, at)
    return qid


def test_stats_figures(qlog, log_db, settings):
    first = ask(qlog, log_db, "欠薪怎么办", "10.0.0.1", "2026-11-17T02:00:00.000Z", 3, "天河区", took=10)
    qlog.log_click(query_id=first, doc_id="a.1", position=1)
    ask(qlog, log_db, "欠薪怎么办", "10.0.0.2", "2026-11-17T03:00:00.000Z", 3, "天河区", took=20)
    ask(qlog, log_db, "欠薪怎么办", "10.0.0.3", "2026-11-18T02:00:00.000Z", 3, took=30)
    ask(qlog, log_db, "工伤认定", "10.0.0.4", "2026-11-22T17:30:00.000Z", 0, "越秀区", took=40)  # Beijing: Mon 11-23
    ask(qlog, log_db, "公司破产", "10.0.0.5", "2026-11-18T05:00:00.000Z", None, failed=True)
    ask(qlog, log_db, "欠薪又工伤", "10.0.0.1", "2026-11-19T02:00:00.000Z", 2, took=50)
    ask(qlog, log_db, "宏达五金厂欠薪", "10.0.0.6", "2026-11-19T03:00:00.000Z", 1, "天河区", took=60)
    with log_db.connect() as conn:
        figures = qs.stats(conn, qs.LogFilter(), qs.Presenter(conn, BRAND))
        assert qs.districts(conn) == ["天河区", "越秀区"]
    one = {"count": 1, "visitors": 1}
    assert figures == {
        "since": None,
        "until": None,
        "district": None,
        "queries": 7,
        "visitors": 6,
        "zero_results": 1,
        "failed": 1,
        "avg_took_ms": 35.0,
        "clicked_queries": 1,
        "click_through_rate": 0.2,
        "top_queries": [
            {"query": "欠薪怎么办", "count": 3, "visitors": 3, "zero": 0},
            {"query": "[用人单位]欠薪", **one, "zero": 0},  # below the warning threshold: masked
            {"query": "公司破产", **one, "zero": 0},
            {"query": "工伤认定", **one, "zero": 1},
            {"query": "欠薪又工伤", **one, "zero": 0},
        ],
        "zero_result_queries": [{"query": "工伤认定", **one}],
        "unclicked_queries": [
            {"query": "欠薪怎么办", "count": 2, "visitors": 2},
            {"query": "[用人单位]欠薪", **one},
            {"query": "欠薪又工伤", **one},
        ],
        "topics_by_week": {
            "2026-11-16": {"bankruptcy": 1, "wage_arrears": 5, "work_injury": 1},
            "2026-11-23": {"work_injury": 1},
        },
        "topics_by_district": {
            "未选择": {"wage_arrears": 2, "bankruptcy": 1, "work_injury": 1},
            "天河区": {"wage_arrears": 3},
            "越秀区": {"work_injury": 1},
        },
        "queries_by_district": {"未选择": 3, "天河区": 3, "越秀区": 1},
    }
    assert list(figures["topics_by_district"]["未选择"]) == ["wage_arrears", "bankruptcy", "work_injury"]
    monday = qs.LogFilter(
        qs.parse_when("2026-11-23", tz=qs.SHANGHAI), qs.parse_when("2026-11-23", end=True, tz=qs.SHANGHAI)
    )
    with log_db.transaction() as conn:  # the employer warned about: shown by name from now on
        conn.execute(
            "INSERT INTO warnings (kind, subject, window_start, window_end, topics, visitors, created_at)"
            " VALUES ('employer', '宏达五金厂', 'a', 'b', '[]', 5, 'c')"
        )
    with log_db.connect() as conn:
        presenter = qs.Presenter(conn, BRAND)
        assert qs.stats(conn, monday, presenter)["top_queries"] == [{"query": "工伤认定", **one, "zero": 1}]
        in_tianhe = qs.stats(conn, qs.LogFilter(district="天河区"), presenter)
    assert in_tianhe["queries"] == 3 and in_tianhe["top_queries"][1]["query"] == "宏达五金厂欠薪"
    lines = "".join(qs.export_csv(log_db, qs.LogFilter(district="天河区"), presenter, {"wage_arrears": "欠薪"}))
    assert lines.splitlines()[1:] == [
        "2026-11-17 10:00:00,欠薪怎么办,欠薪,天河区,3,1,10.0,0,site,sqlite",
        "2026-11-17 11:00:00,欠薪怎么办,欠薪,天河区,3,0,20.0,0,site,sqlite",
        "2026-11-19 11:00:00,宏达五金厂欠薪,欠薪,天河区,1,0,60.0,0,site,sqlite",
    ]


def test_signals_of_searches_and_their_gap(qlog, log_db):
    tokens = ["老板", "拖欠", "工资"]
    first = qlog.log_search(
        q="老板拖欠工资", tokens=tokens, engine="sqlite", total=1, client_ip="10.1.0.1", confident=False
    )
    again = qlog.log_search(q="老板拖欠工资怎么办", tokens=tokens, engine="sqlite", total=2, client_ip="10.1.0.1")
    other = qlog.log_search(q="老板拖欠工资", tokens=tokens, engine="sqlite", total=1, client_ip="10.1.0.2")
    qlog.log_click(query_id=again, doc_id="a.1", position=1)
    qlog.mark_help(first)
    qlog.mark_help("not-an-issued-id")
    qlog.flush()
    with log_db.connect() as conn:
        flags = signals_of(conn, "2000-01-01", "2999-01-01")
        (gap,) = gap_report(conn, load_lexicon(LEXICON), "2000-01-01", "2999-01-01")
    assert flags == {
        first: {"unconfident": 1, "refined": 1, "helped": 1, "no_click": 1},
        again: {"unconfident": 0, "refined": 0, "helped": 0, "no_click": 0},
        other: {"unconfident": 0, "refined": 0, "helped": 0, "no_click": 1},
    }
    assert (gap.searches, len(gap.visitors), gap.question) == (3, 2, "老板拖欠工资")
    assert dict(gap.signals) == {"unconfident": 1, "refined": 1, "helped": 1, "no_click": 2}


@pytest.mark.parametrize("chunk", [200, 3])
def test_refined_searches_of_a_batch_follow_the_rule_search_by_search(qlog, log_db, monkeypatch, chunk):
    """The refined lookup runs once per chunk of a stored batch (signals._refined); each search's flag is
    the rule's: refined when the same visitor's next differently worded search came within a minute —
    "next" by log order where two share a millisecond."""
    asked = [  # (text, visitor, seconds after 10:00:00)
        ("欠薪", "10.2.0.1", 0),
        ("欠薪", "10.2.0.1", 10),  # the same words again: refines nothing
        ("工伤", "10.2.0.2", 20),
        ("欠薪怎么办", "10.2.0.1", 30),  # refines the search at 10 s (the latest worded differently)
        ("工伤认定", "10.2.0.2", 125),  # more than a minute after its visitor's last: refines nothing
        ("加班费", "10.2.0.1", 40),  # refines 欠薪怎么办
        ("离职", "10.2.0.3", 45),
        ("加班费", "10.2.0.1", 50),  # the latest worded differently is 欠薪怎么办 again
        ("辞退", "10.2.0.4", 55),
        ("辞退赔偿", "10.2.0.4", 55),  # the same millisecond, later in the log: refines 辞退
    ]
    ids = [qlog.log_search(q=q, tokens=[q], engine="sqlite", total=1, client_ip=ip) for q, ip, _ in asked]
    qlog.flush()
    for qid, (_, _, second) in zip(ids, asked, strict=True):
        stamp(log_db, qid, f"2026-11-20T10:{second // 60:02d}:{second % 60:02d}.000Z")
    with log_db.transaction() as conn:
        conn.execute("DELETE FROM query_signals")
    monkeypatch.setattr(signals, "REFINED_CHUNK", chunk)
    signals.record_searches(log_db, rows(log_db))  # one batch, as the journal stores them
    with log_db.connect() as conn:
        flags = signals_of(conn, "2000-01-01", "2999-01-01")
    assert {i for i in ids if flags[i]["refined"]} == {ids[1], ids[3], ids[8]}


def test_purge_removes_what_is_older_than_the_retention(qlog, log_db):
    old = qlog.log_search(q="旧的", engine="sqlite", total=1, confident=False)
    new = qlog.log_search(q="新的", engine="sqlite", total=1)
    qlog.log_click(query_id=old, doc_id="a.1", position=1)
    qlog.log_click(query_id=new, doc_id="a.1", position=1)
    qlog.mark_help(old)
    qlog.flush()
    stamp(log_db, old, db.iso(db.utc_now() - timedelta(days=200)))
    assert qlog.purge(older_than_days=180) == {"queries": 1, "events": 1}
    assert [r["query_id"] for r in rows(log_db)] == [new]
    assert [r["query_id"] for r in rows(log_db, "events")] == [new]
    assert [r["query_id"] for r in rows(log_db, "query_signals")] == [new]
    assert qlog.purge(older_than_days=180) == {"queries": 0, "events": 0}
