"""Read corpus files of any supported format and encoding into ``RawDocument``s.

Formats: Markdown with YAML front matter (``.md``), web pages (``.html``/``.htm``), plain
text pages (``.txt``) and JSON Lines (``.jsonl``, one document per line). Files that cannot
be used raise ``BadDocument`` with a reason; one bad JSONL line is reported on its own and
the other lines still load (see ``load_file_report``).
"""

from __future__ import annotations

import codecs
import datetime
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ingest.clean import clean_html, clean_text
from ingest.model import BadDocument, RawDocument

# libyaml's parser when PyYAML was built with it (several times faster), else the Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".jsonl": "jsonl",
}
# Files that describe a folder rather than hold a document.
METADATA_NAMES = {"readme.md", "sources.md", "license", "license.md", "changelog.md"}
MAX_BYTES = 50 * 1024 * 1024

_ID_RE = re.compile(r"^[\w.\-]+$")
_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
_POLICY_RE = re.compile(r"通知|意见|办法|规定|决定|细则|条例|公告|方案")
_CASE_TITLE_RE = re.compile(r"指导案例|典型案例|案例|(?<![方草备档提议预答])案$|纠纷案|[诉訴].{2,40}案")
_CASE_TEXT_RE = re.compile(r"裁判要点|基本案情|裁判理由|裁判结果|案情简介|典型意义|争议焦点|法院生效裁判")


