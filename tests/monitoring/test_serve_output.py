"""What ``labourkb serve`` prints is a log too: no client address and no query in it.

A real server in a subprocess gets searches with a personal question and an
``X-Forwarded-For`` header from its (loopback) peer — the header uvicorn's own proxy
handling would believe by default. Neither the forwarded address nor the question may
appear in its output, and the query log must name the peer's network, not the header's.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote, urlencode

import httpx

from search_api.db import parse_iso
from search_api.monitoring.redact import make_network_id
from tests.monitoring.server import Server

FORWARDED = "203.0.113.77"
QUESTION = "我叫王小明 电话13912345678 公司拖欠工资"


def test_served_output_has_no_address_and_no_query(tmp_path):
    server = Server(tmp_path)
    try:
        headers = {"X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED, "User-Agent": "Mozilla/5.0 test-agent"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
            api = http.get("/api/search", params={"q": QUESTION})
            assert api.status_code == 200
            assert http.get("/search", params={"q": QUESTION}).status_code == 200
            assert http.get("/go", params={"id": "13912345678", "qid": "13912345678"}).status_code == 404
            assert http.get("/doc/13912345678").status_code == 404
    finally:
        server.stop()
    out = server.output()
    for secret in (
        FORWARDED,
        QUESTION,
        quote(QUESTION),
        urlencode({"q": QUESTION}),
        "王小明",
        "13912345678",
        "q=",
        "test-agent",
    ):
        assert secret not in out, f"{secret!r} printed by the server:\n{out}"
    # still an access log: method, route template, status
    assert "GET /api/search 200" in out, out
    assert "GET /doc/{doc_id} 404" in out, out
    # and the client is the peer, whatever X-Forwarded-For said (uvicorn's proxy headers are off)
    conn = sqlite3.connect(server.data_dir / "querylog.sqlite3")
    try:
        rows = conn.execute("SELECT network_id, timestamp FROM queries").fetchall()
    finally:
        conn.close()
    assert len(rows) == 2
    secret = b"server-test-secret"
    for network_id, ts in rows:
        assert network_id == make_network_id(secret, "127.0.0.1", parse_iso(ts))
        assert network_id != make_network_id(secret, FORWARDED, parse_iso(ts))


def test_access_log_can_be_turned_off(tmp_path):
    server = Server(tmp_path, env={"LABOURKB_ACCESS_LOG": "false"})
    try:
        assert httpx.get(server.url + "/api/search", params={"q": "加班费"}, timeout=10).status_code == 200
    finally:
        server.stop()
    out = server.output()
    assert "/api/search" not in out and "加班费" not in out
