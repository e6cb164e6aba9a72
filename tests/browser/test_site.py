"""The worker-facing site in a real headless Chromium, at phone and desktop sizes."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

ARTICLE_TITLE = re.compile(r"《[^》]+》第[一二三四五六七八九十百零]+条")
CASE_018 = "guiding-case-018-zhongxing-hangzhou-v-wang-peng-labor-contract"


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_search_from_home_then_open_the_article(open_page, viewport):
    # JavaScript off: the whole path must work as plain HTML forms and links.
    w = open_page(viewport, javascript=False)
    page = w.page
    w.go("/")
    w.shot(f"home-{viewport}")
    page.get_by_label("输入你的问题").fill("不签劳动合同双倍工资")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**/search?q=*")
    first = page.locator("ol.hits li.hit h2 a").first
    assert ARTICLE_TITLE.fullmatch(first.inner_text()), first.inner_text()
    box = first.bounding_box()
    assert box and box["y"] + box["height"] <= page.viewport_size["height"], "the answer is on the first screen"
    assert page.locator("input[name=q]").input_value() == "不签劳动合同双倍工资"
    w.shot(f"results-{viewport}")
    title = first.inner_text()
    first.click()
    page.wait_for_url("**/doc/*")
    assert title in page.locator("main h1").inner_text()
    assert page.locator("nav.prevnext a").count() >= 2
    w.shot(f"article-{viewport}")


def test_follow_a_citation_from_a_case_to_the_article(open_page):
    w = open_page("phone", javascript=False)
    page = w.page
    w.go(f"/doc/{CASE_018}")
    w.shot("case-phone")
    page.locator("section.sec ul.cited a", has_text="第三十九条").click()
    page.wait_for_url("**/doc/labor-contract-law.39")
    assert "《劳动合同法》第三十九条" in page.locator("main h1").inner_text()
    page.get_by_role("link", name="全文与目录").click()
    page.wait_for_url("**/doc/labor-contract-law#a39")
    assert page.locator("#a39").is_visible()


def test_switch_to_traditional_and_back(open_page):
    w = open_page("phone", javascript=False)
    page = w.page
    w.go("/search?q=" + quote("工伤认定"))
    page.get_by_role("link", name="繁體").click()
    page.wait_for_url("**script=trad*")
    assert page.locator(".brand").inner_text() == "勞動法知識庫"
    assert "條" in page.locator("ol.hits li.hit h2 a").first.inner_text()
    page.locator("ol.hits li.hit h2 a").first.click()  # plain links keep the choice (cookie)
    page.wait_for_url("**/doc/*")
    assert page.locator(".brand").inner_text() == "勞動法知識庫"
    page.get_by_role("link", name="简体").click()
    assert page.locator(".brand").inner_text() == "劳动法知识库"
    # traditional characters typed into the box find the same answer
    page.get_by_label("输入你的问题").fill("公司拖欠工資怎麼辦")
    page.get_by_label("输入你的问题").press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("ol.hits li.hit").count() > 0


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/search?q=" + quote("公司拖欠工资怎么办"),
        "/doc/labor-contract-law.47",
        "/doc/labor-contract-law",
        f"/doc/{CASE_018}",
        "/doc/missing-document",
    ],
)
def test_readable_at_360px_without_sideways_scrolling(open_page, path):
    w = open_page("phone")
    w.go(path)
    assert no_horizontal_scroll(w.page), path
    size = w.page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 16


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_markup_in_the_query_is_text_and_never_runs(open_page, payload):
    w = open_page("desktop", javascript=True)
    page = w.page
    w.go("/")
    page.get_by_label("输入你的问题").fill(payload)
    page.get_by_label("输入你的问题").press("Enter")
    page.wait_for_url("**/search?q=*")
    page.wait_for_timeout(300)  # give an injected handler the chance to fire
    assert w.dialogs == []
    assert page.locator("input[name=q]").input_value() == payload
    assert payload in page.locator("main h1").inner_text()
    assert page.locator("main img, main script").count() == 0


def test_keyboard_focus_is_visible(open_page):
    w = open_page("desktop")
    page = w.page
    w.go("/")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline


CONTRAST_JS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent.trim()).join('');
    if (!text || el.offsetParent === null && getComputedStyle(el).position !== 'fixed') continue;
    const st = getComputedStyle(el);
    const fg = rgb(st.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) bad.push(`${el.tagName}.${el.className} "${text.slice(0, 20)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/search?q=" + quote("公司拖欠工资怎么办"),
        "/doc/labor-contract-law.47",
        f"/doc/{CASE_018}",
        "/doc/missing-document",
    ],
)
def test_text_contrast_meets_wcag_aa(open_page, path):
    w = open_page("desktop")
    w.go(path)
    assert w.page.evaluate(CONTRAST_JS) == []


def test_contrast_check_catches_pale_text(open_page):
    w = open_page("desktop")
    w.page.set_content('<p style="color:#aaa">淡灰色文字</p><p style="color:#333">正常文字</p>')
    bad = w.page.evaluate(CONTRAST_JS)
    assert len(bad) == 1 and "淡灰色文字" in bad[0]
