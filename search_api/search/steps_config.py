"""The two files behind the next-steps panel, read and checked once at start-up.

``nextsteps.yaml`` (in the lexicon directory, beside topics.txt; ``LABOURKB_NEXT_STEPS_FILE`` replaces it)
says, per topic of the lexicon (ingest/resources/lexicon/topics.txt), what a worker must know
next: the deadlines, each with the article that sets it; where to go; what evidence to keep;
which calculators help. ``LABOURKB_DISTRICT_CONTACTS_FILE`` (unset: no contacts) holds each
district's own addresses and phone numbers, which only the union knows; the example,
docs/district-contacts.example.yaml, is marked as an example and holds no real numbers.

Any mistake stops the start with ``file:line: what is wrong`` (``StepsConfigError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.resources import LEXICON_DIR
from search_api.errors import AppError

NEXT_STEPS_NAME = "nextsteps.yaml"
DEFAULT_NEXT_STEPS = LEXICON_DIR / NEXT_STEPS_NAME
SECTIONS = ("deadlines", "where", "evidence")
TOPIC_KEYS = {"name", "also", "calculators", *SECTIONS}
LINE_KEYS = {"text", "article"}
CONTACT_KEYS = {"district", "name", "address", "phone", "hours", "note"}
_ARTICLE_ID = re.compile(r"^[a-z0-9-]+\.\d+$")
_PHONE = re.compile(r"^[0-9+\-() ]{3,30}$")


class StepsConfigError(AppError):
    """A next-steps or contacts file cannot be used; the message names the file and line."""

    status = 500


@dataclass(frozen=True)
class Line:
    """One thing to know, and the article that says so (None: practical advice, no article)."""

    text: str
    article: str | None = None


@dataclass(frozen=True)
class TopicSteps:
    topic: str
    name: str
    deadlines: tuple[Line, ...] = ()
    where: tuple[Line, ...] = ()
    evidence: tuple[Line, ...] = ()
    calculators: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # further lexicon topics this entry answers (occupational_disease → work injury)


@dataclass(frozen=True)
class NextSteps:
    general: TopicSteps
    topics: dict[str, TopicSteps] = field(default_factory=dict)

    def for_topics(self, topics: Iterable[str]) -> TopicSteps | None:
        """The entry for the first topic that has one (topics come best first)."""
        for t in topics:
            for entry in self.topics.values():
                if t == entry.topic or t in entry.also:
                    return entry
        return None

    def article_ids(self) -> set[str]:
        entries = [self.general, *self.topics.values()]
        return {ln.article for e in entries for s in SECTIONS for ln in getattr(e, s) if ln.article}


@dataclass(frozen=True)
class Contact:
    district: str
    name: str
    address: str = ""
    phone: str = ""
    hours: str = ""
    note: str = ""


def _compose(path: Path) -> yaml.Node | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StepsConfigError(f"{path}: 无法读取配置文件：{exc}") from exc
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise StepsConfigError(f"{where}: 不是有效的 YAML：{getattr(exc, 'problem', exc)}") from exc


def _fail(path: Path, node: yaml.Node, message: str) -> StepsConfigError:
    return StepsConfigError(f"{path}:{node.start_mark.line + 1}: {message}")


def _mapping(
    path: Path, node: yaml.Node, allowed: set[str] | None, what: str
) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, f"{what}须是“键: 值”的映射")
    out = {k.value: (k, v) for k, v in node.value}
    unknown = sorted(set(out) - allowed) if allowed is not None else []
    if unknown:
        raise _fail(path, out[unknown[0]][0], f"不认识的字段 {unknown[0]}（可用：{'、'.join(sorted(allowed))}）")
    return out


def _text(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise _fail(path, node, f"{what}须是非空文字")
    return str(node.value).strip()


def _sequence(path: Path, node: yaml.Node, what: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(path, node, f"{what}须是列表（每项以 - 开头）")
    return node.value


def _line(path: Path, node: yaml.Node) -> Line:
    if isinstance(node, yaml.ScalarNode):
        return Line(_text(path, node, "这一项"))
    keys = _mapping(path, node, LINE_KEYS, "这一项")
    if "text" not in keys:
        raise _fail(path, node, "缺少字段 text")
    article = None
    if "article" in keys:
        article = _text(path, keys["article"][1], "article")
        if not _ARTICLE_ID.match(article):
            raise _fail(
                path, keys["article"][1], f"article 须是条文编号，例如 labor-contract-law.47，而不是 {article!r}"
            )
    return Line(_text(path, keys["text"][1], "text"), article)


def _entry(path: Path, topic: str, node: yaml.Node, topic_ids: set[str] | None, calculators: set[str] | None):
    keys = _mapping(path, node, TOPIC_KEYS, f"主题 {topic} ")
    values: dict[str, Any] = {"topic": topic, "name": _text(path, keys["name"][1], "name") if "name" in keys else ""}
    for section in SECTIONS:
        if section in keys:
            values[section] = tuple(_line(path, n) for n in _sequence(path, keys[section][1], section))
    for name, known in (("calculators", calculators), ("also", topic_ids)):
        if name in keys:
            items = [_text(path, n, name) for n in _sequence(path, keys[name][1], name)]
            for node, item in zip(keys[name][1].value, items, strict=True):
                if known is not None and item not in known:
                    raise _fail(path, node, f"{name} 里的 {item} 不存在（可用：{'、'.join(sorted(known))}）")
            values[name] = tuple(items)
    return TopicSteps(**values)


def load_next_steps(
    path: Path | None = None, topic_ids: Iterable[str] | None = None, calculators: Iterable[str] | None = None
) -> NextSteps:
    """The next-steps file (default: the packaged one), checked against the lexicon's topics and the calculators."""
    path = Path(path or DEFAULT_NEXT_STEPS)
    known = set(topic_ids) if topic_ids is not None else None
    calcs = set(calculators) if calculators is not None else None
    root = _compose(path)
    if root is None:
        raise StepsConfigError(f"{path}:1: 文件是空的，须有 general: 和 topics:")
    keys = _mapping(path, root, {"general", "topics"}, "文件")
    if "general" not in keys:
        raise _fail(path, root, "缺少 general:（每个纠纷问题都显示的几条）")
    general = _entry(path, "general", keys["general"][1], known, calcs)
    topics: dict[str, TopicSteps] = {}
    if "topics" in keys:
        for k, v in _mapping(path, keys["topics"][1], None, "topics").values():
            if known is not None and k.value not in known:
                raise _fail(path, k, f"主题 {k.value} 不在 topics.txt 里（可用：{'、'.join(sorted(known))}）")
            topics[k.value] = _entry(path, k.value, v, known, calcs)
    return NextSteps(general, topics)


