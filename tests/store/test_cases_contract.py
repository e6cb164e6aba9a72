"""The store contract of cases and the versioned lists (employer list, search additions, gap
actions): each test on a SQLite file and on a fresh PostgreSQL schema.

"Two servers" are ``app_db`` and ``second_server`` (tests/store/conftest.py): two
:class:`Database` objects on the same store, each with its own engine and pool, as two app
servers have. Version numbers they assign at the same moment never collide (the store's write
lock serialises the read-modify-write), and what one saves is seen by the other at its next
version probe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from search_api import db
from search_api.accounts.users import User
from search_api.cases.index import CaseIndex, published_documents
from search_api.cases.store import CaseStore
from search_api.cases.workflow import CaseService
from search_api.errors import Conflict, Invalid
from search_api.monitoring.employer_list import EmployerList
from search_api.monitoring.gap_actions import GapActions
from search_api.search.additions import AdditionStore, approved_questions, approved_thesaurus
from tests.fixtures.cases import CASE

ARTICLE = "labor-contract-law.47"


def make_user(database: db.Database, username: str, role: str) -> User:
    with database.transaction() as conn:
        user_id = conn.scalar(
            "INSERT INTO users (username, password_hash, role, display_name, created_at)"
            " VALUES (:u, 'x', :role, :display, :at) RETURNING id",
            {"u": username, "role": role, "display": username.upper(), "at": db.now_iso()},
        )
    return User(id=user_id, username=username, role=role, display_name=username.upper())


@pytest.fixture
def people(app_db) -> dict[str, User]:
    return {
        "lawyer": make_user(app_db, "lawyer1", "lawyer"),
        "other": make_user(app_db, "lawyer2", "lawyer"),
        "reviewer": make_user(app_db, "reviewer1", "reviewer"),
        "reviewer2": make_user(app_db, "reviewer2", "reviewer"),
    }


def run_together(jobs: list[Callable[[], None]]) -> None:
    """Run ``jobs`` in threads started together; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# ---------------------------------------------------------------- cases


def test_a_case_through_review_publication_correction_and_withdrawal(app_db, people):
    store = CaseStore(app_db)
    service = CaseService(store, CaseIndex())
    lawyer, reviewer = people["lawyer"], people["reviewer"]

    case = service.create(lawyer, CASE)
    assert (case.state, case.current_version, case.published_version, case.author) == ("draft", 1, None, "lawyer1")
    assert case.current.data["title"] == CASE["title"] and case.current.author == "lawyer1"
    assert service.update(lawyer, case.id, {**CASE, "region": "上海"}, base_version=1).current_version == 2
    assert service.submit(lawyer, case.id).state == "submitted"
    returned = service.review(reviewer, case.id, "return", "请补充\x00证据")
    assert returned.state == "returned" and returned.current_version == 2
    assert service.update(lawyer, case.id, {**CASE, "region": "天津"}).state == "draft"
    service.submit(lawyer, case.id)
    published = service.review(reviewer, case.id, "publish")
    assert (published.state, published.published_version, published.live) == ("published", 3, True)
    assert published.published_at

    [doc] = published_documents(store)
    assert (doc.id, doc.region, doc.published) == (f"lawyer-case-{case.id}", "天津", published.published_at[:10])

    # a correction: a new draft on top, while version 3 stays published and is what others see
    corrected = service.update(lawyer, case.id, {**CASE, "region": "重庆"})
    assert (corrected.state, corrected.current_version, corrected.published_version) == ("draft", 4, 3)
    assert corrected.live
    assert service.get(people["other"], case.id).current.data["region"] == "天津"
    assert [(d.id, d.region) for d in published_documents(store)] == [(doc.id, "天津")]
    assert store.get_version(case.id, 3).data["region"] == "天津"
    assert [c.id for c in store.list(live=True)] == [case.id]
    assert [c.id for c in store.list(states=("draft", "returned"), author_id=lawyer.id)] == [case.id]
    assert store.list(author_id=people["other"].id) == []
    assert store.list(states=("submitted",)) == []

    withdrawn = service.withdraw(lawyer, case.id, "作废")
    assert (withdrawn.state, withdrawn.published_version, withdrawn.live) == ("withdrawn", None, False)
    assert published_documents(store) == [] and store.list(live=True) == []

    assert [v.number for v in store.list_versions(case.id)] == [1, 2, 3, 4]
    events = [(e["version"], e["user"], e["action"], e["comment"]) for e in service.events(lawyer, case.id)]
    assert events == [
        (1, "lawyer1", "created", ""),
        (2, "lawyer1", "edited", ""),
        (2, "lawyer1", "submitted", ""),
        (2, "reviewer1", "returned", "请补充证据"),  # NUL dropped: PostgreSQL text cannot hold it
        (3, "lawyer1", "edited", ""),
        (3, "lawyer1", "submitted", ""),
        (3, "reviewer1", "published", ""),
        (4, "lawyer1", "edited", ""),
        (4, "lawyer1", "withdrawn", "作废"),
    ]


