"""Line-level rules shared by the HTML and plain-text cleaners.

The word lists are general conventions of Chinese web pages (paging, sharing, credits,
footers, "related reading" headings), not words taken from any particular site or spam.
"""

from __future__ import annotations

import re

# Lead words of one-line boilerplate on Chinese web pages (navigation, sharing, paging, credits).
_LEAD_WORDS = (
    "上一篇",
    "下一篇",
    "上一条",
    "下一条",
    "上一页",
    "下一页",
    "上篇：",
    "下篇：",
    "分享到",
    "分享至",
    "您的位置",
    "您现在的位置",
    "你的位置",
    "当前位置",
    "所在位置",
    "位置：",
    "责任编辑",
    "编辑：",
    "编辑:",
    "责编：",
    "责编:",
    "版权所有",
    "版权声明",
    "免责声明",
    "Copyright",
    "copyright",
    "©",
    "打印本页",
    "关闭窗口",
    "打印】",
    "关闭】",
    "字号：",
    "字号:",
    "字体：",
    "点击数",
    "点击：",
    "点击量",
    "浏览次数",
    "阅读次数",
    "阅读量：",
    "扫一扫",
    "扫描二维码",
    "技术支持：",
    "技术支持:",
)
_PAGING_WORDS = ("上一篇", "下一篇", "上一条", "下一条", "上一页", "下一页")
# Site links that may fill a line on their own ("关于我们 | 联系我们 | 网站地图").
_NAV_WORDS = re.compile(
    r"关于我们|联系我们|网站地图|网站导航|返回顶部|返回首页|设为首页|加入收藏|收藏本站|打印本页|关闭窗口"
    r"|[|｜/·\s【】\[\]]"
)
# Fragments that mark a footer line wherever they stand in it.
_FOOTER_RE = re.compile(r"ICP[备证]|公网安备|版权所有|免责声明|违法和不良信息举报|Copyright\s*©|©\s*\d{4}")
# Headings after which a page lists other articles or comments, not more of this one.
_TAIL_MARKERS = (
    "相关阅读",
    "相关新闻",
    "相关文章",
    "相关链接",
    "相关推荐",
    "延伸阅读",
    "推荐阅读",
    "热点资讯",
    "热点新闻",
    "热门文章",
    "热门推荐",
    "精彩推荐",
    "猜你喜欢",
    "最新文章",
    "最新资讯",
    "网友评论",
    "发表评论",
    "评论列表",
    "我要评论",
    "热门评论",
    "最新评论",
    "相关阅读推荐",
)
_BOILERPLATE_MAX_LEN = 100  # a boilerplate line is short; longer lines are article text

ASCII_WS = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\ufeff]+")
_CJK = r"\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
# Markup often wraps long Chinese lines in the source; such a line break is not a space.
WRAP = "\x00"
SOURCE_WRAP = re.compile(r"[ \t\r\f\v]*\n[ \t\r\n\f\v]*")
_WRAP_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]){WRAP}+(?=[{_CJK}])")
_STRIP = " \t\r\n\u3000\u00a0\u200b\ufeff"


def is_tail_marker(line: str) -> bool:
    """True for a short heading such as "相关阅读" after which a page lists other pages."""
    core = line.strip("：:【】[]〖〗()（）>》·-— ")
    return len(core) <= 10 and any(core.startswith(m) for m in _TAIL_MARKERS)


def norm_line(text: str) -> str:
    """Collapse whitespace, join source-wrapped Chinese, strip the line (full-width spaces too)."""
    text = _WRAP_BETWEEN_CJK.sub("", text).replace(WRAP, " ")
    text = ASCII_WS.sub(" ", text)
    return text.strip(_STRIP)


def is_boilerplate(line: str) -> bool:
    """True for a short line of navigation, paging, sharing, credits or footer."""
    core = line.lstrip("【[〖(（ ·|")
    if core.startswith(_PAGING_WORDS) and len(line) <= 300:
        return True  # paging links carry whole titles, so they may be long
    if len(line) > _BOILERPLATE_MAX_LEN:
        return False
    if core.startswith(_LEAD_WORDS) or _FOOTER_RE.search(line) or is_tail_marker(line):
        return True
    return len(_NAV_WORDS.sub("", line)) < 2


def filter_lines(lines: list[str]) -> list[str]:
    """Drop boilerplate lines, and the short list lines that follow a tail marker."""
    kept: list[str] = []
    in_tail = False
    for line in lines:
        if is_tail_marker(line):
            in_tail = True
            continue
        if in_tail:
            if len(line) < 50:
                continue
            in_tail = False
        if is_boilerplate(line):
            continue
        kept.append(line)
    return kept