def load_contacts(path: Path | None, districts: Iterable[str]) -> dict[str, list[Contact]]:
    """district → its contacts from the union's file (empty when ``path`` is None)."""
    if path is None:
        return {}
    root = _compose(Path(path))
    if root is None:
        return {}
    keys = _mapping(path, root, {"contacts"}, "文件")
    if "contacts" not in keys:
        raise _fail(path, root, "文件须以 contacts: 开头（见 docs/district-contacts.example.yaml）")
    known = list(districts)
    out: dict[str, list[Contact]] = {}
    for item in _sequence(path, keys["contacts"][1], "contacts"):
        fields = _mapping(path, item, CONTACT_KEYS, "每个联系方式")
        for required in ("district", "name"):
            if required not in fields:
                raise _fail(path, item, f"缺少字段 {required}")
        values = {k: _text(path, v, k) for k, (_, v) in fields.items()}
        if values["district"] not in known:
            raise _fail(
                path, fields["district"][1], f"区 {values['district']} 不在 LABOURKB_DISTRICTS 里（{'、'.join(known)}）"
            )
        if "phone" in values and not _PHONE.match(values["phone"]):
            raise _fail(path, fields["phone"][1], f"phone 须是电话号码（数字、-、空格），而不是 {values['phone']!r}")
        if not values.get("address") and not values.get("phone"):
            raise _fail(path, item, "address 和 phone 至少要填一个")
        out.setdefault(values["district"], []).append(Contact(**values))
    return out


def load_for(
    settings: Any, topic_ids: Iterable[str], calculators: Iterable[str]
) -> tuple[NextSteps, dict[str, list[Contact]]]:
    """Both files as the settings name them; the next steps default to the lexicon directory's (or the packaged)."""
    path = settings.next_steps_file
    if path is None:
        own = Path(settings.lexicon_dir) / NEXT_STEPS_NAME
        path = own if own.exists() else DEFAULT_NEXT_STEPS
    return (
        load_next_steps(path, topic_ids, calculators),
        load_contacts(settings.district_contacts_file, settings.district_list),
    )
