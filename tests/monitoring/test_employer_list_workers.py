"""The union's list applies at once in every worker of ``labourkb serve --workers 2``.

Each answer below comes over a new connection, so the kernel hands them to both workers; each
worker has built its recogniser before the save (the name is shown by all of them) and must
notice the new version on its next use (the name is masked by all of them).
"""

from __future__ import annotations

import time

import httpx

from search_api import db
from search_api.accounts.store import Store
from search_api.accounts.tokens import create_token
from search_api.settings import Settings
from tests.monitoring.server import Server

QUESTION = "小蜜蜂的加班费怎么算"  # on no list, in no question shape: not an employer until listed


def feed_texts(server: Server, token: str, times: int = 8) -> list[str]:
    texts = []
    for _ in range(times):
        with httpx.Client(base_url=server.url, timeout=10) as http:  # a new connection each time
            resp = http.get("/api/logs", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200
            texts.append(resp.text)
    return texts


def test_a_saved_list_is_used_by_every_worker_at_once(tmp_path):
    server = Server(tmp_path, workers=2)
    try:
        settings = Settings(data_dir=server.data_dir)
        token = create_token(settings, "monitor", ["logs:read"])
        assert httpx.get(server.url + "/api/search", params={"q": QUESTION}, timeout=30).status_code == 200
        # the serving worker's background thread commits the record a moment after the answer (it is
        # journaled before: monitoring.log_store), so the feed shows it once that is done
        deadline = time.monotonic() + 10
        while not all(QUESTION in text for text in feed_texts(server, token, times=1)):
            assert time.monotonic() < deadline, "the search's record never reached the feed"
            time.sleep(0.05)
        assert all(QUESTION in text for text in feed_texts(server, token))
        store = Store(db.app_database(settings))  # this test process is one more process on the store
        store.employers.save(store.users.create("rev", "a-long-password-1", "reviewer"), "蜜蜂速配 = 小蜜蜂", "")
        after = feed_texts(server, token)
        assert all("小蜜蜂" not in text and "[用人单位]的加班费怎么算" in text for text in after)
    finally:
        server.stop()
