"""Laws no longer in force: a law's own status, and repeals declared by another law."""

import pytest

from ingest.load import load_file
from ingest.pipeline import prepare_corpus
from ingest.segment import PRIORS, REPEALED_FACTOR, WHOLE_LAW_FACTOR, segment
from ingest.validity import repealed_titles
from tests.conftest import CORPUS, LEXICON

OLD = """---
title: "示范省劳动监察规定"
kind: local_regulation
{status}---

# 示范省劳动监察规定

第一条 用人单位拖欠工资的，劳动者可以向劳动监察机构投诉。

第二条 本规定自1995年1月1日起施行。
"""
NEW = """---
title: "示范省劳动保障监察条例"
kind: local_regulation
---

# 示范省劳动保障监察条例

第一条 用人单位拖欠工资的，劳动者可以向劳动保障监察机构投诉。

第二条 本条例自2010年1月1日起施行。1995年发布的《示范省劳动监察规定》同时废止。
"""


@pytest.mark.parametrize(
    "text,titles",
    [
        ("本规定自公布之日起施行。1988年7月21日国务院发布的《女职工劳动保护规定》同时废止。", ["女职工劳动保护规定"]),
        ("本条例自2022年1月1日起施行。《甲条例》和《乙条例》同时废止。", ["甲条例", "乙条例"]),
        ("《丙办法》予以废止", ["丙办法"]),
        # a condition, not a repeal; a citation, not a repeal
        ("（一）订立合同所依据的《劳动法》等法律、法规被修改或者废止的；", []),
        ("依照《中华人民共和国劳动合同法》第四十七条的规定支付。", []),
    ],
)
def test_repealed_titles_reads_only_repealing_sentences(text, titles):
    assert repealed_titles(text) == titles


@pytest.mark.parametrize("status", ["repealed", "已废止", "失效"])
def test_status_in_front_matter_marks_every_document_and_lowers_the_prior(tmp_path, status):
    path = tmp_path / "old.md"
    path.write_text(OLD.format(status=f"status: {status}\n"), encoding="utf-8")
    (raw,) = load_file(path)
    docs = segment(raw)
    assert docs and all(not d.in_force for d in docs)
    article = next(d for d in docs if d.kind == "article")
    assert article.prior == pytest.approx(PRIORS["local_regulation"] * REPEALED_FACTOR)
    assert docs[0].prior == pytest.approx(article.prior * WHOLE_LAW_FACTOR)


def test_a_law_repealed_by_another_in_the_corpus_is_marked(tmp_path):
    (tmp_path / "old.md").write_text(OLD.format(status=""), encoding="utf-8")
    (tmp_path / "new.md").write_text(NEW, encoding="utf-8")
    docs, _ = prepare_corpus([tmp_path], lexicon_dir=LEXICON)
    by_id = {d.id: d for d in docs}
    assert not by_id["old"].in_force and not by_id["old.1"].in_force
    assert by_id["new"].in_force and by_id["new.1"].in_force
    assert by_id["old.1"].prior == pytest.approx(by_id["new.1"].prior * REPEALED_FACTOR)


def test_a_law_that_names_its_own_earlier_version_stays_in_force():
    # 工会法 §58 repeals the 1950 《中华人民共和国工会法》: the same title, the law itself
    docs, _ = prepare_corpus([CORPUS / "laws" / "trade-union-law.md"], lexicon_dir=LEXICON)
    assert all(d.in_force for d in docs)
    assert "中华人民共和国工会法" in repealed_titles(next(d.text for d in docs if d.id == "trade-union-law.58"))


def test_the_real_corpus_has_no_law_marked_repealed():
    # every law the corpus' final provisions repeal is an older text that is not in the corpus
    docs, _ = prepare_corpus([CORPUS / "laws"], lexicon_dir=LEXICON)
    assert [d.id for d in docs if not d.in_force] == []


def test_a_repealed_paragraph_leaves_the_law_and_the_article_in_force(tmp_path):
    # 解释（二）第二十一条 repeals 解释（一）第三十二条第一款 only: nothing of 解释（一） goes out of force
    text = "本解释自2025年9月1日起施行。《示范省劳动监察规定》（示范〔2020〕26号）第一条第一款同时废止。"
    assert repealed_titles(text) == []
    (tmp_path / "old.md").write_text(OLD.format(status=""), encoding="utf-8")
    (tmp_path / "new.md").write_text(
        NEW.replace("1995年发布的《示范省劳动监察规定》同时废止。", text), encoding="utf-8"
    )
    docs, _ = prepare_corpus([tmp_path], lexicon_dir=LEXICON)
    assert all(d.in_force for d in docs)


def test_a_repealed_article_goes_out_of_force_alone(tmp_path):
    (tmp_path / "old.md").write_text(OLD.format(status=""), encoding="utf-8")
    (tmp_path / "new.md").write_text(
        NEW.replace("1995年发布的《示范省劳动监察规定》同时废止。", "《示范省劳动监察规定》第一条同时废止。"),
        encoding="utf-8",
    )
    docs, _ = prepare_corpus([tmp_path], lexicon_dir=LEXICON)
    by_id = {d.id: d for d in docs}
    assert not by_id["old.1"].in_force
    assert by_id["old"].in_force and by_id["old.2"].in_force
