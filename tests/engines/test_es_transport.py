"""The Elasticsearch engine's transport behaviour, through an HTTP proxy in front of the real server:
bulk back-off on 429/503, a clear failure when the server keeps refusing, and credentials sent."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from ingest.model import Document
from search_api.engines.base import EngineUnavailable, SearchQuery, Term


class FlakyProxy:
    """Forwards every request to Elasticsearch, except the first ``fail`` bulk requests,
    which it answers with ``status`` itself. Records each request's method, path and auth header."""

    def __init__(self, target: str, fail: int = 0, status: int = 429):
        self.target = urlparse(target)
        self.fail, self.status = fail, status
        self.seen: list[tuple[str, str, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.seen.append((self.command, self.path, self.headers.get("Authorization")))
                if "/_bulk" in self.path and proxy.fail > 0:
                    proxy.fail -= 1
                    payload = json.dumps(
                        {
                            "error": {"type": "es_rejected_execution_exception", "reason": "injected by the test"},
                            "status": proxy.status,
                        }
                    ).encode()
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bulk_calls(self) -> int:
        return sum(1 for _, path, _ in self.seen if "/_bulk" in path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def docs(n: int) -> list[Document]:
    return [
        Document(
            id=f"t-{i}",
            kind="article",
            title=f"第{i}条",
            text="拖欠工资",
            tokens={"title": "", "keywords": "", "body": "拖欠 工资"},
            source_path="t.md",
        )
        for i in range(n)
    ]


@pytest.fixture
def proxy_for(es_url):
    made: list[FlakyProxy] = []

    def make(**kwargs) -> FlakyProxy:
        p = FlakyProxy(es_url, **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.mark.parametrize("status", [429, 503])
def test_bulk_backs_off_and_lands_everything(es_engine_factory, proxy_for, status):
    proxy = proxy_for(fail=3, status=status)
    engine = es_engine_factory(url=proxy.url)
    engine.writer.backoff = 0.05
    report = engine.index_documents(docs(25))
    engine.refresh()
    assert report.indexed == 25 and not report.failed
    assert proxy.bulk_calls() >= 4  # three refusals, then the batch that landed
    assert engine.search(SearchQuery(terms=[Term("拖欠")])).total == 25


def test_bulk_that_keeps_failing_is_a_clear_engine_error(es_engine_factory, proxy_for):
    proxy = proxy_for(fail=1000, status=503)
    engine = es_engine_factory(url=proxy.url, es_max_retries=2)
    engine.writer.backoff = 0.01
    with pytest.raises(EngineUnavailable):
        engine.index_documents(docs(3))
    assert 3 <= proxy.bulk_calls() <= 6  # bounded: (1 + 2 retries) × the client's one quick retry


def test_credentials_are_sent(es_engine_factory, proxy_for):
    proxy = proxy_for()
    es_engine_factory(url=proxy.url, es_username="union", es_password="s3cret").count()
    basic = "Basic " + base64.b64encode(b"union:s3cret").decode()
    assert {auth for _, _, auth in proxy.seen} == {basic}
    proxy.seen.clear()
    es_engine_factory(url=proxy.url, es_api_key="a2V5OnNlY3JldA==").count()
    assert {auth for _, _, auth in proxy.seen} == {"ApiKey a2V5OnNlY3JldA=="}
