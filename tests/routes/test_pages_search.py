"""The results page, rendered in-process over the real corpus and read with BeautifulSoup."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

PAGE_BUDGET = 60 * 1024  # HTML + CSS of a result page, for slow phone connections


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def get(client, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:300])
    return soup(response)


def hit_titles(page: BeautifulSoup) -> list[str]:
    return [a.get_text(strip=True) for a in page.select("ol.hits li.hit h2 a")]


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def test_worker_question_puts_the_article_first(corpus_client):
    page = get(corpus_client, "/search?q=不签劳动合同双倍工资")
    titles = hit_titles(page)
    assert titles, "no results"
    assert re.fullmatch(r"《[^》]+》第[一二三四五六七八九十百零]+条", titles[0]), titles[0]
    assert titles[0] == "《劳动合同法》第八十二条"
    first = page.select_one("ol.hits li.hit")
    assert first.select_one(".badge").get_text() == "法条"
    assert first.select_one(".snippet mark"), "query words are highlighted in the snippet"


def test_query_stays_in_the_box_and_field_is_labelled(corpus_client):
    page = get(corpus_client, "/search?q=工伤认定")
    box = page.select_one("form[role=search] input[name=q]")
    assert box["value"] == "工伤认定"
    assert page.select_one(f"label[for={box['id']}]").get_text(strip=True)
    assert page.html["lang"] == "zh-CN"
    assert not page.find("script"), "the page needs no JavaScript"


def test_kind_badges_cover_articles_and_cases(corpus_client):
    page = get(corpus_client, "/search?q=加班费怎么算")
    badges = {b.get_text() for b in page.select("ol.hits .badge")}
    assert {"法条", "案例"} <= badges


def test_facets_are_plain_links_that_filter(corpus_client):
    page = get(corpus_client, "/search?q=工伤")
    groups = {g.select_one("h3").get_text(): g for g in page.select("nav.facets .fg")}
    assert {"类型", "法律法规", "主题", "地区"} <= set(groups)
    case_link = next(a for a in groups["类型"].select("a") if a.get_text().startswith("案例"))
    count = int(case_link.select_one(".n").get_text())
    assert query_of(case_link["href"]) == {"q": ["工伤"], "kind": ["case"]}

    filtered = get(corpus_client, case_link["href"])
    assert {b.get_text() for b in filtered.select("ol.hits .badge")} == {"案例"}
    assert f"共找到 {count} 条结果" in filtered.select_one(".count").get_text()
    active = filtered.select_one("nav.facets a.on")
    assert active is not None and "kind" not in query_of(active["href"]), "an active filter links to its removal"

    law_link = groups["法律法规"].select_one("a")
    law_page = get(corpus_client, law_link["href"])
    law_id = query_of(law_link["href"])["law"][0]
    # result links go through /go (click logging without JavaScript) to /doc/<id>
    assert all(query_of(a["href"])["id"][0].startswith(law_id) for a in law_page.select("ol.hits h2 a"))


def test_topic_facet_uses_chinese_names(corpus_client):
    page = get(corpus_client, "/search?q=工伤")
    topics = next(g for g in page.select("nav.facets .fg") if g.select_one("h3").get_text() == "主题")
    labels = [a.contents[0].strip() for a in topics.select("a")]
    assert "工伤" in labels and not any(re.search(r"[a-z_]{3,}", label) for label in labels)


def test_pagination_links_keep_the_filters(corpus_client):
    page = get(corpus_client, "/search?q=工资&kind=article")
    pager = page.select_one("nav.pager")
    nxt = pager.select_one("a[rel=next]")
    assert query_of(nxt["href"]) == {"q": ["工资"], "kind": ["article"], "page": ["2"]}
    second = get(corpus_client, nxt["href"])
    assert second.select_one("nav.pager [aria-current=page]").get_text() == "2"
    assert second.select_one("ol.hits")["start"] == "11"
    assert set(hit_titles(second)).isdisjoint(hit_titles(page))


@pytest.mark.parametrize("value", ["abc", "-3", "0", "", "1e9", "%00", "2.5"])
def test_bad_page_numbers_give_a_sensible_page(corpus_client, value):
    page = get(corpus_client, f"/search?q=工伤&page={value}")
    assert hit_titles(page), value


def test_page_beyond_the_last_shows_the_last_page(corpus_client):
    page = get(corpus_client, "/search?q=工伤&page=99999")
    assert hit_titles(page)
    pager = page.select_one("nav.pager")
    assert pager.select_one("a[rel=next]") is None, "the page shown is the last one"
    numbers = [int(x.get_text()) for x in pager.select("a:not([rel]), [aria-current=page]")]
    assert int(pager.select_one("[aria-current=page]").get_text()) == max(numbers) > 1


@pytest.mark.parametrize("q", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'; --<b>x</b>"])
def test_markup_in_the_query_is_shown_as_text(corpus_client, q):
    response = corpus_client.get("/search", params={"q": q})
    assert response.status_code == 200
    page = soup(response)
    assert not page.find("script") and not page.find("img") and not page.select("main b")
    assert page.select_one("input[name=q]")["value"] == q
    assert q in page.select_one("main h1").get_text()
    assert "<script>" not in response.text and "<img" not in response.text


def test_result_page_fits_the_size_budget(corpus_client):
    html = corpus_client.get("/search?q=公司拖欠工资怎么办")
    css = corpus_client.get("/static/style.css")
    assert html.status_code == css.status_code == 200
    assert len(html.content) + len(css.content) <= PAGE_BUDGET, (len(html.content), len(css.content))
    page = soup(html)
    external = [t.get("href") or t.get("src") for t in page.select("link[href], script[src], img[src]")]
    assert all(u.startswith("/") for u in external), external


@pytest.mark.parametrize(
    "url",
    [
        "/search?q=" + "工资" * 3000,
        "/search?q=%00%01",
        "/search?q=工伤&kind=bogus",
        "/search?q=工伤&law=%3Cx%3E&region=火星&topic=nope&page=3",
    ],
)
def test_odd_input_gives_a_small_page_not_an_error(corpus_client, url):
    response = corpus_client.get(url)
    assert response.status_code == 200
    assert len(response.content) < PAGE_BUDGET
    assert soup(response).select_one("main h1")


def test_dispute_question_shows_next_steps_from_the_articles(corpus_client):
    page = get(corpus_client, "/search?q=老板跑路了工资找谁要")
    panel = page.select_one("aside.steps")
    assert panel is not None
    links = {a["href"] for a in panel.select("li a")}
    assert {
        "/doc/labor-dispute-mediation-arbitration-law.27",
        "/doc/labor-dispute-mediation-arbitration-law.53",
        "/doc/labor-dispute-mediation-arbitration-law.21",
        "/doc/legal-aid-law.31",
        "/doc/legal-aid-law.42",
    } <= links
    text = panel.get_text()
    assert "一年" in text and "不收费" in text
    assert all(n in text for n in ("12351", "12333", "12348"))


def test_zero_results_offer_help(corpus_client):
    page = get(corpus_client, "/search?q=xyzzyqq")
    main = page.select_one("main")
    assert "没有找到" in main.get_text()
    troubles = [a.get_text() for a in main.select("section.troubles a")]
    assert any("拖欠工资" in t for t in troubles) and len(troubles) == 9
    assert main.select_one("aside.steps li a[href='/doc/labor-dispute-mediation-arbitration-law.27']")


def test_suggestion_is_a_link_that_searches(corpus_client):
    # Real suggestions are rare on this corpus (only for three results or fewer), so the
    # template is rendered with a response that carries one.
    from search_api.search.service import SearchResponse

    app = corpus_client.app
    response = SearchResponse(query="工商认定", total=0, hits=[], suggestion="工伤认定 <b>")
    html = app.state.templates.get_template("search.html").render(
        q="工商认定",
        r=response,
        facets=[],
        pages=None,
        first=1,
        filtered=False,
        unfiltered_url="/search?q=x",
        steps=None,
    )
    link = BeautifulSoup(html, "html.parser").select_one(".suggest a")
    assert link.get_text() == "工伤认定 <b>"
    assert query_of(link["href"])["q"] == ["工伤认定 <b>"]


def test_empty_query_shows_the_home_page(corpus_client):
    page = get(corpus_client, "/search?q=%20%20")
    assert page.select_one("section.troubles") and page.select_one(".notice")


@pytest.fixture
def forget_script(corpus_client):
    """The session's client keeps cookies: drop the 繁/简 choice so later tests see simplified."""
    yield
    corpus_client.cookies.delete("script")


