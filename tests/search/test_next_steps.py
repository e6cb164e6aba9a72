"""The next-steps file and the district contacts file: what they say is in the corpus, and mistakes name file:line."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

import pytest
import yaml

from ingest.lexicon import load_lexicon
from search_api.calc import CALCULATORS
from search_api.search.steps_config import (
    DEFAULT_NEXT_STEPS,
    StepsConfigError,
    load_contacts,
    load_for,
    load_next_steps,
)
from tests.conftest import CORPUS, LEXICON, make_settings

TOPIC_IDS = [t.id for t in load_lexicon(LEXICON).topics]
DISTRICTS = ["市南区", "市北区"]
# The deadlines the issue names, each with the words of its article that set it.
DEADLINES = {
    "labor-dispute-mediation-arbitration-law.27": "仲裁的时效期间为一年",
    "work-injury-insurance-regulations.17": "30日内",
    "labor-security-supervision-regulations.20": "在2年内未被劳动保障行政部门发现",
    "labor-dispute-mediation-arbitration-law.48": "十五日内向人民法院提起诉讼",
    "labor-dispute-mediation-arbitration-law.50": "十五日内向人民法院提起诉讼",
}
# The issue's topics → the lexicon topic that carries each.
ISSUE_TOPICS = {
    "wages": "wage_arrears",
    "dismissal/resignation": "dismissal",
    "work injury": "work_injury",
    "social insurance": "social_insurance",
    "contract": "labor_contract",
    "overtime and hours": "overtime_hours",
    "leave": "leave",
    "women workers": "female_workers",
    "dispatch": "dispatch",
    "platform work": "employment_relation",
    "bankruptcy": "bankruptcy",
    "arbitration/litigation": "dispute_resolution",
}


def corpus_articles() -> dict[str, str]:
    """Every article of /work/shared/corpus/laws as ``<law file stem>.<n>`` → its text, segmented by ingest."""
    from ingest.pipeline import prepare_corpus

    docs, _ = prepare_corpus([CORPUS / "laws"], lexicon_dir=LEXICON)
    return {d.id: d.text for d in docs if d.kind == "article"}


@pytest.fixture(scope="module")
def steps():
    return load_next_steps(DEFAULT_NEXT_STEPS, TOPIC_IDS, CALCULATORS)


def test_every_cited_article_exists_in_the_corpus(steps):
    articles = corpus_articles()
    missing = sorted(steps.article_ids() - set(articles))
    assert not missing, f"next steps cite articles the corpus does not have: {missing}"
    for doc_id, words in DEADLINES.items():
        assert doc_id in steps.article_ids(), doc_id
        assert words in re.sub(r"\s+", "", articles[doc_id]), doc_id
    # 工伤认定: 30 days for the employer, one year for the worker, both in 第十七条
    assert "1年内" in articles["work-injury-insurance-regulations.17"]


def test_every_topic_of_the_issue_has_its_steps(steps):
    for name, topic in ISSUE_TOPICS.items():
        entry = steps.for_topics([topic])
        assert entry is not None and entry.topic == topic, name
        assert entry.where or entry.deadlines, name
    assert steps.for_topics(["occupational_disease"]).topic == "work_injury"
    assert steps.for_topics(["trade_union"]) is None
    dismissal = steps.for_topics(["dismissal"])
    assert "severance" in dismissal.calculators and dismissal.evidence


def load_text(tmp_path, text: str, name: str = "steps.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("topics: {}\n", 1, "缺少 general"),
        ("general:\n  where:\n    - text: 好\n      articel: labor-law.1\n", 4, "不认识的字段 articel"),
        ("general:\n  where:\n    - text: 好\n      article: 劳动法第一条\n", 4, "article 须是条文编号"),
        ("general: {}\ntopics:\n  wages:\n    name: 工资\n", 3, "主题 wages 不在 topics.txt 里"),
        ("general:\n  calculators: [severance, pension]\n", 2, "pension 不存在"),
        ("general:\n  where:\n    - article: labor-law.1\n", 3, "缺少字段 text"),
        ("general:\n  where: 不是列表\n", 2, "须是列表"),
        ("general:\n  where:\n    - text: [a\n", 4, "不是有效的 YAML"),
    ],
)
def test_a_mistake_in_the_next_steps_file_names_file_and_line(tmp_path, text, line, words):
    assert_refused(lambda path: load_next_steps(path, TOPIC_IDS, CALCULATORS), tmp_path, text, line, words)


def assert_refused(load, tmp_path, text: str, line: int, words: str) -> None:
    """Loading ``text`` fails with ``<file>:<line>: …`` and the message contains ``words``."""
    path = load_text(tmp_path, text)
    with pytest.raises(StepsConfigError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert words in message


def test_contacts_are_read_per_district(tmp_path):
    path = load_text(
        tmp_path,
        """\
        contacts:
          - district: 市南区
            name: 市南区劳动人事争议仲裁院
            address: 某某路1号
            phone: 0532-0000 0000
          - district: 市南区
            name: 区总工会法律服务站
            address: 某某路2号
        """,
        "contacts.yaml",
    )
    contacts = load_contacts(path, DISTRICTS)
    assert [c.name for c in contacts["市南区"]] == ["市南区劳动人事争议仲裁院", "区总工会法律服务站"]
    assert contacts["市南区"][0].phone == "0532-0000 0000"
    assert "市北区" not in contacts
    assert load_contacts(None, DISTRICTS) == {}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "contacts:\n  - district: 火星区\n    name: 某处\n    phone: '123'\n",
            2,
            "区 火星区 不在 LABOURKB_DISTRICTS 里",
        ),
        ("contacts:\n  - district: 市南区\n    name: 某处\n    phone: 请拨打\n", 4, "phone 须是电话号码"),
        ("contacts:\n  - district: 市南区\n    name: 某处\n", 2, "address 和 phone 至少要填一个"),
        ("contacts:\n  - name: 某处\n    phone: '123'\n", 2, "缺少字段 district"),
        ("contacts:\n  - district: 市南区\n    name: 某处\n    fax: '1'\n", 4, "不认识的字段 fax"),
        ("wages: []\n", 1, "不认识的字段 wages"),
    ],
)
def test_a_mistake_in_the_contacts_file_names_file_and_line(tmp_path, text, line, words):
    assert_refused(lambda path: load_contacts(path, DISTRICTS), tmp_path, text, line, words)


def test_the_example_contacts_file_is_valid_and_marked_as_an_example():
    from tests.conftest import REPO_ROOT

    path = REPO_ROOT / "docs" / "district-contacts.example.yaml"
    contacts = load_contacts(path, ["示例区"])
    assert contacts["示例区"]
    text = path.read_text(encoding="utf-8")
    assert "示例" in text and all("示例" in c.name for c in contacts["示例区"])
    # no invented official numbers: the example's phone numbers are visibly placeholders
    for c in contacts["示例区"]:
        assert not c.phone or set(c.phone.replace("-", "").replace(" ", "")) <= {"0"}, c.phone
    assert yaml.safe_load(text)["contacts"]


def test_a_bad_file_stops_the_start(tmp_path):
    from search_api.app import create_app

    bad = load_text(tmp_path, "contacts:\n  - district: 火星区\n    name: 某处\n    phone: '1'\n", "contacts.yaml")
    settings = make_settings(tmp_path / "data", district_contacts_file=bad)
    with pytest.raises(StepsConfigError, match=rf"^{re.escape(str(bad))}:2: "):
        create_app(settings)
    steps = load_text(tmp_path, "general: {}\ntopics:\n  nope: {}\n")
    with pytest.raises(StepsConfigError, match=rf"^{re.escape(str(steps))}:3: "):
        create_app(make_settings(tmp_path / "data2", next_steps_file=steps))
    assert load_for(make_settings(tmp_path / "data3"), TOPIC_IDS, CALCULATORS)[1] == {}


class _Recording:
    """An engine whose ``get_many`` answers from ``docs`` and remembers what it was asked for."""

    def __init__(self, docs):
        self.docs, self.asked = docs, []

    def get_many(self, ids, light=False):
        self.asked.append(list(ids))
        return [self.docs[i] for i in ids if i in self.docs]


def test_the_panel_reads_only_the_articles_it_cites(steps):
    from ingest.pipeline import prepare_corpus
    from search_api.search.nextsteps import next_steps

    docs, _ = prepare_corpus([CORPUS / "laws"], lexicon_dir=LEXICON)
    engine = _Recording({d.id: d for d in docs})
    for topics in ([], ["wage_arrears"], ["work_injury"], ["dismissal"]):
        engine.asked.clear()
        panel = next_steps(engine, steps, topics)
        (asked,) = engine.asked
        cited = {
            line["url"].rsplit("/", 1)[-1]
            for key, lines in panel.items()
            if isinstance(lines, list) and key != "steps"
            for line in lines
            if isinstance(line, dict) and "url" in line and line["url"].startswith("/doc/")
        }
        assert set(asked) == cited, topics  # every line's source found, nothing else decoded
        assert len(asked) < len(steps.article_ids()), topics


def test_the_cited_articles_titles_are_read_once_per_index_generation(steps):
    """Reading them for every result page was a quarter of the page's time (docs/benchmarks.md, session 18)."""
    from ingest.pipeline import prepare_corpus
    from search_api.search.nextsteps import next_steps

    docs, _ = prepare_corpus([CORPUS / "laws"], lexicon_dir=LEXICON)
    engine = _Recording({d.id: d for d in docs})
    engine.version = 1
    engine.generation = lambda: engine.version
    first = next_steps(engine, steps, ["wage_arrears"])
    assert len(engine.asked) == 1
    assert next_steps(engine, steps, ["wage_arrears"]) == first and len(engine.asked) == 1  # nothing read again
    next_steps(engine, steps, ["work_injury"])  # another topic: only its articles not yet read
    assert len(engine.asked) == 2 and not set(engine.asked[1]) & set(engine.asked[0])
    retitled = next(i for i in engine.asked[0] if i.startswith("labor-contract-law."))
    engine.docs[retitled] = replace(engine.docs[retitled], short_title="新标题")
    engine.version = 2  # the index changed (a re-ingest): read again, the new title shown
    again = next_steps(engine, steps, ["wage_arrears"])
    assert len(engine.asked) == 3 and "《新标题》" in str(again)
