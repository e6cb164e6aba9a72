"""What a worker can do next: the common troubles and the "next steps" panel for their problem.

The panel's lines come from the next-steps file (``steps_config``; by topic of the lexicon):
each line names the article that says it and links to it. The hotlines below are national
numbers; a district's own addresses come from the union's contacts file.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from search_api.engines.base import SearchEngine
from search_api.search.present import display_title, doc_url
from search_api.search.steps_config import SECTIONS, Contact, Line, NextSteps


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
class Hotline:
    number: str
    name: str


HOTLINES: tuple[Hotline, ...] = (
    Hotline("12351", "工会职工服务热线"),
    Hotline("12333", "人力资源社会保障（劳动保障）咨询"),
    Hotline("12348", "公共法律服务（法律援助）"),
)

# 找工会帮忙: there is no help-request page yet, so the link calls the union's hotline.
HELP_LINK = {"url": "/help", "text": "找工会帮忙：在线提交求助，所在区的工会工作人员给您回电"}

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


class _ArticleTitles:
    """The display titles of the articles the panels cite, per engine, for one generation of its
    index (``SearchEngine.generation``; an engine without one: read each time). Reading the
    articles for every page was a quarter of a result page's time, even for only the cited ones."""

    def __init__(self) -> None:
        self._held: weakref.WeakKeyDictionary[SearchEngine, tuple[Hashable, dict[str, str | None]]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def of(self, engine: SearchEngine, ids: Iterable[str]) -> dict[str, str | None]:
        try:
            generation = engine.generation()
        except Exception:  # the page's search says what is wrong with the engine
            generation = None
        with self._lock:
            held = self._held.get(engine)
            if generation is None or held is None or held[0] != generation:
                held = (generation, {})
                if generation is not None:
                    self._held[engine] = held
        titles = held[1]
        missing = sorted(set(ids) - titles.keys())
        if missing:
            docs = {d.id: d for d in engine.get_many(missing)}
            titles.update({i: display_title(docs[i]) if i in docs else None for i in missing})
        return titles


_TITLES = _ArticleTitles()


def next_steps(
    engine: SearchEngine,
    config: NextSteps,
    topics: Iterable[str] = (),
    contacts: Iterable[Contact] = (),
    calculators: Mapping[str, str] | None = None,
) -> dict:
    """The panel for a question's topics (best first): its deadlines, where to go, evidence, calculators.

    The topic's own lines come first, then the general ones (arbitration, legal aid) whose article
    the topic did not already cite. A line whose article is missing from the index is dropped
    rather than shown without its source. ``calculators``: name → title of the calculators that
    exist; ``contacts``: the worker's district's own addresses and numbers (none: not shown).
    """
    entry = config.for_topics(topics)
    general = config.general
    sections, more = {}, {}
    for name in SECTIONS:
        own = list(getattr(entry, name)) if entry else []
        cited = {ln.article for ln in own if ln.article}
        rest = [ln for ln in getattr(general, name) if not ln.article or ln.article not in cited]
        # the topic's own lines first; the general ones fold away under them (the panel stays short on a phone)
        sections[name], more[name] = (own, rest) if own else (rest, [])
    wanted = {ln.article for part in (sections, more) for lines in part.values() for ln in lines if ln.article}
    titles = _TITLES.of(engine, wanted)

    def shown(line: Line) -> dict | None:
        if line.article is None:
            return {"text": line.text}
        title = titles.get(line.article)
        return {"text": line.text, "url": doc_url(line.article), "source": title} if title else None

    out = {name: [x for x in map(shown, lines) if x] for name, lines in sections.items()}
    folded = {f"{name}_more": [x for x in map(shown, lines) if x] for name, lines in more.items()}
    titles = calculators or {}
    names = (entry.calculators if entry else ()) or general.calculators
    return {
        "topic": entry.topic if entry else None,
        "heading": f"{entry.name}：下一步怎么办" if entry else "遇到劳动纠纷，下一步怎么办",
        "steps": out["deadlines"] + out["where"],  # the lines shown unfolded, in reading order
        **out,
        **folded,
        "calculators": [{"url": f"/calc/{n}", "title": titles[n]} for n in names if n in titles],
        "contacts": list(contacts),
        "hotlines": HOTLINES,
        "help": HELP_LINK,
    }
