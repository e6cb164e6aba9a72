"""Every search whose answer left the server is in the query log, even after ``kill -9``.

A real ``labourkb serve`` answers searches from several clients at once and is killed with
SIGKILL the moment the N-th answer arrives (more are in flight). Every answered query id
must then be in the log file. (``bench/querylog_kill.py`` is the same check, bigger.)
"""

from __future__ import annotations

import sqlite3
import threading

import httpx

from tests.monitoring.server import Server

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
    answered: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            i = 0
            while not enough.is_set():
                i += 1
                try:
                    resp = http.get("/api/search", params={"q": f"{QUESTIONS[i % len(QUESTIONS)]} {n}-{i}"})
                except httpx.HTTPError:
                    return  # the server is gone
                if resp.status_code == 200:
                    with lock:
                        answered.append(resp.json()["query_id"])
                        if len(answered) >= N:
                            enough.set()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        assert enough.wait(120), server.output()
        server.kill()
    finally:
        server.kill()
    for t in threads:
        t.join(15)
    with lock:
        got = list(answered)
    assert len(got) >= N
    missing = set(got) - logged_ids(server.data_dir)
    assert not missing, f"{len(missing)} of {len(got)} answered searches lost"
