"""Every search whose answer left the server is in the query log, even after ``kill -9``.

A real ``labourkb serve`` answers searches from several clients at once and is killed with
SIGKILL the moment the N-th answer arrives (more are in flight). Every answered query id must
then be on disk — in the log file, or in the dead process's journal (``monitoring.journal``) — and
in the log file once a server of that data directory runs again. (``bench/querylog_kill.py`` is
the same check, bigger.)
"""

from __future__ import annotations

import json
import sqlite3
import time

from tests.monitoring.server import SearchLoad, Server

N = 60
CLIENTS = 4
QUESTIONS = [
    "老板拖欠工资怎么办",
    "试用期被辞退有补偿吗",
    "工伤认定需要什么材料",
    "加班费怎么算",
    "公司破产了工资找谁要",
]


def logged_ids(data_dir) -> set[str]:
    conn = sqlite3.connect(data_dir / "querylog.sqlite3")
    try:
        return {r[0] for r in conn.execute("SELECT query_id FROM queries")}
    finally:
        conn.close()


def test_answered_searches_survive_kill_9(tmp_path):
    server = Server(tmp_path)
    load = SearchLoad([server] * CLIENTS, lambda n, i: f"{QUESTIONS[i % len(QUESTIONS)]} {n}-{i}", stop_after=N)
    try:
        assert load.enough.wait(120), server.output()
        server.kill()
    finally:
        server.kill()
    got = load.stop()
    assert len(got) >= N
    missing = set(got) - logged_ids(server.data_dir) - journaled_ids(server.data_dir)
    assert not missing, f"{len(missing)} of {len(got)} answered searches lost"
    # the next server of this data directory takes the dead one's journal over
    again = Server(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while set(got) - logged_ids(server.data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        again.kill()
    missing = set(got) - logged_ids(server.data_dir)
    assert not missing, f"{len(missing)} of {len(got)} answered searches not stored after a restart"
    assert not journaled_ids(server.data_dir) & set(got)  # and its journal was removed


def journaled_ids(data_dir) -> set[str]:
    ids = set()
    for path in (data_dir / "querylog-journal").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ids.add(json.loads(line)["doc"]["query_id"])
            except (ValueError, KeyError):
                pass  # a line torn by the kill: that answer never left
    return ids
