"""Personal numbers however they are typed, and e-mail addresses, never reach the query log.

Searched through the API and the site like a worker would, then looked for in the log file
itself (WAL included), in the monitoring feed ``/api/logs`` and in the CSV export.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from search_api.accounts.sessions import SESSION_COOKIE
from search_api.accounts.tokens import create_token
from search_api.app import create_app
from search_api.monitoring.redact import redact
from tests.conftest import make_settings

# (what the worker typed, the digits that must not be stored)
PHRASINGS = [
    ("我的电话138.1234.5678公司不给工资", "13812345678"),
    ("138/1234/5678 老板跑路了", "13812345678"),
    ("联系138_1234_5678", "13812345678"),
    ("手机 139 8765 4321 被辞退", "13987654321"),
    ("电话 137 - 2345 - 6789", "13723456789"),
    ("电话１３６．１２３４．５６７８", "13612345678"),  # full-width digits and dots
    ("电话一三八一二三四五六七八", "13812345678"),  # Chinese numerals
    ("打幺三五幺二三四五六七八找我", "13512345678"),  # 幺 for 1
    ("手机一五九两二三四五六七〇", "15922345670"),  # 两 for 2, 〇 for 0
    ("手机一三八 一二三四 五六七八", "13812345678"),
    ("工资卡6222.0212.3456.7890.128没到账", "6222021234567890128"),
    ("银行卡 6222 0212 3456 7890 欠薪", "6222021234567890"),
    ("卡号6217  0012  3456  7890", "6217001234567890"),
    ("身份证110101 19900307 1234被扣", "110101199003071234"),
    ("身份证 4403 0119 9508 0823 16 工伤", "440301199508082316"),
    ("身份证44030119950808231X 社保", "44030119950808231X"),
    ("身份证号 440301.19950808.2316 工伤", "440301199508082316"),
    ("身份证 110101 1990 0307 123X", "11010119900307123X"),
]

EMAIL = "zhang.san@example.com"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("redaction") / "data", secret_key="s")
    app = create_app(settings)
    with TestClient(app) as client:
        user = app.state.store.users.create("csv-reviewer", "a-long-password-1", "reviewer")
        session, _ = app.state.store.sessions.create(user.id, 3600)
        client.cookies.set(SESSION_COOKIE, session)
        client.headers["Authorization"] = "Bearer " + create_token(settings, "monitor", ["logs:read"])
        yield app, client, settings


def _feed_and_csv(client) -> tuple[list[dict], list[dict], str]:
    feed = client.get("/api/logs")
    assert feed.status_code == 200, feed.text
    rows = [json.loads(line) for line in feed.text.splitlines()]
    export = client.get("/review/export.csv")
    assert export.status_code == 200, export.text[:300]
    text = export.content.decode("utf-8-sig")
    return rows, list(csv.DictReader(io.StringIO(text))), text


def _stored_bytes(settings) -> bytes:
    return b"".join(p.read_bytes() for p in settings.data_dir.rglob("querylog*") if p.is_file())


@pytest.mark.parametrize(("n", "typed", "digits"), [(n, *p) for n, p in enumerate(PHRASINGS)])
def test_personal_numbers_are_not_stored_however_written(site, n, typed, digits):
    app, client, settings = site
    marker = "欠薪" + "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"[n]  # to find this search's record again
    resp = client.get("/api/search", params={"q": f"{typed} {marker}"})
    assert resp.status_code == 200, resp.text
    qid = resp.json()["query_id"]
    app.state.querylog.flush()
    rows, csv_rows, csv_text = _feed_and_csv(client)
    (rec,) = [r for r in rows if r["query_id"] == qid]
    (csv_rec,) = [r for r in csv_rows if marker in r["user_query"]]
    assert "[" in rec["user_query"], rec["user_query"]  # a placeholder took the number's place
    shown = [rec["user_query"], " ".join(rec["query_attributes"]["tokens"]), csv_rec["user_query"]]
    for text in shown:
        found = "".join(re.findall(r"[0-9]", normalised_digits(text)))
        assert digits.rstrip("X") not in found, text
        # no group of four or more of the number's digits either (e.g. the "1234" of 138 1234 5678)
        for group in re.findall(r"\d{4,}", normalised_digits(text)):
            assert group not in digits, (group, text)
    stored = _stored_bytes(settings)
    assert digits.encode() not in stored
    assert typed.encode() not in stored
    assert typed not in csv_text and digits not in csv_text


def test_site_search_box_is_redacted_too(site):
    app, client, settings = site
    page = client.get("/search", params={"q": "我的手机138.8888.9999老板不发工资"})
    assert page.status_code == 200
    app.state.querylog.flush()
    rows, _, csv_text = _feed_and_csv(client)
    assert any(r["query_attributes"]["source"] == "site" and "[手机号]" in r["user_query"] for r in rows)
    assert "13888889999" not in json.dumps(rows) + csv_text
    assert b"13888889999" not in _stored_bytes(settings) and b"138.8888.9999" not in _stored_bytes(settings)


def test_email_parts_do_not_survive_in_tokens(site):
    app, client, settings = site
    resp = client.get("/api/search", params={"q": f"公司欠薪 请发邮件到 {EMAIL}"})
    assert resp.status_code == 200
    qid = resp.json()["query_id"]
    app.state.querylog.flush()
    rows, _, _ = _feed_and_csv(client)
    (rec,) = [r for r in rows if r["query_id"] == qid]
    assert "[邮箱]" in rec["user_query"]
    tokens = rec["query_attributes"]["tokens"]
    assert "欠薪" in tokens or "公司" in tokens  # the question's own words stay
    for part in ("zhang", "san", "example", "com", "zhang.san"):
        assert part not in [t.lower() for t in tokens], tokens
    stored = _stored_bytes(settings)
    for part in (b"zhang", b"example.com", b"example"):
        assert part not in stored


def test_dates_and_article_numbers_stay_readable():
    assert redact("合同期2023.01.15-2024.01.15到期不续签") == "合同期2023.01.15-2024.01.15到期不续签"
    assert redact("劳动合同法第47条 工资3000元 两个月") == "劳动合同法第47条 工资3000元 两个月"
    assert redact("第一二三四五六七八九十条") == "第一二三四五六七八九十条"


def normalised_digits(text: str) -> str:
    """Chinese numerals as ASCII digits, so a leak in any script is caught."""
    table = str.maketrans("〇零一幺壹二两贰三叁四肆五伍六陆七柒八捌九玖", "0011122233445566778899")
    return text.translate(table)
