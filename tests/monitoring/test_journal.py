"""The query log's journal (``monitoring.journal``): a search's record is on disk when ``log_search``
returns, reaches the database by itself a moment later, and is never lost on the way — not when
the database does not answer, not when the process dies."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy.exc import IntegrityError

from search_api.monitoring import log_store
from search_api.monitoring.journal import Journal
from search_api.monitoring.querylog import QueryLog
from search_api.monitoring.spool import Spool
from tests.conftest import REPO_ROOT, make_settings
from tests.monitoring.test_querylog_durable import Unreachable, stored


def journal_lines(data_dir) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((data_dir / "querylog-journal").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_search_is_journaled_on_return_and_stored_by_itself(tmp_path):
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    try:
        qid = ql.log_search(q="老板拖欠工资怎么办", tokens=["老板", "拖欠工资"], engine="sqlite", total=1)
        ql.log_click(query_id=qid, doc_id="labor-law.50", position=1)
        lines = journal_lines(tmp_path)  # on disk before anything else happened
        assert [(i["kind"], i["doc"]["query_id"]) for i in lines] == [("query", qid), ("event", qid)]
        assert lines[0]["doc"]["user_query"] == "老板拖欠工资怎么办"
        # no flush: the background thread stores it within a linger, then drops that part of the journal
        assert wait_for(lambda: [r["query_id"] for r in stored(ql)] == [qid] and stored(ql, "events"))
        assert wait_for(lambda: journal_lines(tmp_path) == [])
        assert ql.spooled == ql.failed == 0
    finally:
        ql.close()
    assert list((tmp_path / "querylog-journal").glob("*.jsonl")) == []  # nothing left behind on a clean stop


def test_many_searches_are_stored_in_few_transactions(tmp_path, monkeypatch):
    transactions: list[int] = []
    real_insert = log_store.records.insert

    def counting(conn, queries, events):
        transactions.append(len(queries))
        real_insert(conn, queries, events)

    monkeypatch.setattr(log_store.records, "insert", counting)
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    try:
        for i in range(200):
            ql.log_search(q=f"加班费 {i}", engine="sqlite", total=1)
        ql.flush()
        assert sorted(r["user_query"] for r in stored(ql)) == sorted(f"加班费 {i}" for i in range(200))
        assert sum(transactions) == 200 and len(transactions) < 20
    finally:
        ql.close()


def test_while_the_database_does_not_answer_journaled_records_go_to_the_spool(tmp_path):
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    try:
        working = ql.database
        ql.database = Unreachable()
        qid = ql.log_search(q="工伤", engine="sqlite", total=1)
        ql.flush()
        assert (ql.failed, ql.spooled, stored(ql)) == (0, 1, [])
        assert ql.store.spool.pending() and journal_lines(tmp_path) == []  # moved to the fsync'd spool
        ql.database = working
        ql.flush()
        assert [r["query_id"] for r in stored(ql)] == [qid]
        assert not ql.store.spool.pending()
    finally:
        ql.close()


def test_when_neither_database_nor_spool_can_be_written_the_journal_keeps_the_record(tmp_path):
    """Before the journal such a record was lost (``failed``); now its file stays until it can be stored."""
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    working, spool = ql.database, ql.store.spool
    ql.database = Unreachable()
    ql.store.spool = Spool(tmp_path)  # a directory: cannot be appended to
    qid = ql.log_search(q="工伤认定", engine="sqlite", total=1)
    ql.flush()
    assert stored(ql) == [] and ql.failed == 0
    assert [i["doc"]["query_id"] for i in journal_lines(tmp_path)] == [qid]
    ql.database, ql.store.spool = working, spool
    ql.close()  # at the latest on the way out, it is taken over and stored
    assert [r["query_id"] for r in stored(ql)] == [qid]
    assert journal_lines(tmp_path) == []


def test_a_record_the_database_refuses_does_not_hold_up_the_others(tmp_path, monkeypatch):
    real_insert = log_store.records.insert

    def picky(conn, queries, events):
        if any(q["user_query"] == "拒收" for q in queries):
            raise IntegrityError("INSERT", {}, Exception("refused"))
        real_insert(conn, queries, events)

    monkeypatch.setattr(log_store.records, "insert", picky)
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    try:
        for q in ["拒收", *(f"加班费 {i}" for i in range(9))]:
            ql.log_search(q=q, engine="sqlite", total=1)
        ql.flush()
        assert sorted(r["user_query"] for r in stored(ql)) == sorted(f"加班费 {i}" for i in range(9))
        assert journal_lines(tmp_path) == [] and not ql.store.spool.pending()
    finally:
        ql.close()


DIE_AFTER_JOURNALING = """
import os, signal, sys
from pathlib import Path
from search_api.monitoring.querylog import QueryLog
from tests.conftest import make_settings
ql = QueryLog(make_settings(Path(sys.argv[1]), secret_key="s"))
ql.store.commit_journal = lambda closing=False: ([], 0)  # its background thread never stores them
ids = [ql.log_search(q=q, engine="sqlite", total=1) for q in sys.argv[2:]]
print(" ".join(ids), flush=True)
if os.environ.get("HOLD"):
    sys.stdin.readline()  # alive, holding its journal, until told
