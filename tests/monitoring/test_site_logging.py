"""Site searches and result clicks reach the query log (district, source, rank), with no raw IP."""

import sqlite3

from fastapi.testclient import TestClient

from search_api.app import create_app
from tests.conftest import make_settings


def test_site_search_and_click_are_logged_with_district(tmp_path, corpus_index):
    settings = make_settings(tmp_path / "data", sqlite_path=corpus_index, secret_key="test")
    app = create_app(settings)
    with TestClient(app) as client:
        page = client.get("/search", params={"q": "老板拖欠工资怎么办", "district": "即墨区"})
        assert page.status_code == 200
        link = page.text.split('href="/go?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        click = client.get("/go?" + link, follow_redirects=False)
        assert click.status_code == 303 and click.headers["location"].startswith("/doc/")
        client.get("/search", params={"q": "工伤", "district": "不存在的区"})
        app.state.querylog.flush()
    db = sqlite3.connect(tmp_path / "data" / "querylog.sqlite3")
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT * FROM queries ORDER BY rowid").fetchall()
    assert [r["district"] for r in rows] == ["即墨区", None]
    assert {r["source"] for r in rows} == {"site"}
    events = db.execute("SELECT * FROM events").fetchall()
    assert len(events) == 1 and events[0]["position"] == 1
    assert events[0]["query_id"] == rows[0]["query_id"]
    dump = b"".join(bytes(str(tuple(r)), "utf-8") for r in rows)
    assert b"testclient" not in dump  # TestClient's client host is "testclient": never stored raw


def test_district_choice_is_offered_and_kept(corpus_client):
    from bs4 import BeautifulSoup

    home = BeautifulSoup(corpus_client.get("/").text, "html.parser")
    assert home.select_one("select#district option[value='']") is not None
    page = BeautifulSoup(corpus_client.get("/search", params={"q": "工伤", "district": "即墨区"}).text, "html.parser")
    assert page.select_one("select#district option[selected]").get_text() == "即墨区"
    assert page.select_one("label[for=district]") is not None
    doc = BeautifulSoup(corpus_client.get("/doc/labor-contract-law.40").text, "html.parser")
    assert doc.select_one("select#district") is None  # reading an article: a shorter header on phones