# --- walking --------------------------------------------------------------------------


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Yield the document files under ``paths`` (files as given, directories walked sorted).

    In directories, hidden files and folders and metadata files (README.md, SOURCES.md,
    ``*.json`` other than ``.jsonl``) are skipped. A file named explicitly is always
    yielded, so a bad one is reported instead of silently ignored.
    """
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            yield path
            continue
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path)
            if any(part.startswith(".") for part in rel.parts) or not child.is_file():
                continue
            if child.name.lower() in METADATA_NAMES or child.suffix.lower() == ".json":
                continue
            yield child


# --- loading --------------------------------------------------------------------------


def load_file(path: Path) -> list[RawDocument]:
    """Load one file into one or more ``RawDocument``s.

    Raises ``BadDocument`` when the file is unusable as a whole (missing, empty, binary,
    undecodable, unknown extension, malformed front matter, no good JSONL line). A JSONL
    file with some bad lines returns the good ones; use ``load_file_report`` to see the rest.
    """
    docs, problems = load_file_report(path)
    if not docs:
        reason = problems[0][1] if problems else "no documents in file"
        raise BadDocument(str(path), reason)
    return docs


def load_file_report(path: Path) -> tuple[list[RawDocument], list[tuple[str, str]]]:
    """Load one file; return ``(documents, problems)`` where a problem is ``(location, reason)``.

    Raises ``BadDocument`` when nothing in the file can be used, except that a JSONL file
    whose every line is bad gives ``([], problems)`` with one entry per line.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadDocument(str(path), f"unsupported file type {path.suffix or '(no extension)'!r}")
    data = _read_bytes(path)
    if fmt == "jsonl":
        return _load_jsonl(path, data)
    loader = {"markdown": _load_markdown, "html": _load_html, "text": _load_text}[fmt]
    doc = loader(path, data)
    if not doc.text.strip():
        raise BadDocument(str(path), "no text left after cleaning")
    return [doc], []


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise BadDocument(str(path), f"file larger than {MAX_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadDocument(str(path), "file not found") from None
    except IsADirectoryError:
        raise BadDocument(str(path), "is a directory") from None
    except OSError as e:
        raise BadDocument(str(path), f"cannot read file: {e.strerror or e}") from None
    if not data.strip():
        raise BadDocument(str(path), "empty file")
    return data


def _raw(path: Path, fmt: str, text: str, meta: dict[str, Any], data: bytes, stem: str | None = None) -> RawDocument:
    return RawDocument(
        path=str(path),
        stem=stem or path.stem,
        fmt=fmt,
        text=text,
        meta=meta,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def _load_markdown(path: Path, data: bytes) -> RawDocument:
    text, _ = decode_bytes(data, str(path))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, Any] = {}
    if text.startswith("---\n"):
        end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], re.M)
        if end is None:
            raise BadDocument(str(path), "front matter is not closed by a '---' line")
        header, text = text[4 : 4 + end.start()], text[4 + end.end() :]
        try:
            loaded = yaml.load(header, Loader=_YAML_LOADER)
        except yaml.YAMLError as e:
            where = getattr(e, "problem_mark", None)
            line = f" at line {where.line + 2}" if where is not None else ""
            raise BadDocument(str(path), f"malformed YAML front matter{line}: {getattr(e, 'problem', e)}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise BadDocument(str(path), "front matter is not a mapping of keys to values")
        meta = _plain(loaded)
    body = _COMMENT_RE.sub("", text)
    body = re.sub(r"\n{3,}", "\n\n", body).strip("\n")
    return _raw(path, "markdown", body, meta, data)


def _plain(value: Any) -> Any:
    """YAML dates become ISO strings so metadata stays JSON-friendly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _load_html(path: Path, data: bytes) -> RawDocument:
    html, encoding = decode_bytes(data, str(path), declared=_declared_charset(data))
    title, text = clean_html(html)
    meta = {"title": title, "kind": guess_kind(title, text), "encoding": encoding}
    return _raw(path, "html", text, meta, data)


def _load_text(path: Path, data: bytes) -> RawDocument:
    raw_text, encoding = decode_bytes(data, str(path))
    title, text = clean_text(raw_text)
    meta = {"title": title, "kind": guess_kind(title, text), "encoding": encoding}
    return _raw(path, "text", text, meta, data)


def _load_jsonl(path: Path, data: bytes) -> tuple[list[RawDocument], list[tuple[str, str]]]:
    text, _ = decode_bytes(data, str(path))
    docs: list[RawDocument] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append((where, f"invalid JSON: {e.msg} at column {e.colno}"))
            continue
        reason = _jsonl_problem(obj)
        if reason:
            problems.append((where, reason))
            continue
        stem = str(obj["id"]) if obj.get("id") is not None else f"{path.stem}-{line_no}"
        if stem in seen:
            problems.append((where, f"duplicate id {stem!r}"))
            continue
        seen.add(stem)
        meta = {k: v for k, v in obj.items() if k not in ("text", "id")}
        meta.setdefault("kind", guess_kind(str(obj.get("title", "")), obj["text"]))
        docs.append(_raw(path, "jsonl", obj["text"].strip(), meta, line.encode("utf-8"), stem=stem))
    if not docs and not problems:
        raise BadDocument(str(path), "no documents in file")
    return docs, problems


def _jsonl_problem(obj: Any) -> str:
    if not isinstance(obj, dict):
        return "line is not a JSON object"
    if not isinstance(obj.get("text"), str) or not obj["text"].strip():
        return "missing or empty 'text'"
    if "title" in obj and not isinstance(obj["title"], str):
        return "'title' is not a string"
    if obj.get("id") is not None:
        if isinstance(obj["id"], bool) or not isinstance(obj["id"], (str, int)):
            return "'id' is not a string or number"
        if not _ID_RE.match(str(obj["id"])):
            return f"'id' {obj['id']!r} may only hold letters, digits, '.', '-' and '_'"
    return ""


def guess_kind(title: str, text: str) -> str:
    """``case`` for a judgment or case write-up, ``policy`` for a notice/opinion/rule, else ``news``."""
    if _CASE_TITLE_RE.search(title) or len(set(_CASE_TEXT_RE.findall(text[:3000]))) >= 2:
        return "case"
    if _POLICY_RE.search(title):
        return "policy"
    return "news"


# --- decoding -------------------------------------------------------------------------

_FAMILIES = {  # codec name → (label reported, codecs to try in order)
    "utf-8": ("utf-8", ("utf-8",)),
    "gb2312": ("gb18030", ("gb18030",)),
    "gbk": ("gb18030", ("gb18030",)),
    "gb18030": ("gb18030", ("gb18030",)),
    "big5": ("big5", ("big5", "cp950", "big5hkscs")),
    "cp950": ("big5", ("cp950", "big5hkscs")),
    "big5hkscs": ("big5", ("big5hkscs",)),
}
# Declarations that are usually a server default rather than the page's real encoding.
_UNTRUSTED_DECLARATIONS = {"latin-1", "iso8859-1", "cp1252", "ascii"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_:.\-]+)""", re.I)
_GOOD_PUNCT = set("，。、；：？！“”‘’（）《》〈〉【】「」『』—…·　﹝﹞〔〕％")


