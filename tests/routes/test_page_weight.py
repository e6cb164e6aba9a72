"""Light pages: gzip above a size threshold, the CSS under a content-hashed name cached for a year."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib

import anyio
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api.accounts.tokens import create_token
from search_api.app import GZIP_MIN_BYTES, create_app
from search_api.web.assets import IMMUTABLE, STATIC_DIR, HashedStaticFiles
from tests.conftest import make_settings

PHONE_BUDGET = 12 * 1024  # compressed bytes of one result page (issue 13)


def fetch(client, url: str, encoding: str = "gzip"):
    """The response and its body exactly as sent (still compressed)."""
    with client.stream("GET", url, headers={"Accept-Encoding": encoding}) as response:
        return response, b"".join(response.iter_raw())


def test_result_page_is_gzipped_within_the_phone_budget(corpus_client):
    response, raw = fetch(corpus_client, "/search?q=被公司辞退了有经济补偿吗")
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert response.headers["x-content-type-options"] == "nosniff"  # security headers survive compression
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = gzip.decompress(raw).decode("utf-8")
    assert "劳动合同法" in html and len(html.encode()) > 2 * len(raw)
    assert len(raw) <= PHONE_BUDGET, len(raw)


def test_json_is_compressed_but_small_bodies_and_identity_clients_are_not(corpus_client):
    response, raw = fetch(corpus_client, "/api/search?q=加班费&size=10")
    assert response.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw))["hits"]
    response, raw = fetch(corpus_client, "/api/search?q=加班费&size=10", encoding="identity")
    assert "content-encoding" not in response.headers and json.loads(raw)["hits"]
    response, raw = fetch(corpus_client, "/api/documents/no-such-doc")
    assert len(raw) < GZIP_MIN_BYTES and "content-encoding" not in response.headers


def test_css_is_linked_by_content_hash_and_cached_for_a_year(corpus_client):
    page = BeautifulSoup(corpus_client.get("/").text, "html.parser")
    href = page.select_one("link[rel=stylesheet]")["href"]
    digest = hashlib.sha256((STATIC_DIR / "style.css").read_bytes()).hexdigest()[:12]
    assert href == f"/static/style.{digest}.css"
    response, raw = fetch(corpus_client, href)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == (STATIC_DIR / "style.css").read_bytes()
    assert "default-src 'none'" in response.headers["content-security-policy"]
    # the plain name still works, but is revalidated; an unknown hash is not served
    assert corpus_client.get("/static/style.css").headers["cache-control"] == "no-cache"
    assert corpus_client.get("/static/style.000000000000.css").status_code == 404


def test_a_changed_file_gets_a_new_name(tmp_path):
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("body{color:#000}")
    before = HashedStaticFiles(tmp_path).url("css/site.css")
    (tmp_path / "css" / "site.css").write_text("body{color:#111}")
    after = HashedStaticFiles(tmp_path).url("css/site.css")
    assert before.startswith("/static/css/site.") and before.endswith(".css")
    assert before != after
    with pytest.raises(KeyError):
        HashedStaticFiles(tmp_path).url("missing.css")


def _asgi_get(client: TestClient, path: str, query: str, headers: dict[str, str]) -> list[dict]:
    """Call the ASGI app directly and keep every message it sends (TestClient joins the body).

    It runs on the client's own event-loop thread: the main thread may already have a loop
    running (Playwright's sync API keeps one for the browser tests' session).
    """
    sent: list[dict] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def main():
        done = anyio.Event()
        requested = False

        async def receive():
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays connected until the whole body is sent
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await client.app(scope, receive, send)

    client.portal.call(main)
    return sent


def test_the_ndjson_feed_still_streams_when_compressed(tmp_path):
    settings = make_settings(tmp_path / "data", querylog_enabled=True)
    app = create_app(settings)
    with TestClient(app) as client:
        for i in range(40):
            app.state.querylog.log_search(
                q=f"拖欠工资怎么办{i}",
                tokens=["拖欠工资"],
                engine="sqlite",
                total=1,
                client_ip="10.0.0.1",
                user_agent="ua",
            )
        app.state.querylog.flush()
        token = create_token(settings, "monitor", ["logs:read"])
        headers = {"authorization": f"Bearer {token}", "accept-encoding": "gzip"}
        sent = _asgi_get(client, "/api/logs", "limit=40", headers)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert (b"content-encoding", b"gzip") in start["headers"]
    chunks = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert len(chunks) > 10, "one body message per record, not one at the end"
    inflate, text = zlib.decompressobj(16 + zlib.MAX_WBITS), ""
    for chunk in chunks[:-1]:
        text += inflate.decompress(chunk).decode("utf-8")
        assert text.endswith("\n"), "each record can be read as soon as it is sent"
    text += (inflate.decompress(chunks[-1]) + inflate.flush()).decode("utf-8")
    assert len(text.splitlines()) == 40