def test_unknown_and_out_of_range_case_ids_are_misses(app_db, people):
    store = CaseStore(app_db)
    assert store.get(1) is None and store.get_version(1, 1) is None
    case = CaseService(store, CaseIndex()).create(people["lawyer"], CASE)
    for case_id, number in ((2**31, 1), (2**63, 1), (-1, 1), (case.id, 2**40)):
        assert store.get(case_id) is None or case_id == case.id
        assert store.get_version(case_id, number) is None


def test_edits_saved_at_once_on_two_servers_get_distinct_versions(app_db, second_server, people):
    services = [CaseService(CaseStore(d), CaseIndex()) for d in (app_db, second_server)]
    case = services[0].create(people["lawyer"], CASE)

    def edits(service: CaseService, region: str) -> Callable[[], None]:
        return lambda: [service.update(people["lawyer"], case.id, {**CASE, "region": region}) for _ in range(6)]

    run_together([edits(services[0], "北京"), edits(services[1], "上海")])
    record = services[1].get(people["lawyer"], case.id)
    assert record.current_version == 13
    versions = CaseStore(app_db).list_versions(case.id)
    assert [v.number for v in versions] == list(range(1, 14))
    assert sorted(v.data["region"] for v in versions[1:]) == ["上海"] * 6 + ["北京"] * 6
    assert record.current.data["region"] == versions[-1].data["region"]


def test_an_edit_on_a_stale_version_is_refused(app_db, second_server, people):
    first, second = (CaseService(CaseStore(d), CaseIndex()) for d in (app_db, second_server))
    case = first.create(people["lawyer"], CASE)
    first.update(people["lawyer"], case.id, {**CASE, "region": "上海"}, base_version=1)
    with pytest.raises(Conflict):
        second.update(people["lawyer"], case.id, {**CASE, "region": "北京"}, base_version=1)
    assert second.get(people["lawyer"], case.id).current.data["region"] == "上海"


# ---------------------------------------------------------------- employer list


def test_employer_list_versions_history_and_conflicts(app_db, people):
    employers = EmployerList(app_db)
    assert employers.version() == 0 and employers.current().version == 0 and employers.get(1) is None
    first = employers.save(people["reviewer"], "蜜蜂速配 = 小蜜蜂外卖、小蜜蜂", "宏达")
    assert (first.version, first.entries, first.excluded) == (1, [("蜜蜂速配", ["小蜜蜂外卖", "小蜜蜂"])], ["宏达"])
    assert first.changed_by_name == "REVIEWER1" and first.summary == "新增 蜜蜂速配；修改排除词"
    second = employers.save(people["reviewer2"], "蜜蜂速配 = 小蜜蜂\n顺丰速运", "宏达", base_version=1)
    assert second.version == 2 and second.summary == "新增 顺丰速运；修改别名 蜜蜂速配"
    with pytest.raises(Conflict, match="REVIEWER2"):
        employers.save(people["reviewer"], "顺丰速运", "", base_version=1)
    with pytest.raises(Invalid):
        employers.save(people["reviewer"], "北京", "")  # a place, not an employer
    assert employers.version() == 2 and employers.current() == second
    assert [v.version for v in employers.history()] == [2, 1]
    assert [v.version for v in employers.history(limit=1)] == [2]
    assert employers.get(1) == first


def test_employer_list_saves_on_two_servers_get_distinct_versions(app_db, second_server, people):
    lists = [EmployerList(app_db), EmployerList(second_server)]

    def saves(employers: EmployerList, name: str) -> Callable[[], None]:
        return lambda: [employers.save(people["reviewer"], f"{name}{i}号公司", "") for i in range(6)]

    run_together([saves(lists[0], "甲"), saves(lists[1], "乙")])
    history = lists[0].history()
    assert [v.version for v in history] == list(range(12, 0, -1))
    assert sorted(v.entries[0][0] for v in history) == sorted(f"{n}{i}号公司" for n in "甲乙" for i in range(6))


def test_an_employer_list_edit_is_seen_by_the_other_server_at_its_next_probe(app_db, second_server, people):
    here, there = EmployerList(app_db), EmployerList(second_server)
    assert there.version() == 0
    here.save(people["reviewer"], "蜜蜂速配 = 小蜜蜂", "")
    assert there.version() == 1 and there.get(1).aliases() == [("蜜蜂速配", "蜜蜂速配"), ("小蜜蜂", "蜜蜂速配")]
    there.save(people["reviewer2"], "蜜蜂速配", "", base_version=1)
    assert here.version() == 2 and here.current().changed_by_name == "REVIEWER2"


# ---------------------------------------------------------------- search additions


