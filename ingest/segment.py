"""Turn a loaded source into documents: a law into one document per article plus the
whole law; a case into one document with its sections as fields; news and policy whole.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.model import LAW_TYPES, BadDocument, Document, RawDocument
from ingest.numerals import NUMERAL_CHARS, cn_to_int, int_to_cn

_ARTICLE_START = re.compile(rf"^\s*第([{NUMERAL_CHARS}0-9]+)条(?:[\s\u3000]+|$)")
_HEADING = re.compile(r"^(#{1,6})\s*(.+?)\s*$")
_STRUCT = re.compile(rf"^第[{NUMERAL_CHARS}0-9０-９]+(分编|编|章|节)")
# Rank of a structural unit, outermost first; a heading closes every unit at or below its rank.
_STRUCT_RANK = {"编": 1, "分编": 2, "章": 3, "节": 4}
_STRUCT_TITLE_MAX = 40  # "第三章 劳动合同、劳务派遣协议的订立和履行" is long for a heading title
# A heading title is a name, not a sentence.
_SENTENCE_PUNCT = re.compile(r"[，。；：！？,;:!?]")
# A title written without a gap after its number never starts with a particle or a
# conjunction: "第三章的规定", "第三章、第四章", "第二节规定的" are sentences citing a unit.
_NOT_A_TITLE_START = tuple("的之所中第、和及与或至规以")
_EMPHASIS = "*_ \t\r\u3000\u00a0"
_CASE_NO = re.compile(r"指导案例\s*(\d+)\s*号")
_COMMENT = re.compile(r"<!--.*?-->", re.S)

# Provinces and the cities of the corpus, for the region filter of local regulations.
PROVINCES = (
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
)
CITIES = {
    "郑州": "河南",
    "洛阳": "河南",
    "杭州": "浙江",
    "宁波": "浙江",
    "温州": "浙江",
    "青岛": "山东",
    "济南": "山东",
    "广州": "广东",
    "深圳": "广东",
    "南京": "江苏",
    "苏州": "江苏",
    "成都": "四川",
    "武汉": "湖北",
}

# Static ranking priors: authority of the source and usefulness of the unit for a question.
PRIORS = {
    "law": 1.0,
    "judicial_interpretation": 0.95,
    "administrative_regulation": 0.95,
    "departmental_rule": 0.85,
    "local_regulation": 0.55,
    # Cases come after the article that answers a question (they are shown with it),
    # unless the question is about a case's own situation.
    "guiding_case": 0.7,
    "typical_case": 0.66,
    "lawyer_case": 0.66,
    "policy": 0.6,
    "news": 0.4,
}
WHOLE_LAW_FACTOR = 0.35  # the whole-law document ranks below its articles for questions
# A law no longer in force still answers "what did the old rule say", but never before the
# law in force: its documents keep a quarter of their prior.
REPEALED_FACTOR = 0.25
REPEALED_STATUSES = frozenset({"repealed", "废止", "已废止", "失效", "已失效"})


def short_title(title: str) -> str:
    return title[len("中华人民共和国") :] if title.startswith("中华人民共和国") else title


def region_of(title: str) -> str:
    for city, province in CITIES.items():
        if title.startswith(city):
            return province
    for p in PROVINCES:
        if title.startswith(p):
            return p
    return "全国"


def _str(meta: dict[str, Any], key: str) -> str:
    v = meta.get(key)
    return "" if v is None else str(v)


def _strip_markdown(body: str) -> str:
    """Display text: comments and '#' heading marks removed, paragraphs kept."""
    body = _COMMENT.sub("", body)
    lines = [(_HEADING.sub(r"\2", ln) if ln.startswith("#") else ln).rstrip() for ln in body.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def structure_heading(line: str, markdown: bool = False) -> tuple[int, str] | None:
    """``(rank, text)`` when ``line`` is a 编/分编/章/节 heading, else None.

    A heading is recognised by its numbering, whatever the source format: a Markdown
    heading's text (``markdown=True``) only has to start with it; a plain line (from a
    Markdown body, an HTML page or a text file) must be the numbering alone or followed by
    a short title that is not a sentence. ``text`` is "第三章 劳动合同的订立" with single spaces.
    """
    line = line.strip(_EMPHASIS)
    m = _STRUCT.match(line)
    if not m:
        return None
    title = line[m.end() :]
    gap = title[:1].isspace()
    title = title.strip(_EMPHASIS)
    if (
        not markdown
        and title
        and (
            len(title) > _STRUCT_TITLE_MAX
            or _SENTENCE_PUNCT.search(title)
            or (not gap and title.startswith(_NOT_A_TITLE_START))
        )
    ):
        return None
    text = re.sub(r"[\s\u3000]+", " ", f"{m.group(0)} {title}".strip())
    return _STRUCT_RANK[m.group(1)], text


def segment(raw: RawDocument) -> list[Document]:
    """Documents for one source file. Raises ``BadDocument`` when the file has nothing usable."""
    kind = _str(raw.meta, "kind")
    if kind in LAW_TYPES:
        return segment_law(raw)
    if kind in ("guiding_case", "typical_case", "case"):
        return [segment_case(raw)]
    return [segment_whole(raw)]


def _base(raw: RawDocument, **fields: Any) -> Document:
    return Document(source_path=raw.path, content_hash=raw.content_hash, **fields)


def segment_law(raw: RawDocument) -> list[Document]:
    meta = raw.meta
    title = _str(meta, "title").strip()
    if not title:
        raise BadDocument(raw.path, "law without a title in its front matter")
    doc_type = _str(meta, "kind")
    region = region_of(title) if doc_type == "local_regulation" else "全国"
    common = dict(
        source_id=raw.stem,
        source_title=title,
        short_title=short_title(title),
        doc_type=doc_type,
        issuer=_str(meta, "issuer"),
        promulgated=_str(meta, "promulgated"),
        effective=_str(meta, "effective"),
        amended=[str(a) for a in (meta.get("amended") or [])],
        region=region,
        level="local" if doc_type == "local_regulation" else "national",
        in_force=str(meta.get("status") or "").strip().lower() not in REPEALED_STATUSES,
    )
    prior = PRIORS.get(doc_type, 0.8) * (1.0 if common["in_force"] else REPEALED_FACTOR)
    articles: list[Document] = []
    path: list[tuple[int, str]] = []  # (structural rank, heading text)
    current: list[str] | None = None
    number = 0
    seen: set[int] = set()

    def flush() -> None:
        if current is None:
            return
        text = "\n\n".join(p for p in (ln.strip() for ln in current) if p)
        label = f"第{int_to_cn(number)}条"
        articles.append(
            _base(
                raw,
                id=f"{raw.stem}.{number}",
                kind="article",
                title=f"{title} {label}",
                text=text,
                article=number,
                article_label=label,
                chapter_path=[h for _, h in path],
                prior=prior,
                **common,
            )
        )

    for line in _COMMENT.sub("", raw.text).splitlines():
        h = _HEADING.match(line)
        unit = structure_heading(h.group(2), markdown=True) if h else structure_heading(line)
        if unit:
            flush()
            current = None
            rank = unit[0]
            path = [p for p in path if p[0] < rank] + [unit]
            continue
        if h:  # the title heading or an annex heading ends the running article
            flush()
            current = None
            continue
        m = _ARTICLE_START.match(line)
        if m:
            n = cn_to_int(m.group(1))
            if n not in seen:  # a quoted 第N条 at a line start inside an article stays in it
                flush()
                number, current = n, [line]
                seen.add(n)
                continue
        if current is not None:
            current.append(line)
    flush()

    whole_kind = "law"
    if not articles and re.search(r"通知|意见|公告", title):
        whole_kind = "policy"
    whole = _base(
        raw,
        id=raw.stem,
        kind=whole_kind,
        title=title,
        text=_strip_markdown(raw.text),
        prior=prior * WHOLE_LAW_FACTOR if articles else prior,
        **common,
    )
    return [whole, *articles]


def split_sections(body: str) -> tuple[str, dict[str, str]]:
    """``## 标题`` sections of a Markdown body; returns (text before the first section, sections)."""
    sections: dict[str, list[str]] = {}
    lead: list[str] = []
    current: list[str] = lead
    for line in _COMMENT.sub("", body).splitlines():
        h = _HEADING.match(line)
        if h and len(h.group(1)) >= 2:
            current = sections.setdefault(h.group(2).strip(), [])
            continue
        if h:
            continue
        current.append(line)

    def join(lines: list[str]) -> str:
        return "\n\n".join(p.strip() for p in lines if p.strip())

    return join(lead), {k: join(v) for k, v in sections.items()}


