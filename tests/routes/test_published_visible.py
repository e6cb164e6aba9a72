"""What is published is visible at once, on every thread, after the site has served result pages.

Found in use: after a few result pages (which count facets) a case published through the API
stayed a 404 at /api/documents/lawyer-case-N and absent from search until a restart, and
withdrawing it answered 500 ("database is locked").
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.cases import CASE, PASSWORD, make_app


def _bearer(app, username: str) -> dict[str, str]:
    store = app.state.store
    return {"Authorization": f"Bearer {store.tokens.create(store.users.with_hash(username)[0].id)}"}


def test_a_case_published_after_result_pages_is_found_and_can_be_withdrawn(settings):
    app = make_app(settings)
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    app.state.store.users.create("reviewer1", PASSWORD, "reviewer")
    lawyer, reviewer = _bearer(app, "lawyer1"), _bearer(app, "reviewer1")
    with TestClient(app) as client:
        for _ in range(12):  # result pages on the server's threads, each asking for facets
            assert client.get("/search", params={"q": "拖欠工资 经济补偿"}).status_code == 200
        case = client.post("/api/cases", json=CASE, headers=lawyer).json()
        client.post(f"/api/cases/{case['id']}/submit", headers=lawyer)
        published = client.post(f"/api/cases/{case['id']}/review", json={"action": "publish"}, headers=reviewer)
        assert published.status_code == 200
        doc_id = f"lawyer-case-{case['id']}"
        for _ in range(16):  # every read, whichever thread answers it, sees the new case
            assert client.get(f"/api/documents/{doc_id}").status_code == 200
            hits = client.get("/api/search", params={"q": "餐饮公司拖欠工资", "size": 20}).json()["hits"]
            assert doc_id in [h["id"] for h in hits]
        withdrawn = client.post(f"/api/cases/{case['id']}/withdraw", headers=lawyer)
        assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
        for _ in range(8):
            assert client.get(f"/api/documents/{doc_id}").status_code == 404