def test_additions_are_proposed_reviewed_by_another_and_numbered(app_db, people):
    additions = AdditionStore(app_db)
    alice, bob = people["reviewer"], people["reviewer2"]
    assert additions.version() == 0
    question = additions.propose(alice, "question", "干满三年走人老板要给几个月钱", ARTICLE, gap="g1")
    assert (question.state, question.version, question.proposed_by, question.proposed_by_name, question.gap) == (
        "pending",
        None,
        alice.id,
        "REVIEWER1",
        "g1",
    )
    with pytest.raises(Invalid):
        additions.propose(bob, "question", "干满三年走人老板要给几个月钱", ARTICLE)  # the same, still pending
    with pytest.raises(Invalid):
        additions.propose(bob, "poem", "x")
    with pytest.raises(Invalid):
        additions.review(alice, question.id, approve=True)  # not the one who proposed it
    for missing in (question.id + 100, 2**40):
        with pytest.raises(Invalid):
            additions.review(bob, missing, approve=True)

    line = additions.propose(bob, "thesaurus", "讨薪 => 拖欠工资 |0.8")
    rejected = additions.review(alice, line.id, approve=False)
    assert (rejected.state, rejected.version, rejected.reviewed_by_name) == ("rejected", None, "REVIEWER1")
    assert additions.version() == 0
    with pytest.raises(Conflict):
        additions.review(alice, line.id, approve=True)
    again = additions.propose(bob, "thesaurus", "讨薪 => 拖欠工资 |0.8")  # a rejected one may come back

    approved = additions.review(bob, question.id, approve=True)
    assert (approved.state, approved.version) == ("approved", 1) and approved.reviewed_at
    assert additions.review(alice, again.id, approve=True).version == 2
    assert additions.version() == 2
    assert [a.id for a in additions.approved()] == [question.id, again.id]
    assert [a.id for a in additions.list()] == [again.id, line.id, question.id]
    assert [a.id for a in additions.list("rejected")] == [line.id]
    assert [a.id for a in additions.list(limit=1)] == [again.id]
    assert approved_questions(additions) == {ARTICLE: ["干满三年走人老板要给几个月钱"]}
    assert approved_thesaurus(additions) == ["讨薪 => 拖欠工资 |0.8"]


def test_approvals_on_two_servers_get_distinct_versions_and_are_seen_by_both(app_db, second_server, people):
    here, there = AdditionStore(app_db), AdditionStore(second_server)
    pending = [here.propose(people["reviewer"], "question", f"第{i}个问题怎么办理", ARTICLE) for i in range(12)]
    assert there.version() == 0

    def approve(store: AdditionStore, items: list) -> Callable[[], None]:
        return lambda: [store.review(people["reviewer2"], a.id, approve=True) for a in items]

    run_together([approve(here, pending[0::2]), approve(there, pending[1::2])])
    assert sorted(a.version for a in there.approved()) == list(range(1, 13))
    assert here.version() == there.version() == 12
    one_more = there.propose(people["reviewer2"], "question", "再来一个问题怎么办", ARTICLE)
    there.review(people["reviewer"], one_more.id, approve=True)
    assert here.version() == 13 and here.approved()[-1].id == one_more.id


# ---------------------------------------------------------------- gap actions


def test_gap_noise_and_requests_to_lawyers(app_db, second_server, people):
    gaps, other = GapActions(app_db), GapActions(second_server)
    assert gaps.hidden() == set() and gaps.requests() == [] and gaps.gaps_acted_on() == {}
    gaps.mark_noise(people["reviewer"], "g1", "天气怎么样", {"k1", "k2"})
    other.mark_noise(people["reviewer2"], "g2", "你好\x00", {"k2", "k3"})  # k2 keeps its first mark
    gaps.mark_noise(people["reviewer2"], "g3", "空的", set())
    assert gaps.hidden() == {"k1", "k2", "k3"}
    with app_db.connect() as conn:
        marks = {
            r["concept_key"]: (r["gap"], r["question"], r["marked_by_name"])
            for r in conn.rows("SELECT * FROM gap_noise")
        }
    assert marks == {
        "k1": ("g1", "天气怎么样", "REVIEWER1"),
        "k2": ("g1", "天气怎么样", "REVIEWER1"),
        "k3": ("g2", "你好", "REVIEWER2"),
    }

    asked = gaps.ask_lawyer(people["reviewer"], "g4", "  试用期  被辞退\x00有补偿吗 ", " 常见 ")
    assert (asked.gap, asked.question, asked.note, asked.state) == ("g4", "试用期 被辞退有补偿吗", "常见", "open")
    assert asked.requested_by_name == "REVIEWER1" and asked.requested_at
    later = other.ask_lawyer(people["reviewer2"], "g5", "加班费怎么算", "")
    with pytest.raises(Invalid):
        gaps.ask_lawyer(people["reviewer"], "g6", "好", "")
    with pytest.raises(Invalid):
        gaps.ask_lawyer(people["reviewer"], "g6", "加班费怎么算", "长" * 501)
    assert gaps.requests() == [later, asked] == gaps.requests(None)
    assert gaps.requests("done") == []
    assert other.gaps_acted_on() == {"g4": "已请律师写问答", "g5": "已请律师写问答"}
