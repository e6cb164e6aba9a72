"""编/章/节 headings: recognised by their numbering in any source format, never glued to an article."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.clean import clean_html, clean_text
from ingest.load import load_file
from ingest.model import RawDocument
from ingest.segment import segment, structure_heading

LAWS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "laws"
LAW_FILES = sorted(LAWS.glob("*.md")) if LAWS.is_dir() else []

_NUM = "零〇一二三四五六七八九十百千0-9"
# Deliberately looser than the segmenter: any short, unpunctuated line led by a unit number.
_HEADING_LIKE = re.compile(rf"^[#*\s\u3000]*第[{_NUM}]+(?:分编|编|章|节)(?![^\n]*[。；，：])[^\n]{{0,45}}$")
_ARTICLE_LINE = re.compile(rf"^\s*第([{_NUM}]+)条")


def squash(text: str) -> str:
    return re.sub(r"[\s\u3000#*]+", "", text)


def _law(text: str, fmt: str = "markdown") -> dict:
    raw = RawDocument(
        path=f"t.{fmt}", stem="t", fmt=fmt, text=text, meta={"title": "示范条例", "kind": "local_regulation"}
    )
    return {d.article: d for d in segment(raw)[1:]}


# --- every law of the corpus -----------------------------------------------------------------


def _headings_before_articles(text: str) -> list[tuple[str, str, bool]]:
    """(heading line, numeral of the first article after it, written as a plain line)."""
    found, pending = [], []
    for line in re.sub(r"<!--.*?-->", "", text, flags=re.S).splitlines():
        if _HEADING_LIKE.match(line):
            pending.append(line)
            continue
        m = _ARTICLE_LINE.match(line)
        if m and pending:
            found += [(h, m.group(1), not h.lstrip().startswith("#")) for h in pending]
            pending = []
    return found


@pytest.mark.skipif(not LAW_FILES, reason="shared/corpus/laws not found")
def test_no_article_of_any_corpus_law_contains_a_heading_and_each_gets_its_chapter_path() -> None:
    from ingest.numerals import cn_to_int

    plain_headings = 0
    for path in LAW_FILES:
        (raw,) = load_file(path)
        articles = {d.article: d for d in segment(raw) if d.kind == "article"}
        for d in articles.values():
            glued = [ln for ln in d.text.split("\n") if _HEADING_LIKE.match(ln)]
            assert not glued, f"{d.id} ends with a heading: {glued}"
        for heading, numeral, plain in _headings_before_articles(raw.text):
            article = articles[cn_to_int(numeral)]
            assert squash(heading) in [squash(h) for h in article.chapter_path], (path.name, heading, article.id)
            plain_headings += plain
    assert plain_headings >= 7  # labor-dispatch-interim-provisions writes its chapters as plain lines


@pytest.mark.skipif(not (LAWS / "labor-dispatch-interim-provisions.md").exists(), reason="corpus law not found")
def test_plain_line_chapter_of_the_dispatch_provisions() -> None:
    (raw,) = load_file(LAWS / "labor-dispatch-interim-provisions.md")
    docs = {d.article: d for d in segment(raw) if d.kind == "article"}
    assert docs[4].text.endswith("可以与劳动者订立劳动合同的用人单位。")
    assert docs[4].chapter_path == ["第二章 用工范围和用工比例"]
    assert docs[5].chapter_path == ["第三章 劳动合同、劳务派遣协议的订立和履行"]
    assert docs[29].chapter_path == ["第七章 附则"]


# --- the rule, over invented texts -----------------------------------------------------------

MIXED = """# 示范条例

第一编 总则
## 第一章 一般规定
第一条 为了保护劳动者的合法权益，制定本条例。
**第二章　劳动合同**
第一节　订立
第二条 用人单位自用工之日起即与劳动者建立劳动关系。
第二节变更
第三条 用人单位与劳动者协商一致，可以变更劳动合同约定的内容。
第三章 附　则
第四条 本条例自公布之日起施行。
"""


def test_plain_and_markdown_headings_nest_by_their_unit() -> None:
    arts = _law(MIXED)
    assert arts[1].chapter_path == ["第一编 总则", "第一章 一般规定"]
    assert arts[1].text == "第一条 为了保护劳动者的合法权益，制定本条例。"
    assert arts[2].chapter_path == ["第一编 总则", "第二章 劳动合同", "第一节 订立"]
    assert arts[3].chapter_path == ["第一编 总则", "第二章 劳动合同", "第二节 变更"]
    assert arts[4].chapter_path == ["第一编 总则", "第三章 附 则"]
    assert all("章" not in a.text and "节" not in a.text for a in arts.values())


def test_headings_in_text_extracted_from_html_and_plain_text_pages() -> None:
    body = "".join(
        f"<p>{p}</p>"
        for p in (
            "第一章　总　则",
            "第一条　为了规范工资支付，制定本办法。",
            "第二章　工资支付",
            "第二条　工资应当以货币形式按月支付给劳动者本人。",
        )
    )
    _, html_text = clean_html(f"<html><body><div>{body}</div></body></html>")
    _, plain_text = clean_text(
        "示范条例\n第一章 总则\n第一条 为了规范工资支付，制定本办法。\n"
        "第二章 工资支付\n第二条 工资应当以货币形式按月支付给劳动者本人。\n"
    )
    for fmt, text in (("html", html_text), ("text", plain_text)):
        arts = _law(text, fmt)
        assert squash(arts[1].text) == "第一条为了规范工资支付，制定本办法。", fmt
        assert arts[2].chapter_path == ["第二章 工资支付"], fmt


@pytest.mark.parametrize(
    "sentence",
    [
        "第三章的规定适用于劳务派遣单位",
        "第三章、第四章规定的情形除外",
        "第二节规定的期限届满",
        "第三章规定的集体合同，适用本条。",
        "第五章 法律责任中规定的罚款，由劳动行政部门决定；逾期不缴纳的，依法处理。",
        "第二章所称用人单位包括个体经济组织和民办非企业单位等组织以及依法成立的会计师事务所律师事务所合伙组织",
    ],
)
def test_a_sentence_that_mentions_a_chapter_is_not_a_heading(sentence: str) -> None:
    text = f"## 第一章 总则\n第一条 依照本条例第三章的规定处理。\n{sentence}\n第二条 本条例自公布之日起施行。\n"
    arts = _law(text)
    assert sentence in arts[1].text
    assert arts[2].chapter_path == ["第一章 总则"]
    assert structure_heading(sentence) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("第三章 劳动合同、劳务派遣协议的订立和履行", (3, "第三章 劳动合同、劳务派遣协议的订立和履行")),
        ("　　第十二章　　附　　则　", (3, "第十二章 附 则")),
        ("第一分编 通则", (2, "第一分编 通则")),
        ("第2节 工资", (4, "第2节 工资")),
        ("第四编", (1, "第四编")),
        ("**第一章 总则**", (3, "第一章 总则")),
    ],
)
def test_structure_heading_reads_unit_and_title(line: str, expected: tuple[int, str]) -> None:
    assert structure_heading(line) == expected
