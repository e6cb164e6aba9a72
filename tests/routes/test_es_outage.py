"""Elasticsearch down: 503 JSON from the API, a Chinese page on the site, /healthz says so,
no query-log record is lost, and the app recovers by itself when the server is back.

The outage is real: the app talks to the real server through a TCP relay on 127.0.0.1
that the test switches off and on (the shared server itself keeps running).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import ingest
from search_api.app import create_app
from tests.conftest import CORPUS, LEXICON, make_settings


class Relay:
    """A TCP relay 127.0.0.1:<port> → target that can be switched off (connections refused) and on."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []

    def start(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(16)
        self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def stop(self) -> None:
        if self._server:
            try:  # on Linux, shutdown wakes the thread blocked in accept(); close alone doesn't
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
            self._server = None
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._conns.clear()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def relay(es_url):
    u = urlparse(es_url)
    r = Relay((u.hostname, u.port))
    r.start()
    yield r
    r.stop()


def test_outage_and_recovery(tmp_path, relay, es_engine_factory):
    prefix_engine = es_engine_factory()  # real indices with a unique prefix, dropped afterwards
    ingest([CORPUS / "laws" / "labor-contract-law.md"], prefix_engine, lexicon_dir=LEXICON)
    settings = make_settings(
        tmp_path / "data",
        engine="elasticsearch",
        es_url=f"http://127.0.0.1:{relay.port}",
        es_index_prefix=prefix_engine.settings.es_index_prefix,
        es_timeout=3.0,
        secret_key="t",
    )
    app = create_app(settings)
    with TestClient(app) as client:
        polled = app.state.service.engine._generation
        polled.period = 0.2  # Elasticsearch's refresh interval is 1 s; shorter for the test
        assert client.get("/api/search", params={"q": "经济补偿"}).status_code == 200
        assert client.get("/healthz").status_code == 200

        relay.stop()
        # an answer kept from before may be served for one period (engines.polled); then none is
        time.sleep(polled.period + 0.05)
        r = client.get("/api/search", params={"q": "经济补偿"})
        assert r.status_code == 503
        assert r.json()["error"] == "搜索服务暂时不可用，请稍后再试"
        page = client.get("/search", params={"q": "经济补偿"})
        assert page.status_code == 503
        assert "暂时不可用" in page.text and "Traceback" not in page.text
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"

        relay.start()  # the server is back: no restart of the app needed
        r = client.get("/api/search", params={"q": "经济补偿"})
        assert r.status_code == 200 and r.json()["total"] > 0
        assert client.get("/healthz").status_code == 200
        app.state.querylog.flush()
    rows = (
        sqlite3.connect(tmp_path / "data" / "querylog.sqlite3")
        .execute("SELECT failed, source FROM queries ORDER BY seq")
        .fetchall()
    )
    assert rows == [(0, "api"), (1, "api"), (1, "site"), (0, "api")]
