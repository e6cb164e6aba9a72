"""The labour-law lexicon: the real data files load, malformed lines fail loudly, and the
data stays honest against the corpus (every expansion target really occurs in a text)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ingest.lexicon import FILES, Lexicon, LexiconError, load_lexicon
from ingest.normalise import fullwidth_to_halfwidth, normalise
from ingest.numerals import cn_to_int

REPO = Path(__file__).resolve().parents[2]
LEXICON_DIR = REPO / "ingest" / "resources" / "lexicon"
CORPUS_DIR = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return load_lexicon(LEXICON_DIR)


@pytest.fixture(scope="module")
def corpus_text() -> str:
    """All corpus files, normalised the way the index sees them, in one string."""
    paths = sorted(CORPUS_DIR.glob("laws/*.md")) + sorted(CORPUS_DIR.glob("cases/*.md"))
    assert paths, f"corpus not found at {CORPUS_DIR}"
    return "\n".join(normalise(p.read_text(encoding="utf-8")) for p in paths)


# ---- the real files -------------------------------------------------------------------


def test_real_files_load_with_expected_sizes(lex):
    assert len(lex.userdict) >= 300
    assert lex.thesaurus_lines >= 300
    assert len(lex.typos) >= 40
    assert {"怎么办", "吗", "请问", "我"} <= lex.filler
    assert len(lex.topics) >= 16


def test_loaded_once_per_directory(lex):
    assert load_lexicon(LEXICON_DIR) is lex
    assert load_lexicon(str(LEXICON_DIR)) is lex


def test_expand_maps_everyday_words_to_legal_terms(lex):
    assert "解除劳动合同" in dict(lex.expand("炒鱿鱼"))
    assert "社会保险" in dict(lex.expand("社保"))
    assert "上下班途中" in dict(lex.expand("上班路上"))
    assert "拖欠劳动报酬" in dict(lex.expand("欠薪"))
    assert lex.expand("没有这个词") == []
    weights = [w for _, w in lex.expand("炒鱿鱼")]
    assert weights == sorted(weights, reverse=True)
    assert all(0 < w < 1 for terms in lex.thesaurus.values() for _, w in terms)


def test_two_way_synonyms_expand_both_ways(lex):
    assert "经济补偿金" in dict(lex.expand("经济补偿"))
    assert "经济补偿" in dict(lex.expand("经济补偿金"))


def test_topics_for_text_and_tokens(lex):
    assert lex.topics_for("老板拖欠工资三个月不发")[0] == "wage_arrears"
    assert "work_injury" in lex.topics_for("上班路上出车祸算工伤吗")
    # a token list matches through thesaurus expansions too: 炒鱿鱼 -> 解除劳动合同
    assert "dismissal" in lex.topics_for(["被", "炒鱿鱼", "了"])
    assert lex.topics_for("今天天气很好") == []


def test_distress_topics_are_flagged(lex):
    distress = {t.id for t in lex.topics if t.distress}
    assert distress == {"wage_arrears", "bankruptcy", "dismissal", "work_injury"}


def test_typo_fix_respects_context(lex):
    assert lex.fix_typos("上班路上出车祸算工商吗") == "上班路上出车祸算工伤吗"
    # 工商 without an injury context is the market regulator: leave it alone
    assert lex.fix_typos("去工商局查公司登记") == "去工商局查公司登记"
    assert lex.fix_typos("被词退了有经挤补偿吗") == "被辞退了有经济补偿吗"


def test_jieba_entries_keep_thesaurus_words_whole(lex):
    words = {w for w, _, _ in lex.jieba_entries()}
    assert {"炒鱿鱼", "上班路上出车祸", "经济补偿金"} <= words


def test_filler_does_not_swallow_content_words(lex):
    content = set(lex.userdict) | set(lex.thesaurus)
    for topic in lex.topics:
        content.update(topic.triggers)
    assert not (lex.filler & content)
    assert not ({"不", "没", "没有", "未", "要"} & lex.filler)


def test_project_tokeniser_keeps_every_lexicon_word_whole(lex):
    # A thesaurus key the tokeniser splits (or strips, like the '+' in n+1) can never be looked up.
    from ingest.tokenise import Tokeniser

    tok = Tokeniser(lex.jieba_entries())
    words = set(lex.thesaurus) | set(lex.userdict) | {w for t in lex.topics for w in t.triggers}
    split = sorted(w for w in words if tok.cut_precise(w) != [w])
    assert not split, f"lexicon words the tokeniser cuts apart: {split}"


# ---- honesty against the corpus ---------------------------------------------------------


def test_every_expansion_target_occurs_in_the_corpus(lex, corpus_text):
    targets = {term for terms in lex.thesaurus.values() for term, _ in terms}
    missing = sorted(t for t in targets if t not in corpus_text)
    assert not missing, f"thesaurus expansion targets found in no corpus file: {missing}"


def test_unconditional_typos_never_occur_in_the_corpus(lex, corpus_text):
    # Replacing a string that a real text contains could corrupt a legitimate phrase.
    clashes = sorted(r.typo for r in lex.typo_rules if not r.contexts and r.typo in corpus_text)
    assert not clashes, f"typos that occur in the corpus need '? context' words: {clashes}"


def test_typo_corrections_are_known_words(lex, corpus_text):
    known = set(lex.userdict) | set(lex.thesaurus)
    unknown = sorted(c for c in lex.typos.values() if c not in known and c not in corpus_text)
    assert not unknown, f"typo corrections that neither the lexicon nor the corpus knows: {unknown}"


# ---- malformed input ------------------------------------------------------------------

GOOD = {
    "userdict.txt": "劳动合同 100 n\n试用期\n",
    "thesaurus.txt": "炒鱿鱼 => 解除劳动合同 |0.8\n社保 = 社会保险\n",
    "filler.txt": "吗\n怎么办\n",
    "typos.txt": "公伤 => 工伤\n工商 => 工伤 ? 认定\n",
    "topics.txt": "wage_arrears | 欠薪 | 欠薪, 拖欠工资 | distress\n",
}


def write_lexicon(directory: Path, **overrides: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (directory / name).write_text(overrides.get(name.removesuffix(".txt"), GOOD[name]), encoding="utf-8")
    return directory


def test_minimal_lexicon_loads(tmp_path):
    lex = load_lexicon(write_lexicon(tmp_path / "lx"))
    assert lex.userdict == {"劳动合同": (100, "n"), "试用期": (None, None)}
    assert lex.expand("社会保险") == [("社保", 0.9)]
    assert lex.expand("炒鱿鱼") == [("解除劳动合同", 0.8)]
    assert lex.topics[0].distress


BAD_CASES = [
    # (file, content, bad line, words the reason must contain)
    ("userdict", "劳动合同\n试用期 -5\n", 2, "frequency"),
    ("userdict", "劳动合同\n试用期 1.5 n\n", 2, "frequency"),
    ("userdict", "劳动合同 n 100\n", 1, "after the frequency"),
    ("userdict", "劳动合同 10 N0UN\n", 1, "tag"),
    ("userdict", "劳动合同 10 n extra\n", 1, "fields"),
    ("userdict", "# c\n劳动合同\n\n劳动合同\n", 4, "duplicate"),
    ("userdict", "勞動合同\n", 1, "not normalised"),
    ("thesaurus", "炒鱿鱼 => 解除劳动合同\n社保 社会保险\n", 2, "no '=>'"),
    ("thesaurus", "炒鱿鱼 => 解除劳动合同 => 辞退\n", 1, "exactly one"),
    ("thesaurus", "炒鱿鱼 => 辞退 = 开除\n", 1, "exactly one"),
    ("thesaurus", "炒鱿鱼 =>\n", 1, "no terms"),
    ("thesaurus", "炒鱿鱼, , 开除 => 辞退\n", 1, "empty term"),
    ("thesaurus", "炒鱿鱼 => 辞退 |1.5\n", 1, "between 0 and 1"),
    ("thesaurus", "炒鱿鱼 => 辞退 |abc\n", 1, "not a number"),
    ("thesaurus", "炒鱿鱼 => 炒鱿鱼, 辞退\n", 1, "both sides"),
    ("thesaurus", "社保 = 社保\n", 1, "twice"),
    ("thesaurus", "炒 鱿鱼 => 辞退\n", 1, "whitespace"),
    ("thesaurus", "ＡＢＣ => 辞退\n", 1, "not normalised"),
    ("filler", "吗\n怎么 办\n", 2, "one filler word"),
    ("filler", "吗\n吗\n", 2, "duplicate"),
    ("typos", "公伤 工伤\n", 1, "expected"),
    ("typos", "公伤 => 公伤\n", 1, "same"),
    ("typos", "公伤 => 工伤\n公伤 => 攻伤\n", 2, "duplicate"),
    ("typos", "工商 => 工伤 ?\n", 1, "no terms"),
    ("topics", "wage_arrears | 欠薪\n", 1, "expected"),
    ("topics", "Wage | 欠薪 | 欠薪\n", 1, "bad topic id"),
    ("topics", "a | 欠薪 | 欠薪\na | 工伤 | 工伤\n", 2, "duplicate"),
    ("topics", "a | 欠薪 | 欠薪 | urgent\n", 1, "unknown flag"),
    ("topics", "a |  | 欠薪\n", 1, "empty topic name"),
    ("topics", "a | 欠薪 | \n", 1, "no terms"),
]


@pytest.mark.parametrize(("stem", "content", "line_no", "reason"), BAD_CASES)
def test_malformed_line_names_file_and_line(tmp_path, stem, content, line_no, reason):
    directory = write_lexicon(tmp_path / "lx", **{stem: content})
    with pytest.raises(LexiconError) as info:
        load_lexicon(directory)
    err = info.value
    assert err.path.name == f"{stem}.txt"
    assert err.line_no == line_no
    assert reason in err.reason
    assert f"{stem}.txt:{line_no}:" in str(err)


def test_undecodable_line_is_reported_with_its_number(tmp_path):
    directory = write_lexicon(tmp_path / "lx")
    (directory / "filler.txt").write_bytes("吗\n".encode() + "怎么办\n".encode("gbk"))
    with pytest.raises(LexiconError, match=r"filler\.txt:2: not valid UTF-8"):
        load_lexicon(directory)


def test_missing_file_is_an_error(tmp_path):
    directory = write_lexicon(tmp_path / "lx")
    (directory / "typos.txt").unlink()
    with pytest.raises(LexiconError, match=r"typos\.txt: file not found"):
        load_lexicon(directory)


def test_bom_and_full_width_comma_are_accepted(tmp_path):
    directory = write_lexicon(tmp_path / "lx", thesaurus="\ufeff炒鱿鱼，被炒 => 辞退\n")
    lex = load_lexicon(directory)
    assert lex.expand("被炒") == [("辞退", 0.7)]


def test_edited_copy_of_real_lexicon_fails_instead_of_loading_partly(tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(LEXICON_DIR, directory)
    with (directory / "thesaurus.txt").open("a", encoding="utf-8") as fh:
        fh.write("这一行没有箭头\n")
    n_lines = (directory / "thesaurus.txt").read_text(encoding="utf-8").count("\n")
    with pytest.raises(LexiconError) as info:
        load_lexicon(directory)
    assert info.value.line_no == n_lines


# ---- the relevance evaluation sets (corpus/eval/questions.jsonl, blind-*.jsonl) ---------

EVAL_DIR = REPO / "corpus" / "eval"
# file -> (id prefix, minimum questions, minimum per slice, typos must be ones the lexicon knows)
EVAL_SETS = {
    "questions.jsonl": ("q", 90, 15, True),
    # written blind (without the lexicon or the engine): typos are whatever a worker would type
    "blind-1.jsonl": ("h", 50, 10, False),
    "blind-2.jsonl": ("b", 50, 10, False),
    "blind-3.jsonl": ("t", 80, 14, False),
    "blind-4.jsonl": ("f", 80, 14, False),
    "blind-5.jsonl": ("v", 100, 15, False),
    "blind-6.jsonl": ("s", 100, 15, False),
    "blind-7.jsonl": ("w", 100, 15, False),
    "blind-8.jsonl": ("x", 100, 15, False),
    "blind-9.jsonl": ("y", 100, 15, False),
    "blind-10.jsonl": ("z", 100, 15, False),
    "blind-11.jsonl": ("k", 100, 15, False),
}
SLICES = ("colloquial", "legal", "traditional", "typo", "case")
# long situation stories (40-120 characters), asked of blind sets from blind-3 on
STORY_SETS = {
    "blind-3.jsonl",
    "blind-4.jsonl",
    "blind-5.jsonl",
    "blind-6.jsonl",
    "blind-7.jsonl",
    "blind-8.jsonl",
    "blind-9.jsonl",
    "blind-10.jsonl",
    "blind-11.jsonl",
}
_ARTICLE_HEADING = re.compile(r"^第([零〇一二两三四五六七八九十百千\d]+)条[\s\u3000]")


def article_numbers(law_file: Path) -> set[int]:
    """Article numbers of a law file, from its ``第N条`` headings at the start of a line."""
    numbers = set()
    for line in law_file.read_text(encoding="utf-8").splitlines():
        m = _ARTICLE_HEADING.match(line)
        if m:
            numbers.add(cn_to_int(m.group(1)))
    return numbers


def read_eval_set(name: str) -> list[dict]:
    rows = []
    for no, line in enumerate((EVAL_DIR / name).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                pytest.fail(f"{name}:{no}: not JSON: {exc}")
    return rows


@pytest.fixture(scope="module", params=sorted(EVAL_SETS))
def eval_set(request) -> tuple[str, list[dict]]:
    return request.param, read_eval_set(request.param)


@pytest.fixture(scope="module")
def questions(eval_set) -> list[dict]:
    return eval_set[1]


def test_article_parser_agrees_with_front_matter_counts():
    law = CORPUS_DIR / "laws" / "labor-contract-law.md"
    assert article_numbers(law) == set(range(1, 99))  # 98 articles, 1..98


def test_eval_questions_are_well_formed(eval_set):
    name, questions = eval_set
    prefix, at_least, per_slice, _ = EVAL_SETS[name]
    assert len(questions) >= at_least
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate question ids"
    for q in questions:
        assert set(q) == {"id", "q", "slice", "relevant"}, q["id"]
        assert re.fullmatch(prefix + r"\d{3}", q["id"]) and q["q"].strip(), q["id"]
        assert q["slice"] in SLICES or (name in STORY_SETS and q["slice"] == "story"), q["id"]
        if q["slice"] == "story":
            assert 40 <= len(q["q"]) <= 120, q["id"]
        assert q["relevant"] and set(q["relevant"].values()) <= {1, 2}, q["id"]
        assert 2 in q["relevant"].values(), f"{q['id']} has no document that answers it"
    for slice_name in SLICES + (("story",) if name in STORY_SETS else ()):
        assert sum(q["slice"] == slice_name for q in questions) >= per_slice, slice_name


def test_no_question_is_asked_twice_across_the_sets():
    seen: dict[str, str] = {}
    for name in sorted(EVAL_SETS):
        for q in read_eval_set(name):
            key = normalise(q["q"])
            assert key not in seen, f"{name} {q['id']} repeats {seen[key]}"
            seen[key] = f"{name} {q['id']}"


def unresolved_ids(pairs) -> list[tuple[str, str]]:
    """The ``(question id, document id)`` pairs whose document names no corpus file or article."""
    laws = {p.stem: p for p in (CORPUS_DIR / "laws").glob("*.md")}
    cases = {p.stem for p in (CORPUS_DIR / "cases").glob("*.md")}
    articles: dict[str, set[int]] = {}
    unresolved = []
    for qid, doc_id in pairs:
        stem, _, number = doc_id.partition(".")
        if not number:
            if stem not in laws and stem not in cases:
                unresolved.append((qid, doc_id))
        elif stem not in laws:
            unresolved.append((qid, doc_id))
        else:
            if stem not in articles:
                articles[stem] = article_numbers(laws[stem])
            if not number.isdigit() or int(number) not in articles[stem]:
                unresolved.append((qid, doc_id))
    return unresolved


def test_eval_ids_resolve_to_corpus_documents(questions):
    unresolved = unresolved_ids((q["id"], doc_id) for q in questions for doc_id in q["relevant"])
    assert not unresolved, f"ids that name no corpus file or article: {unresolved}"


def test_pooled_zeros_name_judged_pairs_of_the_evaluation_sets():
    """``pooled-zeros.json``: documents judged 0 in a pooling pass, never also graded, all real."""
    zeros = json.loads((EVAL_DIR / "pooled-zeros.json").read_text(encoding="utf-8"))["zero"]
    graded = {q["id"]: q["relevant"] for name in EVAL_SETS for q in read_eval_set(name)}
    assert set(zeros) <= set(graded)
    pairs = [(qid, doc_id) for qid, docs in zeros.items() for doc_id in docs]
    assert len(pairs) == len(set(pairs))
    assert not [p for p in pairs if p[1] in graded[p[0]]], "a document both graded and judged 0"
    assert not unresolved_ids(pairs)


def test_eval_slices_mean_what_they_say(eval_set, lex):
    name, questions = eval_set
    known_typos_only = EVAL_SETS[name][3]
    cases = {p.stem for p in (CORPUS_DIR / "cases").glob("*.md")}
    for q in questions:
        norm = normalise(q["q"])
        simplified = norm == fullwidth_to_halfwidth(q["q"]).lower()
        if q["slice"] == "traditional":
            assert not simplified, f"{q['id']} is not written in traditional characters"
        else:
            assert simplified, f"{q['id']} should be written in simplified characters"
        if q["slice"] == "typo" and known_typos_only:
            # typo questions use typos the lexicon knows; add new ones to typos.txt with the question
            assert lex.fix_typos(norm) != norm, f"{q['id']}: no known typo in {q['q']!r}"
        if q["slice"] == "case":
            answered_by = {doc_id for doc_id, grade in q["relevant"].items() if grade == 2}
            assert answered_by & cases, f"{q['id']}: a case question needs a case graded 2"
