"""Without a journal (``monitoring.journal``: a data directory it cannot write), the query log
commits a record before ``log_search`` returns; and it tags records as the lexicon would.
(With the journal, the default: tests/monitoring/test_journal.py.)"""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from ingest.lexicon import canonical, load_lexicon
from search_api.engines.sqlite import SqliteEngine
from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.spool import Spool
from search_api.monitoring.tagging import TopicMatcher
from search_api.search.service import SearchService
from tests.conftest import LEXICON, REPO_ROOT, make_settings


@pytest.fixture
def qlog(tmp_path):
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    ql.store.journal.close()
    ql.store.journal = None  # as when the journal's directory cannot be written
    yield ql
    ql.close()


def test_without_a_writable_journal_directory_records_are_committed_on_return(tmp_path):
    (tmp_path / "querylog-journal").write_text("not a directory")
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    try:
        assert ql.store.journal is None
        qid = ql.log_search(q="欠薪", engine="sqlite", total=1)
        assert [r["query_id"] for r in stored(ql)] == [qid]  # no flush
    finally:
        ql.close()


def stored(ql, table="queries") -> list[dict]:
    conn = sqlite3.connect(ql.path)  # another connection: sees only what is committed
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]
    finally:
        conn.close()


def test_a_search_is_committed_when_log_search_returns(qlog):
    qid = qlog.log_search(q="老板拖欠工资怎么办", tokens=["老板", "拖欠工资"], engine="sqlite", total=1)
    (row,) = stored(qlog)  # no flush
    assert row["query_id"] == qid and row["user_query"] == "老板拖欠工资怎么办"
    assert "wage_arrears" in json.loads(row["topics"])
    qlog.log_click(query_id=qid, doc_id="labor-law.50", position=1)
    (event,) = stored(qlog, "events")
    assert (event["query_id"], event["object_id"]) == (qid, "labor-law.50")


def test_query_ids_are_signed(qlog, tmp_path):
    qid = qlog.log_search(q="加班费", engine="sqlite", total=1)
    assert len(qid) == 32 and qlog.issued(qid)
    tampered = qid[:-1] + ("0" if qid[-1] != "0" else "1")
    assert not qlog.issued(tampered)
    for junk in ("", "13812345678", "x" * 32, qid.upper(), None):
        assert not qlog.issued(junk)  # type: ignore[arg-type]


class Unreachable:
    """A query-log database that does not answer (PostgreSQL during an outage)."""

    dialect = "postgresql"
    is_postgresql = True

    def transaction(self, lock=True):
        raise OperationalError("INSERT INTO queries", {}, ConnectionRefusedError("connection refused"))

    connect = transaction


def test_a_failing_store_never_raises_into_the_search(qlog, tmp_path):
    working = qlog.database
    qlog.database = Unreachable()
    qid = qlog.log_search(q="工伤", engine="sqlite", total=1)
    assert isinstance(qid, str)
    assert (qlog.failed, qlog.spooled, stored(qlog)) == (0, 1, [])  # kept in the spool, fsync'd
    qlog.database = working
    qlog.flush()  # the background thread stores the spool
    assert [r["query_id"] for r in stored(qlog)] == [qid]
    assert not qlog.store.spool.pending()
    # neither the database nor the spool can be written: the record is lost, the search is not
    qlog.database = Unreachable()
    qlog.store.spool = Spool(tmp_path)  # a directory
    assert isinstance(qlog.log_search(q="工伤", engine="sqlite", total=1), str)
    assert qlog.failed == 1


