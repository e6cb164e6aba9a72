"""Loading files of every supported format and encoding, and reporting bad ones."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from ingest.load import decode_bytes, iter_files, load_file, load_file_report
from ingest.model import BadDocument

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
HTML_SAMPLES = SHARED / "samples" / "html"
EXPECTED = (
    json.loads((HTML_SAMPLES / "expected.json").read_text(encoding="utf-8"))
    if (HTML_SAMPLES / "expected.json").exists()
    else {}
)
# GBK and GB2312 pages are decoded with GB18030, their superset.
FAMILY = {"utf-8": "utf-8", "gbk": "gb18030", "gb2312": "gb18030", "gb18030": "gb18030", "big5": "big5"}

TRADITIONAL = "勞動者在試用期內提前三日通知用人單位，可以解除勞動合同。用人單位應當按照勞動合同約定，向勞動者及時足額支付勞動報酬。"
SIMPLIFIED = "劳动者在试用期内提前三日通知用人单位，可以解除劳动合同。用人单位应当按照劳动合同约定，向劳动者及时足额支付劳动报酬。"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- sample pages ----------------------------------------------------------------------


@pytest.mark.skipif(not EXPECTED, reason="shared/samples/html/expected.json not found")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_page_loads_with_the_right_encoding_title_and_text(name: str) -> None:
    spec = EXPECTED[name]
    path = HTML_SAMPLES / name
    [doc] = load_file(path)
    assert doc.fmt == "html"
    assert doc.stem == path.stem
    assert doc.meta["encoding"] == FAMILY[spec["encoding"]]
    assert doc.meta["title"] == spec["title"]
    assert doc.meta["kind"] in ("case", "news")
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert all(squash(s) in squash(doc.text) for s in spec["must_keep"])


def test_guiding_case_page_is_guessed_as_case() -> None:
    if not EXPECTED:
        pytest.skip("samples not found")
    [doc] = load_file(HTML_SAMPLES / "visible-00-utf-8.html")
    assert doc.meta["kind"] == "case"


def test_big5_page_without_charset_declaration_is_detected(tmp_path: Path) -> None:
    html = f"<html><head><title>工傷認定</title></head><body><div><p>{TRADITIONAL}</p></div></body></html>"
    path = write(tmp_path / "big5.html", html.encode("big5"))
    [doc] = load_file(path)
    assert doc.meta["encoding"] == "big5"
    assert TRADITIONAL in doc.text


def test_gbk_page_without_declaration_and_gb2312_declared_page_decode_as_gb18030(tmp_path: Path) -> None:
    # 镕 and 㑇 are outside GB2312: a page that declares gb2312 but uses them must still decode.
    text = SIMPLIFIED + "朱镕基曾说㑇。"
    plain = write(tmp_path / "plain.html", f"<p>{SIMPLIFIED}</p>".encode("gbk"))
    declared = write(
        tmp_path / "declared.html",
        f'<meta charset="gb2312"><p>{text}</p>'.encode("gb18030"),
    )
    for path, expected in ((plain, SIMPLIFIED), (declared, text)):
        [doc] = load_file(path)
        assert doc.meta["encoding"] == "gb18030"
        assert expected in doc.text


def test_wrong_charset_declaration_is_overridden(tmp_path: Path) -> None:
    path = write(tmp_path / "wrong.html", f'<meta charset="utf-8"><p>{SIMPLIFIED}</p>'.encode("gbk"))
    [doc] = load_file(path)
    assert doc.meta["encoding"] == "gb18030"
    assert SIMPLIFIED in doc.text


def test_declared_charset_of_another_script_is_used(tmp_path: Path) -> None:
    japanese = "労働基準法は、労働条件の最低基準を定めています。"
    path = write(tmp_path / "ja.html", f'<meta charset="shift_jis"><p>{japanese}</p>'.encode("shift_jis"))
    [doc] = load_file(path)
    assert doc.meta["encoding"] == "shift_jis"
    assert doc.text == japanese


@pytest.mark.parametrize("length", [4, 8, 30])
def test_short_texts_are_told_apart_between_gbk_and_big5(length: int) -> None:
    assert decode_bytes(SIMPLIFIED[:length].encode("gbk"))[0] == SIMPLIFIED[:length]
    assert decode_bytes(TRADITIONAL[:length].encode("big5"))[0] == TRADITIONAL[:length]


# --- plain text and Markdown -----------------------------------------------------------


def test_text_sample_loads_with_title_and_news_kind() -> None:
    path = SHARED / "samples" / "shanghai-union-online-news.txt"
    if not path.exists():
        pytest.skip("samples not found")
    [doc] = load_file(path)
    assert doc.fmt == "text"
    assert doc.meta["title"] == "上海市总:让职工收获8小时之外的温暖与幸福"
    assert doc.meta["kind"] == "news"
    assert "下一篇" not in doc.text and "以往,工会法律援助都是在纸面上进行的。" in doc.text


def test_text_policy_page_in_gbk_is_guessed_as_policy(tmp_path: Path) -> None:
    raw = "关于做好高温天气劳动保护工作的通知\n\n　　各用人单位应当按规定发放高温津贴。\n"
    [doc] = load_file(write(tmp_path / "notice.txt", raw.encode("gbk")))
    assert doc.meta == {"title": "关于做好高温天气劳动保护工作的通知", "kind": "policy", "encoding": "gb18030"}
    assert doc.text == "各用人单位应当按规定发放高温津贴。"


def test_markdown_front_matter_becomes_meta_and_comments_are_stripped(tmp_path: Path) -> None:
    content = (
        "---\n"
        'title: "中华人民共和国劳动合同法"\n'
        "kind: law\n"
        "promulgated: 2007-06-29\n"
        'amended: ["2012-12-28"]\n'
        "---\n\n"
        "# 中华人民共和国劳动合同法\n\n"
        "2007年6月29日通过\n\n"
        "<!-- INFO END -->\n\n"
        "## 第一章 总则\n\n"
        "第一条 为了完善劳动合同制度，制定本法。\n"
    )
    path = write(tmp_path / "labor-contract-law.md", content)
    [doc] = load_file(path)
    assert doc.fmt == "markdown" and doc.stem == "labor-contract-law"
    assert doc.meta == {
        "title": "中华人民共和国劳动合同法",
        "kind": "law",
        "promulgated": "2007-06-29",  # YAML dates come back as ISO strings
        "amended": ["2012-12-28"],
    }
    assert "INFO END" not in doc.text and "<!--" not in doc.text
    assert doc.text.startswith("# 中华人民共和国劳动合同法\n\n2007年6月29日通过\n\n## 第一章 总则")
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_markdown_without_front_matter_has_empty_meta(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "note.md", "# 标题\n\n正文。\n"))
    assert doc.meta == {}
    assert doc.text == "# 标题\n\n正文。"


def test_markdown_with_bom_and_crlf_still_reads_front_matter(tmp_path: Path) -> None:
    raw = "---\r\ntitle: 通知\r\n---\r\n正文。\r\n".encode("utf-8-sig")
    [doc] = load_file(write(tmp_path / "bom.md", raw))
    assert doc.meta == {"title": "通知"}
    assert doc.text == "正文。"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("---\ntitle: [unclosed\nkind: law\n---\n正文\n", "malformed YAML"),
        ("---\ntitle: a\n  bad: indent\n---\n正文\n", "malformed YAML"),
        ("---\n- just\n- a list\n---\n正文\n", "not a mapping"),
        ("---\ntitle: never closed\n正文\n", "not closed"),
    ],
)
def test_bad_front_matter_is_a_bad_document(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path / "bad.md", content)
    with pytest.raises(BadDocument) as err:
        load_file(path)
    assert reason in err.value.reason
    assert err.value.path == str(path)


# --- unusable files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.html", b"", "empty file"),
        ("blank.txt", b"  \n\n\t", "empty file"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        ("image.png", b"\x89PNG\r\n\x1a\n", "unsupported file type"),
        ("noext", "正文".encode(), "unsupported file type"),
        ("nav-only.html", "<nav><a href='/'>首页</a></nav>".encode(), "no text left"),
    ],
)
def test_unusable_file_raises_bad_document_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(BadDocument) as err:
        load_file(path)
    assert reason in err.value.reason
    with pytest.raises(BadDocument):
        load_file_report(path)


def test_missing_file_is_a_bad_document(tmp_path: Path) -> None:
    with pytest.raises(BadDocument, match="file not found"):
        load_file(tmp_path / "nope.md")


# --- JSON Lines ----------------------------------------------------------------------------


def test_jsonl_bad_line_is_reported_and_the_others_load(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"id": "case-1", "title": "甲诉乙劳动争议案", "text": "裁判要点：……", "kind": "case", "court": "某法院"},
            ensure_ascii=False,
        ),
        '{"title": "坏行", "text": ',
        "",
        json.dumps({"title": "关于发放高温津贴的通知", "text": "各单位应当发放高温津贴。"}, ensure_ascii=False),
        json.dumps({"title": "没有正文"}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "a/b", "text": "正文"}, ensure_ascii=False),
    ]
    path = write(tmp_path / "batch.jsonl", "\n".join(lines) + "\n")
    docs, problems = load_file_report(path)

    assert [d.stem for d in docs] == ["case-1", "batch-4"]
    first, second = docs
    assert first.meta == {"title": "甲诉乙劳动争议案", "kind": "case", "court": "某法院"}
    assert first.text == "裁判要点：……" and first.fmt == "jsonl"
    assert second.meta["kind"] == "policy"
    assert first.content_hash == hashlib.sha256(lines[0].encode()).hexdigest()
    assert first.content_hash != second.content_hash

    where = {loc.rsplit(":", 1)[1]: reason for loc, reason in problems}
    assert set(where) == {"2", "5", "6", "7"}
    assert "invalid JSON" in where["2"]
    assert "text" in where["5"]
    assert "not a JSON object" in where["6"]
    assert "'id'" in where["7"]
    assert [d.stem for d in load_file(path)] == ["case-1", "batch-4"]


def test_jsonl_with_only_bad_lines_is_a_bad_document(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", "not json\n{}\n")
    docs, problems = load_file_report(path)
    assert docs == [] and len(problems) == 2
    with pytest.raises(BadDocument, match="invalid JSON"):
        load_file(path)


def test_jsonl_duplicate_id_is_reported(tmp_path: Path) -> None:
    row = json.dumps({"id": 7, "text": "正文"})
    docs, problems = load_file_report(write(tmp_path / "dup.jsonl", f"{row}\n{row}\n"))
    assert [d.stem for d in docs] == ["7"]
    assert problems == [(f"{tmp_path / 'dup.jsonl'}:2", "duplicate id '7'")]


# --- walking --------------------------------------------------------------------------------


def test_iter_files_walks_sorted_and_skips_hidden_and_metadata(tmp_path: Path) -> None:
    for rel in (
        "laws/b.md",
        "laws/a.md",
        "cases/c.html",
        "README.md",
        "SOURCES.md",
        "expected.json",
        "batch.jsonl",
        ".hidden.md",
        ".git/config.md",
        "cases/.DS_Store",
        "notes.txt",
    ):
        write(tmp_path / rel, "x")
    single = write(tmp_path.parent / f"{tmp_path.name}-single.md", "x")
    found = list(iter_files([tmp_path, single]))
    assert [p.relative_to(tmp_path).as_posix() for p in found[:-1]] == [
        "batch.jsonl",
        "cases/c.html",
        "laws/a.md",
        "laws/b.md",
        "notes.txt",
    ]
    assert found[-1] == single


@pytest.mark.skipif(not (SHARED / "corpus").exists(), reason="shared corpus not found")
def test_real_corpus_loads_without_errors() -> None:
    paths = list(iter_files([SHARED / "corpus"]))
    assert len(paths) > 50
    assert not any(p.name in ("SOURCES.md", "README.md") for p in paths)
    for path in paths:
        [doc] = load_file(path)
        assert doc.meta.get("title") and doc.meta.get("kind"), path
        assert "INFO END" not in doc.text
