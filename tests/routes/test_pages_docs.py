"""Home, article, law, case and error pages, rendered in-process."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from ingest.model import Document
from search_api.app import create_app
from search_api.engines.base import EngineUnavailable
from search_api.engines.sqlite import SqliteEngine
from search_api.search.nextsteps import COMMON_TROUBLES
from search_api.search.steps_config import load_next_steps

GENERAL = load_next_steps().general  # the lines every dispute panel (and the home page) shows
STEPS = [ln for ln in (*GENERAL.deadlines, *GENERAL.where, *GENERAL.evidence) if ln.article]

CASE_018 = "guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract"


def get(client, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return BeautifulSoup(response.text, "html.parser")


def test_home_has_search_and_common_troubles_running_real_searches(corpus_client):
    page = get(corpus_client, "/")
    assert page.html["lang"] == "zh-CN"
    field = page.select_one("main form[role=search] input[name=q]")
    assert page.select_one(f"label[for={field['id']}]").get_text(strip=True) == "输入你的问题"
    links = page.select("section.troubles a")
    labels = [a.select_one("strong").get_text() for a in links]
    assert labels == [
        "拖欠工资",
        "工伤",
        "辞退与补偿",
        "社保",
        "加班与休息",
        "女职工",
        "劳动合同",
        "劳务派遣",
        "破产欠薪",
    ]
    for a in links:
        q = parse_qs(urlsplit(a["href"]).query)["q"][0]
        results = get(corpus_client, a["href"])
        assert results.select("ol.hits li.hit"), f"trouble {q!r} finds nothing"
    assert len(page.select("aside.steps li a")) == len(STEPS)


@pytest.mark.parametrize("trouble", COMMON_TROUBLES, ids=lambda t: t.label)
def test_each_common_trouble_answers_with_an_article_on_the_first_screen(corpus_client, trouble):
    page = get(corpus_client, "/search?" + f"q={trouble.query}")
    badges = [b.get_text() for b in page.select("ol.hits .badge")[:3]]
    assert "法条" in badges, (trouble.query, badges)


def test_next_steps_articles_say_what_the_panel_says(corpus_client):
    # The panel paraphrases the articles; guard against a re-numbered corpus.
    keys = {
        "labor-dispute-mediation-arbitration-law.27": "时效期间为一年",
        "labor-dispute-mediation-arbitration-law.50": "十五日内向人民法院提起诉讼",
        "labor-dispute-mediation-arbitration-law.53": "仲裁不收费",
        "labor-dispute-mediation-arbitration-law.21": "劳动合同履行地或者用人单位所在地",
        "labor-security-supervision-regulations.9": "有权向劳动保障行政部门投诉",
        "legal-aid-law.31": "支付劳动报酬",
        "legal-aid-law.42": "免予核查经济困难状况",
        "labor-dispute-mediation-arbitration-law.6": "有责任提供证据",
    }
    assert {s.article for s in STEPS} == set(keys)
    for doc_id, phrase in keys.items():
        data = corpus_client.get(f"/api/documents/{doc_id}").json()
        assert phrase in data["text"], doc_id


def test_article_page_in_the_context_of_its_law(corpus_client):
    page = get(corpus_client, "/doc/labor-contract-law.39")
    assert page.select_one("main h1").get_text(" ", strip=True).endswith("《劳动合同法》第三十九条")
    crumbs = page.select_one("nav.crumbs").get_text()
    assert "第四章 劳动合同的解除和终止" in crumbs
    nav = page.select_one("nav.prevnext")
    assert nav.select_one("a[rel=prev]")["href"] == "/doc/labor-contract-law.38"
    assert nav.select_one("a[rel=next]")["href"] == "/doc/labor-contract-law.40"
    assert nav.select_one("a[href='/doc/labor-contract-law#a39']")
    meta = page.select_one("dl.meta").get_text()
    assert "2008-01-01" in meta and "2012-12-28" in meta
    cases = [a["href"] for a in page.select("ul.cases a")]
    assert f"/doc/{CASE_018}" in cases
    # citations inside the article text link to the cited article
    assert page.select_one(".text a.cite[href='/doc/labor-contract-law.26']")


def test_first_and_last_article_have_one_neighbour(corpus_client):
    first = get(corpus_client, "/doc/labor-contract-law.1")
    assert first.select_one("nav.prevnext a[rel=prev]") is None
    assert first.select_one("nav.prevnext a[rel=next]")["href"] == "/doc/labor-contract-law.2"
    last = get(corpus_client, "/doc/labor-contract-law.98")
    assert last.select_one("nav.prevnext a[rel=next]") is None


def test_law_page_has_a_table_of_contents_and_every_article(corpus_client):
    page = get(corpus_client, "/doc/labor-contract-law")
    toc = [a.get_text() for a in page.select("nav.toc a")]
    assert toc[0] == "第一章 总则" and "第五章 特别规定" in toc
    assert any("劳务派遣" in t for t in toc), "section headings (第N节) are listed too"
    for a in page.select("nav.toc a"):
        assert page.find(id=a["href"][1:]), a["href"]
    articles = page.select("section.art")
    assert len(articles) == 98
    assert articles[38]["id"] == "a39"
    assert articles[38].select_one("a.al")["href"] == "/doc/labor-contract-law.39"


def test_case_page_sections_and_linked_citations(corpus_client):
    page = get(corpus_client, f"/doc/{CASE_018}")
    headings = [h.get_text() for h in page.select("section.sec h2")]
    for name in ("关键词", "裁判要点", "相关法条", "基本案情", "裁判结果", "裁判理由"):
        assert name in headings
    cited = page.find("h2", string="相关法条").parent
    hrefs = [a["href"] for a in cited.select("a")]
    assert "/doc/labor-contract-law.39" in hrefs and "/doc/labor-contract-law.40" in hrefs
    meta = page.select_one("dl.meta").get_text()
    assert "2013-11-08" in meta and "指导案例18号" in meta and "最高人民法院" in meta


def test_unknown_document_gives_the_chinese_404_page(corpus_client):
    page = get(corpus_client, "/doc/no-such-law.999", status=404)
    assert page.select_one("main h1").get_text() == "找不到这个页面"
    assert page.select("section.troubles a")
    assert get(corpus_client, "/doc/%3Cscript%3E", status=404).find("script") is None
    get(corpus_client, "/no/such/page", status=404)


@pytest.fixture
def forget_script(corpus_client):
    """The session's client keeps cookies: drop the 繁/简 choice so later tests see simplified."""
    yield
    corpus_client.cookies.delete("script")


