"""Document ids: one code path for ``ingest`` and ``prepare_corpus``, files sharing a stem kept apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport, ingest, load_corpus, prepare_corpus

LAW = """---
title: "{title}"
kind: local_regulation
---

# {title}

第一条 用人单位拖欠工资的，劳动者可以向劳动监察机构投诉。

第二条 用人单位应当按月足额支付劳动者工资。
"""
CASE = """---
title: "{title}"
kind: typical_case
---

# {title}

## 基本案情

劳动者主张用人单位拖欠工资，用人单位未能举证已经足额支付，依照《{law}》第一条处理。
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    _write(root / "laws" / "wages.md", LAW.format(title="示范省工资支付条例"))
    _write(root / "cases" / "wages.md", CASE.format(title="某公司拖欠工资案", law="示范省工资支付条例"))
    _write(root / "regional" / "wages.md", LAW.format(title="示范市工资支付办法"))
    _write(root / "laws" / "overtime.md", LAW.format(title="示范省加班工资规定"))
    return root


def _engine(path: Path):
    from search_api.engines.sqlite import SqliteEngine

    return SqliteEngine(path)


def _engine_ids(engine, corpus: Path) -> set[str]:
    ids: set[str] = set()
    for file in corpus.rglob("*.md"):
        ids |= set(engine.ids_by_source_path(str(file)))
    return ids


def _prepared_ids(paths: list[Path]) -> set[str]:
    docs, report = prepare_corpus(paths)
    assert not report.skipped
    return {d.id for d in docs}


def test_ingest_and_prepare_corpus_give_the_same_ids_for_files_sharing_a_stem(corpus: Path, tmp_path: Path) -> None:
    engine = _engine(tmp_path / "index.sqlite3")
    try:
        report = ingest([corpus], engine)
        assert not report.skipped and not report.failed
        ingested = _engine_ids(engine, corpus)
        assert engine.count() == report.documents
    finally:
        engine.close()
    prepared = _prepared_ids([corpus])
    assert ingested == prepared
    # 3 files share "wages": each keeps its whole document, the two laws their 2 articles each
    assert len(prepared) == 3 + 2 * 2 + len({"overtime", "overtime.1", "overtime.2"})
    assert "overtime" in prepared and "overtime.1" in prepared
    # a law keeps the plain id (the first by path of the two), the others get a suffix
    assert {"wages", "wages.1", "wages.2"} <= prepared
    renamed = sorted(i for i in prepared if i.startswith("wages~") and "." not in i)
    assert len(renamed) == 2 and {f"{i}.1" for i in renamed} & prepared


def test_the_law_keeps_the_plain_id_whatever_the_paths(tmp_path: Path) -> None:
    # the case sorts first by path, but the law's articles are what citations point at
    _write(tmp_path / "a-cases" / "wages.md", CASE.format(title="某公司拖欠工资案", law="示范省工资支付条例"))
    _write(tmp_path / "b-laws" / "wages.md", LAW.format(title="示范省工资支付条例"))
    docs, _ = prepare_corpus([tmp_path])
    by_id = {d.id: d for d in docs}
    assert by_id["wages"].kind == "law" and by_id["wages.1"].source_id == "wages"
    (case,) = [d for d in docs if d.kind == "case"]
    assert case.id.startswith("wages~") and "wages.1" in case.cites


def test_ids_of_colliding_files_do_not_depend_on_order_roots_or_location(corpus: Path, tmp_path: Path) -> None:
    whole = _prepared_ids([corpus])
    by_dirs = _prepared_ids([corpus / d for d in ("regional", "cases", "laws")])
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(corpus, moved)
    assert whole == by_dirs == _prepared_ids([moved])


def test_articles_of_a_renamed_law_point_at_their_renamed_law(corpus: Path) -> None:
    loaded = load_corpus([corpus], IngestReport())
    for _raw, docs in loaded:
        whole = docs[0]
        for d in docs[1:]:
            assert d.source_id == whole.id
            assert d.id == f"{whole.id}.{d.article}"


def test_reingesting_the_same_corpus_keeps_every_id_and_skips_unchanged_files(corpus: Path, tmp_path: Path) -> None:
    engine = _engine(tmp_path / "index.sqlite3")
    try:
        first = ingest([corpus], engine)
        before = _engine_ids(engine, corpus)
        # the files are read in another order and one of them changed: the others are skipped
        law = corpus / "regional" / "wages.md"
        law.write_text(law.read_text(encoding="utf-8") + "\n第三条 本办法自公布之日起施行。\n", encoding="utf-8")
        second = ingest([corpus / "regional", corpus / "laws", corpus / "cases"], engine)
        after = _engine_ids(engine, corpus)
        assert second.unchanged_files == first.files - 1
        assert second.deleted == 0
        regional = next(i for i in after - before)
        assert regional.endswith(".3") and after - before == {regional}
        assert before <= after
        assert engine.count() == len(after) == len(_prepared_ids([corpus]))
    finally:
        engine.close()


def test_a_file_without_a_namesake_keeps_its_plain_stem(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "wages.md", LAW.format(title="示范省工资支付条例"))
    assert _prepared_ids([tmp_path]) == {"wages", "wages.1", "wages.2"}


def test_a_namesake_added_later_leaves_no_stale_or_merged_documents(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _write(root / "laws" / "wages.md", LAW.format(title="示范省工资支付条例"))
    engine = _engine(tmp_path / "index.sqlite3")
    try:
        ingest([root], engine)
        assert _engine_ids(engine, root) == {"wages", "wages.1", "wages.2"}
        _write(root / "cases" / "wages.md", CASE.format(title="某公司拖欠工资案", law="示范省工资支付条例"))
        ingest([root], engine)
        ids = _engine_ids(engine, root)
        assert ids == _prepared_ids([root])
        assert engine.count() == len(ids) == 4
        assert engine.get("wages").kind == "law" and engine.ids_by_source_path(str(root / "laws" / "wages.md"))
    finally:
        engine.close()
