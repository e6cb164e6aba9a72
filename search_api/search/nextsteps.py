"""What a worker can do next: the common troubles and the "next steps" panel.

The panel's lines are drawn from the articles themselves: each line names the article
that says it and links to it, and a line whose article is missing from the index is
dropped rather than shown without its source. Article numbers were checked against the
corpus files (劳动争议调解仲裁法 第二十一/二十七/五十三条, 法律援助法 第三十一/四十二条).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from search_api.engines.base import SearchEngine
from search_api.search.present import display_title, doc_url


@dataclass(frozen=True)
class Trouble:
    """An entry point on the home page: a label, a real query it runs, and a hint."""

    label: str
    query: str
    hint: str
    topic: str


# The queries were chosen so that the first screen answers with the governing articles.
COMMON_TROUBLES: tuple[Trouble, ...] = (
    Trouble("拖欠工资", "公司拖欠工资怎么办", "工资被拖欠、克扣，老板跑路", "wage_arrears"),
    Trouble("工伤", "工伤认定", "上班受伤、职业病、工伤认定", "work_injury"),
    Trouble("辞退与补偿", "经济补偿金怎么算", "被辞退、解除合同、经济补偿", "dismissal"),
    Trouble("社保", "公司不交社保怎么办", "不交、少交社保，补缴", "social_insurance"),
    Trouble("加班与休息", "加班费怎么算", "加班费、休息日、年休假", "overtime_hours"),
    Trouble("女职工", "女职工怀孕产假", "孕期、产假、哺乳期保护", "female_workers"),
    Trouble("劳动合同", "不签劳动合同双倍工资", "不签合同、试用期、续签", "labor_contract"),
    Trouble("劳务派遣", "劳务派遣", "派遣工同工同酬、退回", "dispatch"),
    Trouble("破产欠薪", "公司破产欠的工资", "企业倒闭、破产时的工资", "bankruptcy"),
)


@dataclass(frozen=True)
class Step:
    """One line of the panel: what to know, and the article that says so."""

    text: str
    article_id: str


STEPS: tuple[Step, ...] = (
    Step(
        "申请劳动仲裁的时效是一年，从知道或者应当知道权利被侵害之日起算。", "labor-dispute-mediation-arbitration-law.27"
    ),
    Step("劳动争议仲裁不收费。", "labor-dispute-mediation-arbitration-law.53"),
    Step("向劳动合同履行地或者用人单位所在地的劳动争议仲裁委员会申请。", "labor-dispute-mediation-arbitration-law.21"),
    Step("请求支付劳动报酬、确认劳动关系、社会保险待遇、工伤赔偿，经济困难的可以申请法律援助。", "legal-aid-law.31"),
    Step("进城务工人员申请支付劳动报酬或者工伤赔偿的，免予核查经济困难状况。", "legal-aid-law.42"),
)


@dataclass(frozen=True)
class Hotline:
    number: str
    name: str


HOTLINES: tuple[Hotline, ...] = (
    Hotline("12351", "工会职工服务热线"),
    Hotline("12333", "人力资源社会保障（劳动保障）咨询"),
    Hotline("12348", "公共法律服务（法律援助）"),
)

# Topics whose questions are disputes with an employer: the panel is shown for them.
DISPUTE_TOPICS = frozenset(
    {
        "wage_arrears",
        "work_injury",
        "dismissal",
        "bankruptcy",
        "social_insurance",
        "overtime_hours",
        "female_workers",
        "dispatch",
        "employment_relation",
        "labor_contract",
        "leave",
        "occupational_disease",
        "discrimination",
        "non_compete",
        "dispute_resolution",
    }
)
# Everyday words that mark a question about what to do, whatever the topic.
DISPUTE_WORDS = (
    "怎么办",
    "找谁",
    "去哪",
    "投诉",
    "举报",
    "仲裁",
    "起诉",
    "告公司",
    "告老板",
    "打官司",
    "维权",
    "赔偿",
    "不给",
    "拖欠",
    "欠薪",
    "欠工资",
    "跑路",
)


def is_dispute_question(q: str, topics: Iterable[str]) -> bool:
    """True when the panel helps: the query is about a dispute topic or asks what to do."""
    return bool(DISPUTE_TOPICS.intersection(topics)) or any(w in q for w in DISPUTE_WORDS)


def next_steps(engine: SearchEngine) -> dict:
    """The panel's data: lines whose article is in the index, each with its link, plus the hotlines."""
    docs = {d.id: d for d in engine.get_many([s.article_id for s in STEPS])}
    lines = [
        {"text": s.text, "url": doc_url(s.article_id), "source": display_title(docs[s.article_id])}
        for s in STEPS
        if s.article_id in docs
    ]
    return {"steps": lines, "hotlines": HOTLINES}
