"""A 405 names every method the path answers (RFC 9110 ``Allow``), not only the first route's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from search_api.app import create_app


def test_allow_lists_every_method_of_the_path(settings):
    client = TestClient(create_app(settings))
    for path, allowed in (
        ("/api/cases", "GET, POST"),  # two routes: Starlette named only the first (GET)
        ("/api/cases/7", "GET, PUT"),
        ("/api/cases/import", "POST"),
        ("/lawyer/cases/new", "GET, POST"),
    ):
        response = client.request("DELETE", path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == allowed, path
        if path.startswith("/api/"):
            assert response.json() == {"error": "不支持的请求方式", "status": 405}
    assert client.post("/static/style.css").status_code == 405  # the static files answer their own