def _declared_charset(data: bytes) -> str | None:
    head = data[:4096]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return match.group(1).decode("ascii").lower() if match else None


def decode_bytes(data: bytes, path: str = "<bytes>", declared: str | None = None) -> tuple[str, str]:
    """Decode a Chinese text or page; return ``(text, encoding)``.

    A byte-order mark wins; then the declared charset when it decodes cleanly and reads
    as Chinese; else strict UTF-8; else the better of GB18030 and Big5 by the share of
    common characters (charset-normalizer alone confuses the two on short pages). GBK and
    GB2312 are decoded as GB18030, their superset. Raises ``BadDocument`` for binary or
    undecodable data.
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec), codec.replace("-sig", "")
            except UnicodeDecodeError:
                raise BadDocument(path, f"byte-order mark says {codec} but the content does not decode") from None
    if b"\x00" in data:
        raise BadDocument(path, "binary file (contains NUL bytes)")

    declared_result = _decode_declared(data, declared)
    if declared_result and declared_result[2] >= 0.75:
        return declared_result[0], declared_result[1]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = [r for r in (_try_family(data, "gb18030"), _try_family(data, "big5")) if r]
    if declared_result:
        candidates.append(declared_result)
    if candidates:
        # Ties go to GB18030: simplified pages are the common case here.
        best = max(candidates, key=lambda r: r[2])
        if best[2] >= 0.5:
            return best[0], best[1]
    fallback = _charset_normalizer_guess(data)
    if fallback:
        return fallback
    raise BadDocument(path, "cannot decode text (not UTF-8, GB18030 or Big5)")


def _decode_declared(data: bytes, declared: str | None) -> tuple[str, str, float] | None:
    if not declared:
        return None
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return None
    if name in _UNTRUSTED_DECLARATIONS:
        return None
    if name in _FAMILIES:
        return _try_family(data, name)
    try:
        text = data.decode(name)
    except (UnicodeDecodeError, LookupError):
        return None
    # Another script's page (Japanese, Korean …) cannot be judged by the Chinese score:
    # a clean strict decoding in its declared charset is trusted.
    return text, name, 1.0


def _try_family(data: bytes, name: str) -> tuple[str, str, float] | None:
    label, codec_names = _FAMILIES[name]
    for codec in codec_names:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        return text, label, _chinese_score(text)
    # Strict decoding failed everywhere: score a lenient decoding so that a page with one
    # stray byte still decodes, while garbage loses on its replacement characters.
    text = data.decode(codec_names[-1], errors="replace")
    return text, label, _chinese_score(text)


def _chinese_score(text: str) -> float:
    """Share of non-ASCII characters that are common Chinese characters or punctuation."""
    common = _common_chars()
    good = bad = 0
    for ch in text:
        if ord(ch) < 0x80:
            continue
        if ch in common or ch in _GOOD_PUNCT or 0xFF01 <= ord(ch) <= 0xFF5E:
            good += 1
        elif ch == "\ufffd":
            bad += 3
        else:
            bad += 1
    return good / (good + bad) if good + bad else 1.0


@functools.lru_cache(maxsize=1)
def _common_chars() -> frozenset[str]:
    """GB2312 level 1 (3755 most used simplified) plus Big5's 5401 common traditional characters.

    Built from the codecs' own tables, so no character list has to be shipped.
    """
    chars: set[str] = set()
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for hi in range(0xA4, 0xC7):
        for lo in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            if (hi, lo) > (0xC6, 0x7E):
                break
            try:
                chars.add(bytes((hi, lo)).decode("big5"))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional helper
        return None
    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        return None
    text = str(best)
    if _chinese_score(text) < 0.5 and any(ord(c) > 0x2FF for c in text):
        return None
    return text, best.encoding
