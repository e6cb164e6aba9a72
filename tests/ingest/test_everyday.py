"""Everyday questions: the files are valid, every article exists, none repeats an evaluation question."""

import json
import re
from pathlib import Path

import pytest

from ingest.everyday import EverydayError, load_entries, questions_by_article
from ingest.normalise import normalise
from ingest.pipeline import prepare_corpus
from ingest.resources import EVERYDAY_DIR as EVERYDAY
from tests.conftest import CORPUS, EVAL, LEXICON
from tests.ingest.test_lexicon import article_numbers


@pytest.fixture(scope="module")
def entries():
    return load_entries(EVERYDAY)


def test_every_entry_names_a_real_article(entries):
    assert len(entries) >= 600
    for e in entries:
        stem, _, number = e.article.rpartition(".")
        if not stem and (CORPUS / "cases" / f"{e.article}.md").exists():
            continue  # a case takes its questions whole
        law = CORPUS / "laws" / f"{stem or e.article}.md"
        assert law.exists(), f"{e.path.name}:{e.line_no}"
        if number and stem:
            assert int(number) in article_numbers(law), f"{e.path.name}:{e.line_no}: {e.article}"
        else:  # a whole text: only one without numbered articles
            assert not article_numbers(law), f"{e.path.name}:{e.line_no}: {e.article} has articles"


def test_the_national_texts_are_covered(entries):
    by_law = {e.article.rpartition(".")[0] for e in entries}
    for stem in (
        "labor-law",
        "labor-contract-law",
        "labor-contract-law-implementing-regulations",
        "labor-dispute-mediation-arbitration-law",
        "social-insurance-law",
        "work-injury-insurance-regulations",
        "work-injury-recognition-measures",
        "labor-dispute-judicial-interpretation-1",
        "labor-dispute-judicial-interpretation-2",
        "labor-dispatch-interim-provisions",
        "minimum-wage-provisions",
        "paid-annual-leave-regulations",
        "enterprise-paid-annual-leave-implementing-measures",
        "female-employees-special-labor-protection-provisions",
        "working-hours-provisions",
        "wage-payment-interim-provisions",
        "migrant-worker-wage-payment-regulations",
        "labor-security-supervision-regulations",
        "enterprise-bankruptcy-law",
        "legal-aid-law",
        "refusal-to-pay-labor-remuneration-criminal-interpretation",
    ):
        assert stem in by_law, stem


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", normalise(text))


def _bigrams(text: str) -> set[str]:
    k = _key(text)
    return {k[i : i + 2] for i in range(len(k) - 1)}