os.kill(os.getpid(), signal.SIGKILL)
"""


def _other_process(data_dir, questions: list[str], hold: bool = False) -> tuple[subprocess.Popen, list[str]]:
    """A process of the same data directory that journals ``questions`` and dies (or waits)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", DIE_AFTER_JOURNALING, str(data_dir), *questions],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", **({"HOLD": "1"} if hold else {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().split()


def test_the_journal_of_a_process_that_died_is_taken_over_and_a_living_ones_is_not(tmp_path):
    settings = make_settings(tmp_path, secret_key="s")
    alive, (kept,) = _other_process(tmp_path, ["还活着的进程"], hold=True)
    dead, lost = _other_process(tmp_path, ["被杀的进程一", "被杀的进程二"])
    assert dead.wait(30) == -signal.SIGKILL and len(lost) == 2
    ql = QueryLog(settings)
    try:
        ql.flush()  # its first round looks for journals nobody holds
        ids = {r["query_id"] for r in stored(ql)}
        assert set(lost) <= ids and kept not in ids
        assert [i["doc"]["query_id"] for i in journal_lines(tmp_path)] == [kept]  # the living one's, untouched
    finally:
        alive.stdin.write("\n")
        alive.stdin.flush()
        alive.wait(30)
        ql.close()  # now that one died too: taken over on the way out
    conn = sqlite3.connect(settings.querylog_path)
    try:
        assert (kept,) in conn.execute("SELECT query_id FROM queries").fetchall()
    finally:
        conn.close()
    assert journal_lines(tmp_path) == []


def test_a_closed_journal_refuses_appends_and_the_record_is_committed_instead(tmp_path):
    journal = Journal(tmp_path / "j")
    assert journal.close() is None and list((tmp_path / "j").iterdir()) == []
    with pytest.raises(OSError):
        journal.append([{"query_id": "x"}], [])


def test_a_wal_grown_past_its_limit_is_truncated_once_no_reader_holds_it(tmp_path, monkeypatch):
    """Under steady load a PASSIVE checkpoint never lets the WAL start over: it grew without end."""
    monkeypatch.setattr(log_store, "WAL_LIMIT_BYTES", 32 * 1024)
    ql = QueryLog(make_settings(tmp_path, secret_key="s"))
    reader = sqlite3.connect(ql.path, isolation_level=None)
    try:
        wal = tmp_path / "querylog.sqlite3-wal"
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM queries").fetchall()  # a snapshot held: the WAL cannot start over
        for i in range(300):
            ql.log_search(q=f"加班费怎么算 {i}", engine="sqlite", total=1, client_ip=f"10.0.{i // 200}.{i % 200}")
        ql.flush()
        ql.store.maybe_checkpoint(force=True)
        assert wal.stat().st_size > 32 * 1024
        reader.execute("ROLLBACK")
        ql.store.maybe_checkpoint(force=True)
        assert wal.stat().st_size == 0
        assert len(stored(ql)) == 300
    finally:
        reader.close()
        ql.close()
