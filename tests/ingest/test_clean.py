"""Cleaning web pages and plain-text pages: keep the article, drop boilerplate and spam."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from ingest.clean import clean_html, clean_text
from ingest.load import decode_bytes

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "samples"
HTML_SAMPLES = SAMPLES / "html"


def _expected() -> dict:
    path = HTML_SAMPLES / "expected.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


EXPECTED = _expected()


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page(body: str, title: str = "测试文章_某某工会网", head: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


ARTICLE = (
    "<p>用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。</p>"
    "<p>用人单位拖欠或者未足额支付劳动报酬的，劳动者可以依法向当地人民法院申请支付令，人民法院应当依法发出支付令。</p>"
    "<p>劳动者依法解除劳动合同的，用人单位应当向劳动者支付经济补偿，经济补偿按劳动者在本单位工作的年限计算。</p>"
)
ARTICLE_SENTENCES = [
    "用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。",
    "劳动者可以依法向当地人民法院申请支付令",
    "经济补偿按劳动者在本单位工作的年限计算。",
]


def assert_article_kept(text: str) -> None:
    for sentence in ARTICLE_SENTENCES:
        assert squash(sentence) in squash(text)


# --- the dirty sample pages ---------------------------------------------------------


@pytest.mark.skipif(not EXPECTED, reason="shared/samples/html/expected.json not found")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_page_keeps_article_and_drops_the_rest(name: str) -> None:
    spec = EXPECTED[name]
    html, _ = decode_bytes((HTML_SAMPLES / name).read_bytes(), name, declared=None)
    title, text = clean_html(html)
    flat = squash(text)
    assert title == spec["title"]
    missing = [s for s in spec["must_keep"] if squash(s) not in flat]
    assert not missing, f"lost article text: {missing}"
    left = [s for s in spec["must_drop"] if squash(s) in flat]
    assert not left, f"boilerplate or spam left: {left}"
    assert "\n\n" in text and "\n\n\n" not in text


@pytest.mark.skipif(not EXPECTED, reason="shared/samples/html/expected.json not found")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_result_does_not_depend_on_class_or_id_names(name: str) -> None:
    # The rules must be general: with every class and id attribute removed the result
    # is the same (only inline styles and tag semantics are left to go by).
    html, _ = decode_bytes((HTML_SAMPLES / name).read_bytes(), name)
    soup = BeautifulSoup(html, "html.parser")
    for el in soup.find_all(True):
        for attr in ("class", "id"):
            el.attrs.pop(attr, None)
    assert clean_html(str(soup)) == clean_html(html)


def test_plain_text_news_sample_keeps_body_and_drops_paging_and_recommendations() -> None:
    path = SAMPLES / "shanghai-union-online-news.txt"
    if not path.exists():
        pytest.skip("shared/samples text page not found")
    title, text = clean_text(path.read_text(encoding="utf-8"))
    assert title == "上海市总:让职工收获8小时之外的温暖与幸福"
    for sentence in (
        "随着新媒体愈演愈热,打造具有时代特征、上海特点的网上工会模式也成为上海各级工会迫在眉睫的一项任务。",
        "以往,工会法律援助都是在纸面上进行的。",
        "市总及区县职工援助服务中心对符合受理范围的案件进行了一一对接,力求为职工端平劳动权益的那杆秤。",
    ):
        assert sentence in text
    for dropped in ("上一篇", "下一篇", "推荐阅读", "原文地址", "社保新变化", "热点资讯"):
        assert dropped not in text
    paragraphs = text.split("\n\n")
    assert all(p == p.strip() and p for p in paragraphs)
    assert paragraphs[-1].endswith("“申工社APP负责人说道。")


# --- hidden and spliced-in spam --------------------------------------------------------


@pytest.mark.parametrize(
    "hidden",
    [
        '<div style="display:none">{spam}</div>',
        '<div style="DISPLAY: NONE !important">{spam}</div>',
        '<span style="visibility:hidden">{spam}</span>',
        '<div style="position:absolute;left:-9999px;top:-9999px">{spam}</div>',
        '<p style="text-indent:-5000px">{spam}</p>',
        '<font style="font-size:0px">{spam}</font>',
        '<span style="font-size:1px;color:#fff">{spam}</span>',
        '<div style="height:0;overflow:hidden">{spam}</div>',
        '<div style="opacity:0">{spam}</div>',
        "<div hidden>{spam}</div>",
        '<div class="k9x">{spam}</div>',
        "<s><em>{spam}</em></s>",
    ],
)
@pytest.mark.parametrize(
    "spam",
    [
        '<a href="http://spam.example/1">网上博彩注册送彩金</a><a href="http://spam.example/2">免费在线影院高清</a>',
        # Plain text, so only the hiding itself gives it away (no links to count).
        "网上博彩注册送彩金，免费在线影院高清，每天更新，欢迎访问。",
    ],
    ids=["links", "text"],
)
def test_hidden_spam_block_inside_the_article_is_dropped(hidden: str, spam: str) -> None:
    spliced = ARTICLE.replace("</p>", "</p>" + hidden.format(spam=spam), 1)
    html = page(f"<div>{spliced}</div>", head="<style>.k9x{display:none}</style>")
    _, text = clean_html(html)
    assert_article_kept(text)
    assert "博彩" not in text and "影院" not in text


def test_visible_link_farm_block_is_dropped_but_inline_links_are_kept() -> None:
    farm = "<div>" + "".join(f'<a href="http://x{i}.example">链接农场词条{i}号</a> ' for i in range(12)) + "</div>"
    cited = '<p>依照<a href="/law/labor-contract-law.47">《劳动合同法》第四十七条</a>的规定，经济补偿按工作年限支付，每满一年支付一个月工资。</p>'
    _, text = clean_html(page(f"<div>{ARTICLE}{farm}{cited}</div>"))
    assert_article_kept(text)
    assert "链接农场" not in text
    assert "依照《劳动合同法》第四十七条的规定" in text


def test_long_related_links_list_is_dropped() -> None:
    related = (
        "<div><h3>相关新闻</h3><ul>"
        + "".join(f'<li><a href="/news/{i}">第{i}条相关报道的标题文字比较长</a></li>' for i in range(20))
        + "</ul></div>"
    )
    plain_list = "<h4>推荐阅读</h4><ol><li>春季招聘会下周举行</li><li>多地发布高温津贴标准</li></ol>"
    comments = "<div><h4>网友评论</h4><div>说得太对了！</div><div>支持</div></div>"
    body = f"<div class='a'>{ARTICLE}{plain_list}</div>{related}{comments}"
    _, text = clean_html(page(body))
    assert_article_kept(text)
    for dropped in ("相关新闻", "相关报道", "推荐阅读", "春季招聘会", "高温津贴", "网友评论", "说得太对了"):
        assert dropped not in text


def test_navigation_paging_share_and_footer_are_dropped() -> None:
    body = (
        '<nav><a href="/">首页</a><a href="/a">要闻</a></nav>'
        '<div>当前位置：<a href="/">首页</a> &gt; 正文</div>'
        f"<h1>测试文章</h1><div>{ARTICLE}"
        "<p>责任编辑：张三</p>"
        '<div>分享到：<a href="#">微信</a><a href="#">微博</a></div>'
        '<div>上一篇：<a href="/1">旧闻</a></div><div>下一篇：<a href="/2">新闻</a></div></div>'
        "<footer>关于我们 | 联系我们</footer>"
        "<div>Copyright © 2024 某某市总工会 版权所有<br>沪ICP备00000000号</div>"
    )
    title, text = clean_html(page(body))
    assert title == "测试文章"
    assert_article_kept(text)
    for dropped in ("首页", "当前位置", "责任编辑", "分享到", "上一篇", "下一篇", "关于我们", "版权所有", "ICP备"):
        assert dropped not in text


def test_article_container_is_chosen_over_sidebar_text() -> None:
    sidebar = "<div><div>工会服务热线：12351</div><div>值班时间：工作日9:00-17:00</div></div>"
    body = f"<table><tr><td><div>{ARTICLE}</div></td><td>{sidebar}</td></tr></table>"
    _, text = clean_html(page(body))
    assert_article_kept(text)
    assert "12351" not in text and "值班时间" not in text


# --- text layout and title -------------------------------------------------------------


def test_br_lines_become_paragraphs_and_source_line_wraps_are_joined() -> None:
    body = (
        "<div>第一段：劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。<br>"
        "第二段：用人单位与劳动者协商一致，可以解除劳动\n        合同。<br><br>"
        "　　第三段：关键词 工资 加班费，均以空格分开，不应当粘连。</div>"
    )
    _, text = clean_html(page(body))
    assert text.split("\n\n") == [
        "第一段：劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。",
        "第二段：用人单位与劳动者协商一致，可以解除劳动合同。",
        "第三段：关键词 工资 加班费，均以空格分开，不应当粘连。",
    ]


@pytest.mark.parametrize(
    ("title_tag", "headings", "expected"),
    [
        ("劳动合同法解读_某某工会网", "", "劳动合同法解读"),
        ("劳动合同法解读 - 某某工会网", "", "劳动合同法解读"),
        ("劳动合同法解读 | 某某工会网", "", "劳动合同法解读"),
        ("劳动合同法解读_某某工会网", "<h1>某某工会网</h1><h2>劳动合同法解读</h2>", "劳动合同法解读"),
        ("", "<h1>只有一级标题</h1>", "只有一级标题"),
    ],
)
def test_title_comes_from_heading_or_title_without_site_suffix(title_tag: str, headings: str, expected: str) -> None:
    title, _ = clean_html(page(headings + f"<div>{ARTICLE}</div>", title=title_tag))
    assert title == expected


@pytest.mark.parametrize("html", ["", "<html>", "<<<>>>", "<p>未闭合的段落<div><span>", "纯文本，没有任何标签。"])
def test_malformed_or_empty_markup_does_not_crash(html: str) -> None:
    title, text = clean_html(html)
    assert isinstance(title, str) and isinstance(text, str)


def test_page_without_paragraph_markup_falls_back_to_body_text() -> None:
    title, text = clean_html("<body>劳动者有权依法参加和组织工会。</body>")
    assert text == "劳动者有权依法参加和组织工会。"
    assert title == ""


def test_clean_text_normalises_indentation_and_drops_trailing_boilerplate() -> None:
    raw = (
        "\n\n  关于做好高温天气劳动保护工作的通知  \n"
        "2024-06-01 来源：市总工会\n"
        "\n\n\n"
        "　　各区总工会：\n"
        "    高温天气期间，用人单位应当按规定发放高温津贴。\r\n"
        "\t日最高气温达到40℃以上的，应当停止当日室外露天作业。\n"
        "上一篇：春季招聘会\n"
        "原文地址：http://example.org/a.html\n"
        "推荐阅读\n"
        "其他文章标题\n"
    )
    title, text = clean_text(raw)
    assert title == "关于做好高温天气劳动保护工作的通知"
    assert text.split("\n\n") == [
        "2024-06-01 来源：市总工会",
        "各区总工会：",
        "高温天气期间，用人单位应当按规定发放高温津贴。",
        "日最高气温达到40℃以上的，应当停止当日室外露天作业。",
    ]


def test_clean_text_of_empty_input_is_empty() -> None:
    assert clean_text("") == ("", "")
    assert clean_text("\n \n") == ("", "")


# --- markup that must not be mistaken for junk ---------------------------------------------


def test_page_wrapped_in_one_form_keeps_its_article() -> None:
    # ASP.NET sites (common for government pages) put the whole body inside <form>.
    body = (
        f'<form id="form1" method="post"><input type="hidden" name="__VIEWSTATE" value="x"><div>{ARTICLE}</div></form>'
    )
    _, text = clean_html(page(body))
    assert_article_kept(text)


def test_zero_font_wrapper_with_sized_children_is_visible() -> None:
    paragraphs = ARTICLE.replace("<p>", '<p style="font-size:16px">')
    _, text = clean_html(page(f'<div style="font-size:0">{paragraphs}</div>'))
    assert_article_kept(text)


def test_print_only_css_does_not_hide_text() -> None:
    head = "<style>@media print { .article { display: none } } .x{color:red}</style>"
    _, text = clean_html(page(f'<div class="article">{ARTICLE}</div>', head=head))
    assert_article_kept(text)


@pytest.mark.parametrize("tag", ["font", "div"])
def test_thousands_of_unclosed_tags_do_not_crash(tag: str) -> None:
    html = f"<html><body>{f'<{tag}>' * 3000}<p>劳动者有权依法参加和组织工会。</p></body></html>"
    assert clean_html(html) == ("", "劳动者有权依法参加和组织工会。")


def test_line_made_only_of_site_links_is_dropped_but_sentences_with_those_words_stay() -> None:
    body = (
        f"<div>{ARTICLE}<p>关于我们公司拖欠加班费的问题，工会已经向劳动监察部门反映。</p></div>"
        "<div>关于我们 | 联系我们 | 网站地图</div>"
    )
    _, text = clean_html(page(body))
    assert "关于我们公司拖欠加班费的问题，工会已经向劳动监察部门反映。" in text
    assert "网站地图" not in text


def test_preformatted_text_keeps_its_line_breaks() -> None:
    body = "<pre>第一条　为了保护劳动者的合法权益，制定本法。\n第二条　在中华人民共和国境内的企业适用本法。</pre>"
    _, text = clean_html(page(body))
    assert text == "第一条　为了保护劳动者的合法权益，制定本法。\n\n第二条　在中华人民共和国境内的企业适用本法。"


def test_long_paging_line_is_dropped() -> None:
    long_title = "关于进一步做好新就业形态劳动者权益保障工作的指导意见解读" * 3
    body = f"<div>{ARTICLE}<p>上一篇：{long_title} 下一篇：{long_title}</p></div>"
    _, text = clean_html(page(body))
    assert_article_kept(text)
    assert "上一篇" not in text and "指导意见解读" not in text


def test_year_range_in_title_is_not_taken_for_a_site_suffix() -> None:
    title, _ = clean_html(page(f"<div>{ARTICLE}</div>", title="2023-2024年度劳动模范名单-某某工会网"))
    assert title == "2023-2024年度劳动模范名单"
