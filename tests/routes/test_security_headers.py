"""Security headers on every response: no script, nothing from another origin, no framing."""

import re

import pytest

PATHS = [
    "/",
    "/search?q=拖欠工资",
    "/doc/labor-contract-law.47",
    "/api/search?q=加班费",
    "/api/documents/nope",
    "/no-such-page",
    "/static/style.css",
    "/healthz",
    "/login",
]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_headers(corpus_client, path):
    r = corpus_client.get(path, follow_redirects=False)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives  # default-src 'none' forbids every script
    assert directives["frame-ancestors"] == "'none'"
    assert not re.search(r"https?:|\*", csp), "no outside origin is allowed"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] in ("same-origin", "no-referrer")


def test_the_api_page_runs_only_this_servers_scripts(corpus_client):
    r = corpus_client.get("/docs")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert not re.search(r"https?:", r.headers["content-security-policy"])
    sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for asset in sources:
        assert corpus_client.get(asset).status_code == 200, asset