def segment_case(raw: RawDocument) -> Document:
    meta = raw.meta
    lead, sections = split_sections(raw.text)
    title = _str(meta, "title") or next((ln.strip("# ") for ln in raw.text.splitlines() if ln.strip()), "")
    if not title:
        raise BadDocument(raw.path, "case without a title")
    number = None
    m = _CASE_NO.search(_str(meta, "case_number") or title)
    if m:
        number = int(m.group(1))
    keywords = [str(k) for k in (meta.get("keywords") or [])]
    if not keywords and sections.get("关键词"):
        keywords = [k for k in re.split(r"[\s\u3000、,，;；]+", sections["关键词"]) if k]
    doc_type = _str(meta, "kind") if _str(meta, "kind") in ("guiding_case", "typical_case") else "case"
    text = _strip_markdown(raw.text) if sections else (lead or raw.text)
    return _base(
        raw,
        id=raw.stem,
        kind="case",
        doc_type=doc_type,
        title=title,
        text=text,
        issuer=_str(meta, "issuer"),
        case_number=number,
        keywords=keywords,
        sections=sections,
        published=_str(meta, "published"),
        url=_str(meta, "original_url") or _str(meta, "url"),
        region=_str(meta, "region") or "全国",
        prior=PRIORS.get(doc_type, 0.85),
    )


def segment_whole(raw: RawDocument) -> Document:
    meta = raw.meta
    kind = _str(meta, "kind") or "news"
    if kind not in ("news", "policy", "case", "article", "law"):
        kind = "news"
    if kind == "case":
        return segment_case(raw)
    title = _str(meta, "title") or next((ln.strip("# ") for ln in raw.text.splitlines() if ln.strip()), raw.stem)
    text = _strip_markdown(raw.text)
    if not text.strip():
        raise BadDocument(raw.path, "no text left after cleaning")
    return _base(
        raw,
        id=_str(meta, "id") or raw.stem,
        kind=kind,
        doc_type=kind,
        title=title,
        text=text,
        published=_str(meta, "published") or _str(meta, "date"),
        url=_str(meta, "url"),
        region=_str(meta, "region") or "全国",
        prior=PRIORS.get(kind, 0.5),
    )
