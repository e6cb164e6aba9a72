"""The OpenAPI page (/docs) works with no network beyond this server.

``open_page`` aborts every request that is not for 127.0.0.1 and fails the test afterwards if
any was even attempted, so a Swagger UI asset or font loaded from a CDN would show up here.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def test_openapi_page_lists_the_operations_offline(open_page):
    w = open_page("desktop", javascript=True)
    page = w.page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    w.go("/docs")
    search = page.locator('.opblock-summary-path[data-path="/api/search"]')
    search.first.wait_for(state="visible", timeout=30_000)
    paths = set(page.locator(".opblock-summary-path").evaluate_all("els => els.map(e => e.dataset.path)"))
    assert {"/api/search", "/api/documents/{doc_id}", "/healthz"} <= paths, paths
    search.first.click()  # an operation opens with its parameters, rendered from the local spec
    page.locator(".opblock-body .parameters-col_name", has_text="q").first.wait_for(timeout=10_000)
    loaded = {urlsplit(u).path for u in w.requests}
    assert {"/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css", "/openapi.json"} <= loaded
    assert errors == []
