"""Plain-text pages from hacked portals: tag debris, link farms and unrelated tails are not the article."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.textpage import bigrams, clean_text, drop_unrelated_tail, is_link_farm, looks_like_link_list

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "shanghai-union-online-news.txt"

TITLE = "市总工会开展夏季高温送清凉活动"
BODY = [
    "2024-07-15 来源：市总工会",
    "　　连日来，本市持续高温，市总工会组织各级工会深入建筑工地、快递站点和环卫作业一线，为高温下坚守岗位的职工送去清凉慰问品。",
    "　　市总工会有关负责人表示，用人单位安排劳动者在高温天气下露天作业的，应当依法发放高温津贴，并合理调整作息时间，不得因高温停止工作而扣减职工工资。",
    "　　据统计，今年以来全市各级工会共慰问高温作业职工十二万人次，发放慰问金和防暑降温用品价值三千余万元，职工普遍反映工会的关心很及时。",
    "　　下一步，市总工会将会同人力资源社会保障部门开展高温津贴发放情况专项检查，督促用人单位落实防暑降温措施，切实维护职工的劳动安全卫生权益。",
]
KEEP = [
    "应当依法发放高温津贴，并合理调整作息时间",
    "切实维护职工的劳动安全卫生权益。",
    "全市各级工会共慰问高温作业职工十二万人次",
]

# Invented spam, in the shapes hacked portals append.
PIPE_FARM = "{lead}深夜福利影院高清在线|美女主播私密直播间|澳门皇冠赌场官方网站|真人百家乐开户送彩金|午夜剧场免费观看全集|私人影院无删减版本"
COMMA_FARM = (
    "{lead}极品美女写真大全，午夜激情视频合集，成人影院免费入口，同城交友约会平台，夜场美女陪聊热线，私密视频一键下载"
)
MIXED_FARM = (
    "热门标签：网上赌场注册送金_时时彩计划软件、老虎机在线试玩——百家乐必胜技巧／体育博彩平台推荐_六合彩特码资料"
)
SPACED_FARM = "深夜影院在线看 美女直播免费看 皇冠体育投注网 百家乐开户平台 午夜福利视频网 私密相册合集下载"
UNRELATED_TAIL = [
    "最新高清电影抢先看，海量影视资源每日更新，精彩剧集一网打尽，点击即可免费播放！",
    "注册即送豪华大礼包，百家乐、老虎机、体育竞猜应有尽有，充值返利天天领，老玩家推荐新玩家再送现金。",
]
DEBRIS = [
    '<pre id="qx27"><cite id="qx27"></cite></pre>',
    '<td id="k3m"><em id="k3m"></em></td>',
    "<span id=ab9><sub id=ab9></sub></span><!-- x -->",
]
SPAM_WORDS = (
    "影院",
    "主播",
    "赌场",
    "百家乐",
    "彩金",
    "写真",
    "交友",
    "博彩",
    "六合彩",
    "电影",
    "大礼包",
    "<",
    ">",
    "id=",
)


def _page(top: list[str], bottom: list[str]) -> str:
    return "\n".join([*top, TITLE, *BODY, *bottom]) + "\n"


def _check(raw: str) -> str:
    title, text = clean_text(raw)
    assert title == TITLE
    flat = re.sub(r"\s+", "", text)
    for sentence in KEEP:
        assert re.sub(r"\s+", "", sentence) in flat
    left = [w for w in SPAM_WORDS if w in text]
    assert not left, f"spam left: {left}\n{text}"
    assert text.split("\n\n")[-1].endswith("切实维护职工的劳动安全卫生权益。")
    return text


@pytest.mark.parametrize(
    ("top", "bottom"),
    [
        # pipe farm after a lead, comma farm under a "related" lead, debris at both ends
        ([DEBRIS[0]], [PIPE_FARM.format(lead="本站蜘蛛池模板:"), COMMA_FARM.format(lead="相关文章："), DEBRIS[1]]),
        ([DEBRIS[1], DEBRIS[2]], [COMMA_FARM.format(lead=""), PIPE_FARM.format(lead=""), DEBRIS[0]]),
        ([], [MIXED_FARM, DEBRIS[2]]),
        ([DEBRIS[0]], [SPACED_FARM, COMMA_FARM.format(lead="友情链接:")]),
        # no separators at all: only the vocabulary gives the appended block away
        ([DEBRIS[2]], [*UNRELATED_TAIL, DEBRIS[1]]),
        ([], [UNRELATED_TAIL[0], PIPE_FARM.format(lead="热门推荐："), UNRELATED_TAIL[1]]),
    ],
    ids=["lead-pipe-comma", "no-lead", "mixed-separators", "spaced", "unrelated-block", "block-and-farm"],
)
def test_spam_appended_to_a_text_page_is_dropped(top: list[str], bottom: list[str]) -> None:
    _check(_page(top, bottom))


def test_debris_inside_a_line_leaves_its_text() -> None:
    text = _check(_page([], []).replace("职工送去清凉慰问品", '职工送去<cite id="r1"></cite>清凉慰问品'))
    assert "职工送去 清凉慰问品" in text or "职工送去清凉慰问品" in text


def test_farm_in_the_middle_of_the_page_is_dropped() -> None:
    raw = _page([], []).replace(BODY[2], BODY[2] + "\n" + PIPE_FARM.format(lead=""))
    _check(raw)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared/samples text page not found")
@pytest.mark.parametrize(
    "bottom",
    [
        [PIPE_FARM.format(lead="主站模板:"), COMMA_FARM.format(lead="相关阅读:"), DEBRIS[1]],
        UNRELATED_TAIL,
    ],
)
def test_the_real_sample_with_spam_spliced_after_its_article(bottom: list[str]) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").split("\n")
    end = next(i for i, ln in enumerate(lines) if ln.startswith("原文地址"))
    raw = "\n".join([DEBRIS[0], *lines[:end], *bottom, *lines[end:]])
    title, text = clean_text(raw)
    assert title == "上海市总:让职工收获8小时之外的温暖与幸福"
    assert text.split("\n\n")[-1].endswith("“申工社APP负责人说道。")
    assert "以往,工会法律援助都是在纸面上进行的。" in text
    assert not [w for w in SPAM_WORDS if w in text]


# --- what must stay --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "用人单位应当依法为职工缴纳养老保险、医疗保险、失业保险、工伤保险和生育保险。",
        "获奖个人：张三、李四、王五、赵六、钱七、孙八",
        "2016/10/24 16:4 来源:劳动法苑",
        "工会 上海市",
        "本市各区总工会、产业工会、基层工会，各有关单位：",
    ],
)
def test_sentences_and_short_lists_are_not_link_farms(line: str) -> None:
    assert not looks_like_link_list(line)
    assert not is_link_farm(line)


def test_a_list_of_the_articles_own_topics_is_not_a_farm() -> None:
    topics = "高温津贴、防暑降温、作息时间、劳动安全卫生、专项检查、工会慰问"
    assert looks_like_link_list(topics)
    assert not is_link_farm(topics, vocabulary=bigrams("".join(BODY)))
    assert is_link_farm(COMMA_FARM.format(lead=""), vocabulary=bigrams("".join(BODY)))
    _, text = clean_text(_page([], []).replace(BODY[1], BODY[1] + "\n" + topics))
    assert topics in text.split("\n\n")


def test_a_related_last_paragraph_and_short_closing_lines_stay() -> None:
    closing = [
        "　　市总工会提醒，职工在高温天气下工作遇到用人单位不发高温津贴的，可拨打工会服务热线反映。",
        "（记者 王小明）",
    ]
    _title, text = clean_text(_page([], closing))
    assert text.split("\n\n")[-2:] == [c.strip("　") for c in closing]


def test_unrelated_block_is_cut_even_when_its_lines_share_words_with_each_other() -> None:
    paragraphs = [p.strip("　") for p in BODY]
    spam = [UNRELATED_TAIL[1], "百家乐、老虎机、体育竞猜，注册即送豪华大礼包，充值返利天天领现金。", UNRELATED_TAIL[0]]
    assert drop_unrelated_tail(paragraphs + spam, TITLE) == paragraphs
    assert drop_unrelated_tail(paragraphs, TITLE) == paragraphs


def test_unrelated_tail_rule_needs_an_article_to_compare_with() -> None:
    assert drop_unrelated_tail(["短文。", UNRELATED_TAIL[0]]) == ["短文。", UNRELATED_TAIL[0]]


def test_importable_from_the_html_cleaner_module_too() -> None:
    from ingest import clean

    assert clean.clean_text is clean_text
