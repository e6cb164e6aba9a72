"""Employer recognition on the phrasings of ``employer_phrasings`` and the union's versioned list."""

from __future__ import annotations

import pytest

from search_api import db
from search_api.accounts.store import Store
from search_api.errors import Conflict, Invalid
from search_api.monitoring.brands import builtin_aliases
from search_api.monitoring.employer_list import EmployerList, recogniser_for
from search_api.monitoring.employers import MASK, Recogniser, extract_employers, hide_tokens, lexicon_aliases
from tests.conftest import LEXICON, make_settings
from tests.monitoring.employer_phrasings import NAMED, NOT_NAMED


@pytest.fixture(scope="module")
def recogniser():
    return Recogniser((*lexicon_aliases(LEXICON), *builtin_aliases()))


def test_the_list_is_long_enough():
    assert len(NAMED) + len(NOT_NAMED) >= 50


@pytest.mark.parametrize(("query", "names"), NAMED, ids=[q for q, _ in NAMED])
def test_named_employers_are_found_and_masked(recogniser, query, names):
    assert recogniser.extract(query) == names
    masked = recogniser.mask(query)
    assert MASK in masked
    for found in recogniser.find(query):
        assert query[found.start : found.end] not in masked


@pytest.mark.parametrize("query", NOT_NAMED)
def test_ordinary_words_are_not_employers(recogniser, query):
    assert recogniser.extract(query) == []
    assert recogniser.mask(query) == query


def test_spellings_of_one_employer_count_as_one(recogniser):
    spellings = ["华为拖欠工资", "華為拖欠工資", "华为技术有限公司欠薪", "华为青岛分公司裁员", "在华为上班被辞退"]
    assert {name for q in spellings for name in recogniser.extract(q)} == {"华为"}


def test_allowed_employers_stay_visible(recogniser):
    assert recogniser.mask("华为拖欠工资，宏达倒闭了", {"华为"}) == "华为拖欠工资，[用人单位]倒闭了"


def test_tokens_of_a_hidden_name_are_hidden():
    assert hide_tokens(["宏达", "五金厂", "欠薪"], ["宏达五金厂"]) == [MASK, "欠薪"]
    assert hide_tokens(["欠薪"], []) == ["欠薪"]


def test_old_functions_keep_working():
    assert extract_employers("鸿海欠薪", (("鸿海", "富士康科技集团"),)) == ["富士康科技集团"]
    assert extract_employers("顺丰不交社保") == ["顺丰"]


# ---- the union's list


@pytest.fixture
def store(tmp_path):
    return Store(db.open_database(tmp_path / "store.sqlite", "app"))


@pytest.fixture
def reviewer(store):
    return store.users.create("rev", "a-long-password-1", "reviewer")


def test_saves_are_versions_with_who_and_when(store, reviewer):
    employers = store.employers
    assert employers.version() == 0 and employers.current().entries == []
    first = employers.save(reviewer, "宏达五金厂 = 宏达、宏达五金\n# 备注行\n", "", base_version=0)
    assert (first.version, first.changed_by_name, first.summary) == (1, "rev", "新增 宏达五金厂")
    assert first.changed_at.endswith("Z")
    second = employers.save(reviewer, "宏达五金厂 = 宏达\n金鹏物流", "某某厂", base_version=1)
    assert second.version == 2 and "新增 金鹏物流" in second.summary and "修改别名 宏达五金厂" in second.summary
    assert [v.version for v in employers.history()] == [2, 1]
    assert employers.get(1).entries == [("宏达五金厂", ["宏达", "宏达五金"])]
    assert employers.current().excluded == ["某某厂"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("公司", "泛指"),
        ("宏达 = 老板", "泛指"),
        ("宏达 = 劳动合同法", "法律法规"),
        ("宏达 = 青岛", "地名"),
        ("宏达 = 宏", "太短"),
        ("宏达\n金鹏 = 宏达", "已是"),
        ("= 宏达", "缺少"),
    ],
)
def test_refused_lines_name_the_reason(store, reviewer, text, why):
    with pytest.raises(Invalid) as refused:
        store.employers.save(reviewer, text, "")
    assert why in refused.value.errors["entries"]
    assert store.employers.version() == 0


def test_a_stale_form_does_not_overwrite_a_newer_version(store, reviewer):
    store.employers.save(reviewer, "宏达", "", base_version=0)
    with pytest.raises(Conflict):
        store.employers.save(reviewer, "金鹏", "", base_version=0)
    assert store.employers.current().entries == [("宏达", [])]


def test_every_process_sees_a_save_at_its_next_use(tmp_path):
    settings = make_settings(tmp_path)
    store = Store(db.app_database(settings))
    user = store.users.create("rev", "a-long-password-1", "reviewer")
    assert recogniser_for(settings).extract("小蜜蜂外卖的加班费怎么算") == []  # no list, no shape
    # another process: its own connection to the same store file
    EmployerList(db.app_database(settings)).save(user, "蜜蜂速配 = 小蜜蜂外卖、小蜜蜂", "宏达")
    recogniser = recogniser_for(settings)
    assert recogniser.extract("小蜜蜂外卖的加班费怎么算") == ["蜜蜂速配"]
    assert recogniser.extract("宏达倒闭了") == []  # the union's excluded word
    assert recogniser.extract("华为裁员") == ["华为"]  # the built-in brands stay