def test_no_question_repeats_an_evaluation_question(entries):
    asked = {}
    for path in sorted(EVAL.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                asked[q["q"]] = f"{path.name} {q['id']}"
    keys = {_key(q): where for q, where in asked.items()}
    grams = [(_bigrams(q), where) for q, where in asked.items()]
    for e in entries:
        for q in e.questions:
            assert _key(q) not in keys, f"{e.article}: {q!r} repeats {keys[_key(q)]}"
            mine = _bigrams(q)
            for theirs, where in grams:
                overlap = len(mine & theirs) / max(1, len(mine | theirs))
                assert overlap < 0.6, f"{e.article}: {q!r} nearly repeats {where}"


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    d = tmp_path / "everyday"
    d.mkdir(exist_ok=True)
    (d / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


@pytest.mark.parametrize(
    "line,message",
    [
        ("not json", "not JSON"),
        ('{"article": "model-law.2"}', "expected"),
        (
            '{"article": "model-law.二", "questions": ["一二三四五六", "一二三四五七", "一二三四五八"]}',
            "<law stem>.<number>",
        ),
        ('{"article": 2, "questions": ["一二三四五六", "一二三四五七", "一二三四五八"]}', "<law stem>.<number>"),
        ('{"article": "model-law.2", "questions": ["太短", "一二三四五七", "一二三四五八"]}', "characters"),
        ('{"article": "model-law.2", "questions": ["一二三四五六"]}', "3 to 8"),
        (
            '{"article": "model-law.2", "questions": ["一二三四五1", "一二三四五2", "一二三四五3", "一二三四五4", '
            '"一二三四五5", "一二三四五6", "一二三四五7", "一二三四五8", "一二三四五9"]}',
            "3 to 8",
        ),
        (
            '{"article": "other-law.2", "questions": ["一二三四五六", "一二三四五七", "一二三四五八"]}',
            "not an article of",
        ),
    ],
)
def test_a_malformed_line_is_refused_with_its_place(tmp_path, line, message):
    d = _write(tmp_path, "model-law.jsonl", ["", line])
    with pytest.raises(EverydayError, match=re.escape(message)) as info:
        load_entries(d)
    assert info.value.line_no == 2 and "model-law.jsonl:2" in str(info.value)


def test_an_article_missing_from_an_ingested_law_is_an_error_and_other_laws_are_ignored(tmp_path):
    d = _write(
        tmp_path,
        "model-law.jsonl",
        ['{"article": "model-law.99", "questions": ["老板拖欠工资怎么办", "工资三个月没发了", "欠薪去哪里投诉"]}'],
    )
    entries = load_entries(d)
    with pytest.raises(EverydayError, match="no such article"):
        questions_by_article(entries, {"model-law"}, {"model-law.1", "model-law.2"})
    assert questions_by_article(entries, {"another-law"}, {"another-law.1"}) == {}


def test_questions_reach_the_article_and_its_content_hash():
    docs, _ = prepare_corpus([CORPUS / "laws" / "labor-dispute-mediation-arbitration-law.md"], LEXICON)
    fee = next(d for d in docs if d.id == "labor-dispute-mediation-arbitration-law.53")
    assert len(fee.questions) >= 3
    assert fee.tokens["questions"] and ":q" in fee.content_hash
    purpose = next(d for d in docs if d.id == "labor-dispute-mediation-arbitration-law.1")
    assert purpose.questions == [] and purpose.tokens["questions"] == ""


def test_a_whole_text_entry_names_a_text_without_articles(tmp_path):
    # the notice on monthly working days (21.75 paid days a month) has no numbered articles: its
    # questions go to the document itself; a law that has articles must name the article
    line = json.dumps(
        {"article": "model-law", "questions": ["日工资怎么折算", "一个月按几天算工资", "请一天假扣多少钱"]}
    )
    entry = load_entries(_write(tmp_path, "model-law.jsonl", [line]))[0]
    assert questions_by_article([entry], {"model-law"}, {"model-law"}) == {"model-law": list(entry.questions)}
    with pytest.raises(EverydayError, match="has numbered articles"):
        questions_by_article([entry], {"model-law"}, {"model-law.1"})


def test_a_notice_without_articles_takes_its_questions_whole():
    docs, _ = prepare_corpus([CORPUS / "laws" / "monthly-working-days-and-wage-conversion-notice.md"], LEXICON)
    (notice,) = docs
    assert notice.id == "monthly-working-days-and-wage-conversion-notice" and notice.kind == "policy"
    assert len(notice.questions) >= 5 and notice.tokens["questions"] and ":q" in notice.content_hash


def test_a_case_takes_everyday_questions_whole():
    # workers tell a case's situation ("早九晚九一周六天，试用期不干就被辞退"), never its name
    case = CORPUS / "cases" / "typical-2021-hrss-spc-overtime-refusing-illegal-excessive-overtime-dismissal.md"
    (doc,) = prepare_corpus([case], LEXICON)[0]
    assert doc.kind == "case" and len(doc.questions) >= 5
    assert doc.tokens["questions"] and ":q" in doc.content_hash


def test_every_case_of_the_corpus_has_everyday_questions():
    entries = {e.article for e in load_entries(LEXICON.parent / "everyday")}
    cases = {p.stem for p in (CORPUS / "cases").glob("*.md")}
    assert cases and cases <= entries