def test_traditional_input_and_switch(corpus_client, forget_script):
    simp = hit_titles(get(corpus_client, "/search?q=公司拖欠工资怎么办"))
    trad_input = hit_titles(get(corpus_client, "/search?q=公司拖欠工資怎麼辦"))
    assert trad_input[:3] == simp[:3]

    page = get(corpus_client, "/search?q=工伤认定&script=trad")
    assert page.html["lang"] == "zh-Hant"
    assert "勞動法知識庫" in page.select_one(".brand").get_text()
    assert "條" in hit_titles(page)[0] and "条" not in hit_titles(page)[0]
    switch = page.select_one("a.script")
    assert switch.get_text() == "简体" and query_of(switch["href"])["script"] == ["simp"]


def test_a_question_without_a_confident_answer_says_so(corpus_client):
    unsure = get(corpus_client, "/search?q=北京到上海的火车票")
    box = unsure.select_one("section.unsure")
    assert box is not None and "没有找到有把握的答案" in box.get_text()
    assert "12351" in box.get_text()
    sure = get(corpus_client, "/search?q=工伤认定申请时限")
    assert sure.select_one("section.unsure") is None


def test_api_reports_confidence_and_counts_only_the_answering_set(corpus_client):
    sure = corpus_client.get("/api/search", params={"q": "工伤认定申请时限", "facets": "true"}).json()
    assert sure["confident"] is True
    assert 0 < sure["total"] < 200  # the documents that answer, not every one sharing a character
    noise = corpus_client.get("/api/search", params={"q": "北京到上海的火车票"}).json()
    assert noise["confident"] is False
    assert sum(sure["facets"]["kind"].values()) == sure["total"]