def test_traditional_switch_on_a_document_is_remembered(corpus_client, forget_script):
    response = corpus_client.get("/doc/labor-contract-law.39?script=trad")
    assert "勞動合同法" in response.text and response.cookies.get("script") == "trad"
    page = BeautifulSoup(response.text, "html.parser")
    assert page.html["lang"] == "zh-Hant"
    follow = corpus_client.get("/doc/labor-contract-law.40", cookies={"script": "trad"})
    assert "第四十條" in follow.text
    back = corpus_client.get("/doc/labor-contract-law.40?script=simp", cookies={"script": "trad"})
    assert "第四十条" in back.text and back.cookies.get("script") == "simp"


@pytest.fixture
def small_client(tmp_path):
    """An app over a tiny index of our own: one article and one lawyer case with an annotation."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", sqlite_path=tmp_path / "index.sqlite3")
    engine = SqliteEngine(settings.sqlite_path)
    article = Document(
        id="demo-law.1",
        kind="article",
        title="示例法 第一条",
        text="第一条 工资应当按月支付。",
        source_id="demo-law",
        source_title="示例法",
        short_title="示例法",
        article=1,
        article_label="第一条",
    )
    case = Document(
        id="lawyer-case-1",
        kind="case",
        doc_type="lawyer_case",
        title="示例律师案例",
        text="基本案情\n\n某公司拖欠工资。",
        sections={"基本案情": "某公司拖欠工资。"},
        annotation="## 要点\n\n**按月支付**。<script>alert(1)</script>",
        published="2024-05-01",
        citations=[{"raw": "《示例法》第一条", "law_title": "示例法", "article": 1, "target": "demo-law.1"}],
        cites=["demo-law.1"],
    )
    engine.index_documents([article, case])
    engine.close()
    app = create_app(settings)

    @app.get("/test-unavailable")
    def _unavailable():
        raise EngineUnavailable("connection refused")

    @app.get("/test-crash")
    def _crash():
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_lawyer_annotation_is_rendered_safely(small_client):
    page = get(small_client, "/doc/lawyer-case-1")
    note = page.select_one("section.annotation")
    assert note.select_one("h2").get_text() == "律师解读"
    assert note.select_one("strong").get_text() == "按月支付"
    assert note.find("script") is None
    cited = page.find("h2", string="相关法条").parent
    assert cited.select_one("a")["href"] == "/doc/demo-law.1"
    assert "2024-05-01" in page.select_one("dl.meta").get_text()


def test_article_without_neighbours_or_cases(small_client):
    page = get(small_client, "/doc/demo-law.1")
    assert page.select_one("nav.prevnext a[rel]") is None
    assert [a["href"] for a in page.select("ul.cases a")] == ["/doc/lawyer-case-1"]


def test_503_and_500_pages_are_in_chinese(small_client):
    page = get(small_client, "/test-unavailable", status=503)
    assert "搜索服务暂时不可用" in page.select_one("main h1").get_text()
    assert "12351" in page.select_one("main").get_text()
    page = get(small_client, "/test-crash", status=500)
    assert "服务器出错了" in page.select_one("main h1").get_text()
    assert "boom" not in page.get_text()


def test_article_page_lists_its_everyday_questions(corpus_client):
    page = BeautifulSoup(corpus_client.get("/doc/labor-dispute-mediation-arbitration-law.53").text, "html.parser")
    faq = page.select_one("section.faq")
    assert faq is not None and faq.h2.get_text() == "常见问题"
    items = faq.select("li a")
    assert len(items) >= 3
    assert all(a["href"].startswith("/search?q=") for a in items)
    purpose = BeautifulSoup(corpus_client.get("/doc/labor-dispute-mediation-arbitration-law.1").text, "html.parser")
    assert purpose.select_one("section.faq") is None


def test_a_notice_without_articles_lists_its_everyday_questions(corpus_client):
    # the notice on monthly working days (21.75) has no numbered articles: its questions are its own
    page = BeautifulSoup(corpus_client.get("/doc/monthly-working-days-and-wage-conversion-notice").text, "html.parser")
    faq = page.select_one("article section.faq")
    assert faq is not None and "本文回答的" in faq.get_text()
    assert len(faq.select("li a")) >= 5


def test_a_case_page_lists_the_situations_it_answers(corpus_client):
    # a worker tells a case's situation in their own words: the case takes everyday questions too
    page = BeautifulSoup(
        corpus_client.get("/doc/guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract").text, "html.parser"
    )
    faq = page.select_one("article section.faq")
    assert faq is not None and "本案回答的" in faq.get_text()
    items = faq.select("li a")
    assert len(items) >= 5 and all(a["href"].startswith("/search?q=") for a in items)
