"""A lawyer's case full of script, event-handler and javascript: payloads stays inert in real Chromium.

Every field of the case template (and the lawyer's display name, and the reviewer's
comment) carries payloads that would set ``window.__xss`` if any page rendered them
as markup. The case goes through the real workflow in the browser: the lawyer logs
in through /login, checks the form and submits; the reviewer reads the case and the
diff, then publishes; the public page and a search results page show it. Every page
is checked for the payload's effect (a global, a dialog), for the markup it would
leave behind (``on*`` attributes, ``javascript:`` URLs), and for the payload still
being shown as text.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from search_api.cases.fields import FIELDS
from tests.browser.conftest import serve
from tests.conftest import REPO_ROOT, make_settings
from tests.fixtures.cases import CASE, PASSWORD

SCREENSHOT = REPO_ROOT / "test-artifacts" / "screenshots" / "case-xss.png"

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '<svg onload="window.__xss=1">'
BREAKOUT = '"><body onload=window.__xss=1>'
MD_LINK = "[点我](javascript:window.__xss=1)"
RAW_LINK = '<a href="javascript:window.__xss=1">x</a>'
PAYLOADS = (SCRIPT, IMG, SVG, BREAKOUT, MD_LINK, RAW_LINK)
PAYLOAD_LINE = " ".join(PAYLOADS)

# Keywords are at most 20 characters each, so they carry short forms of the same attacks;
# "<script>…" and "</script>" are joined with 、 on the page, which would run if unescaped.
KEYWORDS = ["<script>__xss=1", "</script>", "<svg/onload=__xss=1>", '"><b/onclick=__xss=1', "javascript:__xss=1"]
# The source must be an http(s) URL or plain text (validation refuses javascript:); version 1
# has the plain-text form, the published version an https URL that tries to break out of href="".
SOURCE_TEXT = f"判决书原文 {PAYLOAD_LINE}"
SOURCE_URL = f"https://example.org/case?a={BREAKOUT}{SCRIPT}{IMG}"
TITLE_WORDS = "网约车司机被拖欠工资解除劳动合同案"
EVIL_NAME = f"张律师{IMG}"
EVIL_COMMENT = f"同意发布 {SCRIPT}{IMG}"

INERT_JS = """() => {
  const bad = [];
  const scriptish = v => /^\\s*(javascript|vbscript|data):/i.test(v || '');
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.toLowerCase().startsWith('on')) bad.push(`<${el.localName} ${a.name}="${a.value}">`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name.toLowerCase()) && scriptish(a.value))
        bad.push(`<${el.localName} ${a.name}="${a.value}">`);
    }
  }
  for (const a of document.querySelectorAll('a[href]'))
    if (a.protocol === 'javascript:') bad.push(`<a href="${a.getAttribute('href')}">`);
  for (const s of document.scripts) if (s.textContent.includes('__xss')) bad.push('<script>' + s.textContent);
  return {xss: typeof window.__xss, bad};
}"""


def case_version(revised: bool) -> dict:
    """The hostile case; the revision changes every field so the diff shows all of them."""
    prefix = "修订：" if revised else ""
    # One line per field, so each reads back whole from the page text.
    data = {name: f"{prefix}{CASE[name]} {PAYLOAD_LINE}".replace("\n", "；") for name in CASE}
    data["title"] = f"{prefix}{TITLE_WORDS} {PAYLOAD_LINE}"
    data["judgment_date"] = CASE["judgment_date"]  # a validated date cannot carry a payload
    data["keywords"] = [("欠薪" if revised else "拖欠工资"), *KEYWORDS]
    data["source"] = SOURCE_URL if revised else SOURCE_TEXT
    data["annotation"] = "\n\n".join(
        [
            f"{prefix}**要点**：保存好工资条。[查看第四十七条](/doc/labor-contract-law.47) [法条原文](https://flk.npc.gov.cn/)",
            f"点这里：{MD_LINK}",
            PAYLOAD_LINE,
        ]
    )
    return data


@pytest.fixture(scope="module")
def xss_app(tmp_path_factory, corpus_index):
    """The real app over a private copy of the corpus index (publishing writes to it)."""
    from search_api.app import create_app

    data = tmp_path_factory.mktemp("case-xss")
    index = data / "index.sqlite3"
    shutil.copy(corpus_index, index)
    return create_app(make_settings(data / "data", sqlite_path=index))


@pytest.fixture(scope="module")
def live_server(xss_app):
    """Overrides the shared server: this module needs the app (and its store) it serves."""
    with serve(xss_app) as url:
        yield url


def log_in(w, username: str, next_path: str) -> None:
    """Through the real login form, as a person would."""
    page = w.page
    w.go("/login?next=" + quote(next_path))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**{next_path}")


def assert_inert(w, *visible: str) -> None:
    """Nothing ran, nothing executable was left in the DOM, and the payloads read as text."""
    page = w.page
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # give an injected onerror/onload the chance to fire
    result = page.evaluate(INERT_JS)
    where = page.url
    assert result["xss"] == "undefined", f"a payload ran on {where}"
    assert result["bad"] == [], f"executable markup on {where}: {result['bad']}"
    assert w.dialogs == [], f"dialog on {where}: {w.dialogs}"
    assert not [u for u in w.requests if u.endswith("/x")], f"an injected <img src=x> loaded on {where}"
    text = page.locator("main").inner_text()
    for snippet in visible:
        assert snippet in text, f"{snippet!r} is not shown as text on {where}"


def check_annotation_links(w) -> None:
    """Links in the rendered 律师解读 are safe; the javascript: Markdown link is text or a dead link."""
    page = w.page
    links = page.locator("section.annotation a")
    assert links.count() >= 2, "the safe links of the annotation are missing"
    for i in range(links.count()):
        rel = (links.nth(i).get_attribute("rel") or "").split()
        assert {"nofollow", "noopener"} <= set(rel), f"annotation link without nofollow noopener: {rel}"
    trap = page.locator("section.annotation a", has_text="点我")
    if trap.count():
        for i in range(trap.count()):
            href = trap.nth(i).get_attribute("href") or ""
            assert not href.strip().lower().startswith("javascript:"), href
            before = page.url
            if not href:
                trap.nth(i).click()
                assert page.url == before
        assert page.evaluate("typeof window.__xss") == "undefined"
    else:
        assert MD_LINK in page.locator("section.annotation").inner_text()


def test_hostile_case_is_inert_from_draft_to_search(xss_app, open_page):
    store = xss_app.state.store
    lawyer = store.users.create("xss-lawyer", PASSWORD, "lawyer", EVIL_NAME)
    store.users.create("xss-reviewer", PASSWORD, "reviewer")
    from search_api.routes.lawyers import case_service

    # The app's own CaseService (the one its routes use), so the browser sees the same index.
    service = case_service(SimpleNamespace(app=xss_app))
    record = service.create(lawyer, case_version(False), complete=True)
    service.update(lawyer, record.id, case_version(True))
    case_path, v2 = f"/lawyer/cases/{record.id}", case_version(True)
    shown = (v2["title"], v2["gist"], v2["facts"], v2["issues"], v2["result"], v2["reasoning"], v2["related_laws"])

    # -- the lawyer: draft view, the edit form (payloads inside value=""), submit for review
    lw = open_page("desktop")
    log_in(lw, "xss-lawyer", case_path)
    page = lw.page
    assert_inert(lw, *shown, v2["case_no"], v2["court"], v2["region"], "、".join(v2["keywords"]), SOURCE_URL)
    assert page.locator("nav.account-nav").inner_text().startswith(EVIL_NAME)
    check_annotation_links(lw)
    page.get_by_role("link", name="修改").click()
    page.wait_for_url(f"**{case_path}/edit")
    assert_inert(lw)
    for name in ("title", "case_no", "court", "region", "source", "facts", "annotation"):
        assert page.locator(f"#f-{name}").input_value() == v2[name], name
    assert lw.go(case_path).ok
    page.get_by_label("我已核对上面的法条引用").check()
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_url(f"**{case_path}")
    assert "待审核" in page.locator("main").inner_text()

    # -- the reviewer: the case, the diff of both versions, then publish with a hostile comment
    rw = open_page("desktop")
    log_in(rw, "xss-reviewer", case_path)
    assert_inert(rw, *shown)
    rw.page.get_by_role("link", name="查看与上一版的差异").click()
    rw.page.wait_for_url(f"**{case_path}/diff*")
    v1 = case_version(False)
    assert_inert(rw, v1["title"], v2["title"], v1["facts"], v2["annotation"].split("\n")[-1], SOURCE_TEXT, SOURCE_URL)
    assert rw.page.locator("div.sbs").count() == len(FIELDS) - 1  # every field changed but the date
    rw.go(case_path)
    rw.page.get_by_label("审核意见（退回时必填）").fill(EVIL_COMMENT)
    rw.page.get_by_role("button", name="发布").click()
    rw.page.wait_for_url(f"**{case_path}")
    assert_inert(rw, EVIL_COMMENT)
    assert "已发布" in rw.page.locator("main").inner_text()

    # -- the lawyer again: the published case, its public page, and a search that finds it
    lw.go(case_path)
    assert_inert(lw, *shown, EVIL_COMMENT)
    check_annotation_links(lw)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_role("link", name="公开页面").click()
    page.wait_for_url(f"**/doc/lawyer-case-{record.id}")
    assert_inert(lw, *shown)
    assert page.locator("main a", has_text="原文链接").get_attribute("href") == SOURCE_URL
    check_annotation_links(lw)

    page.get_by_label("输入你的问题").fill(TITLE_WORDS)
    page.get_by_label("输入你的问题").press("Enter")
    page.wait_for_url("**/search?q=*")
    hit = page.locator(f'ol.hits li.hit h2 a[href*="lawyer-case-{record.id}"]')
    assert hit.count() == 1, "the published case is not on the first results page"
    assert_inert(lw, v2["title"])
    assert hit.inner_text() == v2["title"]
    hit.click()
    page.wait_for_url(f"**/doc/lawyer-case-{record.id}")
    assert_inert(lw, v2["title"])


@pytest.mark.parametrize(
    ("markup", "complaint"),
    [
        (f"<main>{IMG}</main>", "a payload ran"),
        (f"<main>{SVG}</main>", "a payload ran"),
        ('<main><a href=" JavaScript:void(0)">x</a></main>', "executable markup"),
        ('<main><p onclick="void 0">x</p></main>', "executable markup"),
        ("<main>&lt;script&gt;</main>", "is not shown as text"),
    ],
)
def test_the_checks_catch_live_markup(open_page, markup, complaint):
    # The same checks on a page that really is unsafe: they must fail, or the test above proves nothing.
    w = open_page("desktop")
    w.page.set_content(markup)
    with pytest.raises(AssertionError, match=complaint):
        assert_inert(w, SCRIPT)