def _questions() -> list[str]:
    path = REPO_ROOT / "corpus" / "eval" / "questions.jsonl"
    qs = [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [*qs, "工伤认定怎么办", "被炒鱿鱼有赔偿吗", "公司破产了工资找谁要", "", "abc 123"]


def test_topic_matcher_gives_the_lexicons_answer(tmp_path):
    lex = load_lexicon(LEXICON)
    matcher = TopicMatcher(lex)
    service = SearchService(make_settings(tmp_path), SqliteEngine(tmp_path / "index.sqlite3"))
    with_topics = 0
    for q in _questions():
        tokens = list(service.analyse(q).tokens) if q.strip() else []
        text = canonical(q)
        expected = list(dict.fromkeys((lex.topics_for(tokens) if tokens else []) + lex.topics_for(text)))
        assert matcher(tokens, text) == expected, q
        with_topics += bool(expected)
    assert with_topics > 50


def test_concurrent_searches_are_committed_together_and_each_before_it_returns(qlog, monkeypatch):
    """Group commit: searches arriving while one thread writes are written in one transaction by
    the next; each ``log_search`` still returns only once its own record is committed."""
    import threading
    import time

    from search_api.monitoring import log_store

    real_insert = log_store.records.insert
    transactions: list[int] = []

    def slow_insert(conn, queries, events):  # a busy disk: the others queue up meanwhile
        time.sleep(0.02)
        transactions.append(len(queries))
        real_insert(conn, queries, events)

    monkeypatch.setattr(log_store.records, "insert", slow_insert)
    committed_on_return: list[bool] = []

    def search(i: int) -> None:
        qid = qlog.log_search(q=f"拖欠工资 {i}", engine="sqlite", total=1)
        committed_on_return.append(qid in {r["query_id"] for r in stored(qlog)})

    threads = [threading.Thread(target=search, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(committed_on_return) == 16 and all(committed_on_return)
    assert sorted(r["user_query"] for r in stored(qlog)) == sorted(f"拖欠工资 {i}" for i in range(16))
    assert sum(transactions) == 16 and len(transactions) < 16 and max(transactions) > 1


def test_a_record_the_database_refuses_fails_only_its_own_search(qlog, monkeypatch):
    """In a group, a record the database refuses (not an outage) fails its caller alone (counted
    as failed, as before group commit): the others are stored one by one."""
    import threading
    import time

    from sqlalchemy.exc import IntegrityError

    from search_api.monitoring import log_store

    real_insert = log_store.records.insert
    batches: list[int] = []

    def picky_insert(conn, queries, events):
        time.sleep(0.02)
        batches.append(len(queries))
        if any(q["user_query"] == "拒收" for q in queries):
            raise IntegrityError("INSERT", {}, Exception("refused"))
        real_insert(conn, queries, events)

    monkeypatch.setattr(log_store.records, "insert", picky_insert)
    questions = ["拒收", *(f"加班费 {i}" for i in range(9))]
    threads = [
        threading.Thread(target=qlog.log_search, kwargs={"q": q, "engine": "sqlite", "total": 1}) for q in questions
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert max(batches) > 1  # there was a group
    assert qlog.failed == 1 and qlog.spooled == 0
    assert sorted(r["user_query"] for r in stored(qlog)) == sorted(f"加班费 {i}" for i in range(9))


def test_a_failing_group_commit_leaves_no_search_waiting_or_silently_unlogged(qlog, monkeypatch):
    """An unexpected error while a group is written reaches every search of the group (counted as
    failed, none waits for ever), and the next searches are logged again."""
    import threading
    import time

    from search_api.monitoring import log_store

    real_store_batch = log_store.LogStore._store_batch
    broken = threading.Event()
    broken.set()

    def flaky(self, batch):
        time.sleep(0.02)
        if broken.is_set():
            raise ValueError("a bug")
        return real_store_batch(self, batch)

    monkeypatch.setattr(log_store.LogStore, "_store_batch", flaky)
    threads = [
        threading.Thread(target=qlog.log_search, kwargs={"q": f"工伤 {i}", "engine": "sqlite", "total": 1})
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert qlog.failed == 6 and stored(qlog) == []
    broken.clear()
    qlog.log_search(q="工伤认定", engine="sqlite", total=1)
    assert [r["user_query"] for r in stored(qlog)] == ["工伤认定"]
