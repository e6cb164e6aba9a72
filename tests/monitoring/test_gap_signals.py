"""The signals of each logged search (no confident answer, refined within a minute, no click, a help
request after it) and the gap report built from them: grouped by meaning, worst first, noise hidden."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlparse

from fastapi.testclient import TestClient

from search_api import db
from search_api.monitoring.signals import signals_of
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, csrf_from, login, make_app
from tests.fixtures.help import HELP_REQUEST

FORM = {k: ("1" if v is True else v) for k, v in HELP_REQUEST.items()}
UNANSWERED = "干满三年走人老板要给几个月钱"


def _signals(app) -> list[tuple[str, dict[str, int]]]:
    """(text, signals) of every logged search, in log order."""
    app.state.querylog.flush()
    with db.log_database(app.state.settings).connect() as conn:
        flags = signals_of(conn, "2000-01-01", "2999-01-01")
        rows = conn.rows("SELECT query_id, user_query FROM queries ORDER BY seq")
    return [(r["user_query"], flags[r["query_id"]]) for r in rows]


def test_signals_of_a_search_and_a_help_request_after_it(tmp_path):
    app = make_app(make_settings(tmp_path / "data", help_min_fill_seconds=0))
    with TestClient(app) as client:
        page = client.get("/search", params={"q": UNANSWERED})
        link = re.search(r'href="(/help\?[^"]+)"', page.text).group(1)
        qid = parse_qs(urlparse(html.unescape(link)).query)["qid"][0]
        form = client.get(html.unescape(link))
        assert f'name="qid" value="{qid}"' in form.text  # carried as a hidden field
        stamp = re.search(r'name="stamp" value="([^"]+)"', form.text).group(1)
        # a refused form keeps the query id
        refused = client.post("/help", data={**FORM, "phone": "12", "stamp": stamp, "qid": qid})
        assert refused.status_code == 422 and f'name="qid" value="{qid}"' in refused.text
        sent = client.post("/help", data={**FORM, "stamp": stamp, "qid": qid}, follow_redirects=False)
        assert sent.status_code == 303
        client.get("/search", params={"q": "拖欠工资 解除劳动合同"})  # answered, clicked below
        answered = client.get("/api/search", params={"q": "拖欠工资 解除劳动合同"}).json()
        client.get("/go", params={"qid": answered["query_id"], "id": answered["hits"][0]["id"], "pos": 1})
        client.get("/search", params={"q": "拖欠工资 解除劳动合同 经济补偿"})  # reworded at once
        (q1, unanswered), (q2, _), (q3, clicked), (q4, last) = _signals(app)
    assert (q1, q2, q3, q4) == (
        UNANSWERED,
        "拖欠工资 解除劳动合同",
        "拖欠工资 解除劳动合同",
        "拖欠工资 解除劳动合同 经济补偿",
    )
    assert unanswered == {"unconfident": 1, "refined": 1, "helped": 1, "no_click": 1}
    # the API search was clicked, then reworded within a minute; nothing came after the last one
    assert clicked["no_click"] == 0 and clicked["refined"] == 1 and clicked["helped"] == 0
    assert last["refined"] == 0 and last["helped"] == 0
    with db.log_database(app.state.settings).connect() as conn:  # nothing of the request itself
        dump = "\n".join(str(tuple(r.values())) for r in conn.rows("SELECT * FROM queries"))
    assert HELP_REQUEST["description"] not in dump and "王女士" not in dump


def test_near_identical_wordings_are_one_gap_and_noise_is_hidden(tmp_path):
    app = make_app(make_settings(tmp_path / "data"))
    app.state.store.users.create("reviewer1", PASSWORD, "reviewer")
    with TestClient(app) as client:
        for agent, q in (("a", "老板不发工资怎么办"), ("b", "老板不给发工资怎么办啊"), ("c", "老板不发工资怎么办")):
            client.get("/search", params={"q": q}, headers={"User-Agent": agent})
        client.get("/search", params={"q": "asdfgh qwerty"}, headers={"User-Agent": "d"})
        app.state.querylog.flush()
        login(client, "reviewer1")
        report = client.get("/review/gaps")
        rows = re.findall(r"<tr>\s*<td><a href=\"/review/gaps/([0-9a-f]{16})\?[^\"]*\">([^<]+)</a>", report.text)
        texts = [t for _, t in rows]
        assert texts.count("老板不发工资怎么办") == 1 and "老板不给发工资怎么办啊" not in texts
        assert "另有 1 种说法" in report.text
        noise_key = {t: k for k, t in rows}["asdfgh qwerty"]
        page = client.get(f"/review/gaps/{noise_key}")
        bad_line = client.post(
            f"/review/gaps/{noise_key}/thesaurus", data={"csrf_token": csrf_from(page.text), "line": "asdfgh qwerty"}
        )
        assert bad_line.status_code == 422 and "格式不对" in bad_line.text and 'value="asdfgh qwerty"' in bad_line.text
        marked = client.post(f"/review/gaps/{noise_key}/noise", data={"csrf_token": csrf_from(page.text)})
        assert marked.status_code == 200 and "asdfgh qwerty" not in marked.text
        bad = client.get("/review/gaps", params={"since": "2026-13-01"})
        assert bad.status_code == 400 and "2026-13-01" in bad.text and "看不懂" in bad.text


def test_a_lawyer_sees_the_request_for_a_qa(tmp_path):
    app = make_app(make_settings(tmp_path / "data"))
    app.state.store.users.create("reviewer1", PASSWORD, "reviewer")
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    with TestClient(app) as client:
        client.get("/search", params={"q": UNANSWERED})
        app.state.querylog.flush()
        login(client, "reviewer1")
        key = re.search(r'href="/review/gaps/([0-9a-f]{16})\?', client.get("/review/gaps").text).group(1)
        page = client.get(f"/review/gaps/{key}")
        asked = client.post(
            f"/review/gaps/{key}/lawyer",
            data={"csrf_token": csrf_from(page.text), "lawyer_question": UNANSWERED, "note": "按工作年限讲清楚"},
        )
        assert asked.status_code == 200 and "已请律师写问答" in asked.text  # the report shows what was done
        client.post("/logout", data={"csrf_token": csrf_from(asked.text)})
        login(client, "lawyer1")
        mine = client.get("/lawyer/").text
        assert "工会请律师撰写的问答" in mine and UNANSWERED in mine and "按工作年限讲清楚" in mine
