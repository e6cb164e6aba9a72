"""The case template (modelled on the Supreme People's Court's typical-case format) and its validation.

``diff_versions`` compares two versions field by field for the reviewer.

``validate_case`` never raises on user input: it returns the cleaned data and a
``{field: Chinese message}`` dict, so the form can be shown again with everything
the lawyer typed and an error next to each bad field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# (name, label, long text?) in form order.
TEMPLATE: tuple[tuple[str, str, bool], ...] = (
    ("title", "标题", False),
    ("case_no", "案号", False),
    ("court", "法院", False),
    ("judgment_date", "裁判日期", False),
    ("region", "地区", False),
    ("keywords", "关键词", False),
    ("gist", "裁判要点", True),
    ("facts", "基本案情", True),
    ("issues", "争议焦点", True),
    ("result", "裁判结果", True),
    ("reasoning", "裁判理由", True),
    ("related_laws", "相关法条", True),
    ("annotation", "律师解读", True),
    ("source", "来源", False),
)
FIELDS = tuple(name for name, _, _ in TEMPLATE)
FIELD_LABELS = {name: label for name, label, _ in TEMPLATE}
LONG_FIELDS = tuple(name for name, _, long in TEMPLATE if long)
# Fields that become ``Document.sections`` (keyed by their Chinese label).
SECTION_FIELDS = ("keywords", "gist", "facts", "issues", "result", "reasoning", "related_laws")

# A draft needs only a title; submitting for review needs the whole template.
DRAFT_REQUIRED = ("title",)
SUBMIT_REQUIRED = ("title", "court", "judgment_date", "gist", "facts", "result", "reasoning", "annotation")

MAX_KEYWORDS = 7
MAX_KEYWORD_CHARS = 20
MAX_SHORT_CHARS = 300
MAX_FIELD_BYTES = 200 * 1024
EARLIEST_JUDGMENT = date(1949, 10, 1)

_KEYWORD_SPLIT = re.compile(r"[,，、;；\s]+")
# C0/C1 controls except tab and newline: invisible, and some break XML/JSON consumers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def split_keywords(value: Any) -> list[str] | None:
    """Keywords from a list or a 、/，-separated string, de-duplicated in order; None if neither."""
    if isinstance(value, str):
        items = _KEYWORD_SPLIT.split(value)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [part for v in value for part in _KEYWORD_SPLIT.split(v)]
    else:
        return None
    return list(dict.fromkeys(k.strip() for k in items if k.strip()))


def _clean_text(value: str, multiline: bool) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    if not multiline:
        value = " ".join(value.split())
    return value.strip()


def validate_case(
    raw: Mapping[str, Any],
    *,
    complete: bool,
    today: date,
    bad_utf8: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean and check case fields. Returns ``(data, errors)``; ``errors`` is empty when valid.

    ``complete`` asks for the whole template (submitting); otherwise a title suffices
    (saving a draft). ``bad_utf8`` names fields whose bytes were not valid UTF-8.
    Unknown keys are ignored.
    """
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in bad_utf8:
        if name in FIELD_LABELS:
            errors[name] = f"{FIELD_LABELS[name]}含有无效的 UTF-8 字符，请重新输入"
    for name, label, long in TEMPLATE:
        value = raw.get(name)
        if value is None:
            value = ""
        if name == "keywords":
            keywords = split_keywords(value)
            if keywords is None:
                errors.setdefault(name, "关键词须为文本或文本列表")
                keywords = []
            data[name] = keywords
            if len(keywords) > MAX_KEYWORDS:
                errors.setdefault(name, f"关键词最多 {MAX_KEYWORDS} 个（现有 {len(keywords)} 个）")
            elif any(len(k) > MAX_KEYWORD_CHARS for k in keywords):
                errors.setdefault(name, f"每个关键词不超过 {MAX_KEYWORD_CHARS} 字")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            errors.setdefault(name, f"{label}须为文本")
            data[name] = ""
            continue
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates, e.g. "\ud800" in JSON
            errors.setdefault(name, f"{label}含有无效的 UTF-8 字符，请重新输入")
            data[name] = value.encode("utf-8", "replace").decode("utf-8")
            continue
        if size > MAX_FIELD_BYTES:
            errors.setdefault(name, f"{label}过长（{size // 1024} KB，上限 {MAX_FIELD_BYTES // 1024} KB）")
        value = _clean_text(value, long)
        if not long and len(value) > MAX_SHORT_CHARS:
            errors.setdefault(name, f"{label}不超过 {MAX_SHORT_CHARS} 字")
        data[name] = value

    for name in SUBMIT_REQUIRED if complete else DRAFT_REQUIRED:
        if not data.get(name):
            errors.setdefault(name, f"请填写{FIELD_LABELS[name]}")

    if data.get("judgment_date") and "judgment_date" not in errors:
        try:
            when = date.fromisoformat(data["judgment_date"])
        except ValueError:
            errors["judgment_date"] = "裁判日期格式应为 YYYY-MM-DD，例如 2023-05-18"
        else:
            data["judgment_date"] = when.isoformat()
            if when > today:
                errors["judgment_date"] = "裁判日期不能晚于今天"
            elif when < EARLIEST_JUDGMENT:
                errors["judgment_date"] = "裁判日期不能早于 1949-10-01"
    if not data.get("region"):
        data["region"] = "全国"
    source = data.get("source", "")
    if (
        source
        and re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", source)
        and not re.match(r"^https?://", source, re.IGNORECASE)
    ):
        errors.setdefault("source", "来源链接只能是 http:// 或 https:// 地址")
    return data, errors


# ---- diffs --------------------------------------------------------------------


@dataclass
class FieldDiff:
    """Changed lines of one field; ``lines`` are ``(kind, text)`` with kind add/del/ctx/hunk."""

    name: str
    label: str
    lines: list[tuple[str, str]] = field(default_factory=list)


def _as_lines(value: Any) -> list[str]:
    if isinstance(value, list):
        value = "、".join(value)
    return str(value or "").splitlines()


def diff_versions(old: Any, new: Any) -> list[FieldDiff]:
    """Per-field unified diffs between two versions (only changed fields). Text stays unescaped:
    templates escape it, so a diff of hostile text is as inert as the text itself."""
    out = []
    for name in FIELDS:
        a, b = _as_lines(old.data.get(name)), _as_lines(new.data.get(name))
        if a == b:
            continue
        diff = FieldDiff(name, FIELD_LABELS[name])
        for line in list(difflib.unified_diff(a, b, lineterm="", n=2))[2:]:
            kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
            diff.lines.append((kind, line[1:] if kind != "hunk" else line))
        out.append(diff)
    return out


def diff_text(old: Any, new: Any) -> str:
    """The same diff as plain unified-diff text (for the API)."""
    chunks = []
    for d in diff_versions(old, new):
        prefix = {"add": "+", "del": "-", "ctx": " ", "hunk": ""}
        chunks.append(f"### {d.label}\n" + "\n".join(prefix[k] + t for k, t in d.lines))
    return "\n".join(chunks)
