"""The help-request store contract, on SQLite and on PostgreSQL shared by several app servers.

"Two servers" are ``app_db`` and ``second_server`` (tests/store/conftest.py): two ``Database``
objects on one store, each with its own engine and pool, as two app server processes have;
threads stand in for requests arriving on both at the same moment.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from search_api import db
from search_api.accounts.store import Store
from search_api.errors import Conflict, Forbidden, NotFound, TooMany
from search_api.help.calendar import WorkCalendar
from search_api.help.fields import DISPUTE_CHOICES, TOPICS, validate_request
from search_api.help.qa import publish_qa, published_qa_documents
from search_api.help.sealing import Sealer, SealError, new_key
from search_api.help.service import HelpService, local_day
from search_api.help.stats import events, help_stats
from tests.fixtures.cases import PASSWORD
from tests.fixtures.help import HELP_REQUEST, PHONE

KEY = new_key().encode()
DISTRICTS = ["崂山区", "市南区"]
NOTE = "已电话联系，约周四来工会面谈"
ADDED = "补充：老板今天说要开除我。"
ANSWER = "依照《劳动合同法》第三十八条，用人单位未及时足额支付劳动报酬的，劳动者可以解除劳动合同。"
QA = {
    "title": "公司连续三个月拖欠工资，可以辞职吗",
    "question": "公司连续三个月没有发工资，我想辞职，能不能要经济补偿？",
    "answer": ANSWER,
}
YEAR = local_day(db.utc_now()).year


def service_on(database: db.Database, per_hour: int = 1000) -> HelpService:
    """The help service as an app server builds it over ``database``."""
    store = Store(database)
    return HelpService(store.help, store.users, Sealer([KEY]), WorkCalendar(), secret=b"s" * 32, per_hour=per_hour)


@pytest.fixture
def desk(app_db):
    service = service_on(app_db)
    users = service.users
    who = {
        "staff": users.create("staff1", PASSWORD, "staff", districts=["崂山区"]),
        "other": users.create("staff2", PASSWORD, "staff", districts=["市南区"]),
        "lawyer": users.create("lawyer1", PASSWORD, "lawyer", districts=["崂山区"]),
        "reviewer": users.create("reviewer1", PASSWORD, "reviewer"),
        "admin": users.create("admin1", PASSWORD, "admin"),
    }
    return service, who


def submit(service: HelpService, network: str = "net", now: dt.datetime | None = None, **change):
    return service.submit(validate_request({**HELP_REQUEST, **change}, DISTRICTS), network, now)


def parallel(calls) -> list:
    """Run every call at once; each result, or the exception it raised."""

    def run(call):
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def stored_values(app_db: db.Database) -> list[str]:
    """Every value of every help table (and the published 问答), as text."""
    with app_db.connect() as conn:
        tables = [t for t in sa.inspect(conn.sa).get_table_names() if t.startswith("help_") or t == "qa_documents"]
        assert {"help_requests", "help_events", "help_answers", "help_audit", "qa_documents"} <= set(tables)
        return [str(v) for t in tables for row in conn.rows(f"SELECT * FROM {t}") for v in row.values()]


# ---- the worker ------------------------------------------------------------------------------


def test_submit_and_read_the_status_by_ticket(desk):
    service, _ = desk
    row, ticket = submit(service)
    assert (row.reference, row.state, row.district, row.publish_consent) == (
        f"崂山-{YEAR}-000001",
        "new",
        "崂山区",
        True,
    )
    assert row.contact_due > row.created_at[:10] and row.first_contact_at is None and row.lawyer_id is None
    view = service.for_worker(ticket)
    assert view.row.id == row.id and view.fields["name"] == "王女士" and view.fields["phone"] == "139****5678"
    assert [e["action"] for e in view.events] == ["created"]
    with pytest.raises(NotFound):
        service.for_worker("hr_no-such-ticket")
    assert submit(service, district="市南区")[0].reference == f"市南-{YEAR}-000001"


def test_references_never_repeat_when_two_servers_take_requests_at_once(app_db, second_server):
    one, two = (service_on(d) for d in (app_db, second_server))
    calls = [
        (lambda s=s, i=i: submit(s, network=f"n{i}", district=DISTRICTS[i % 2])[0].reference)
        for i, s in enumerate([one, two] * 12)
    ]
    references = parallel(calls)
    assert not [r for r in references if isinstance(r, Exception)], references
    assert len(set(references)) == 24
    for prefix in ("崂山", "市南"):
        assert sorted(r for r in references if r.startswith(prefix)) == [
            f"{prefix}-{YEAR}-{n:06d}" for n in range(1, 13)
        ]


def test_the_hourly_limit_counts_submissions_on_every_server(app_db, second_server):
    one, two = (service_on(d, per_hour=5) for d in (app_db, second_server))
    results = parallel([lambda s=s: submit(s, network="198.51.100.0/24") for s in [one, two] * 4])
    assert Counter(type(r).__name__ for r in results) == {"tuple": 5, "TooMany": 3}
    with pytest.raises(TooMany):
        submit(two, network="198.51.100.0/24")
    submit(one, network="203.0.113.0/24")  # another network is not held back
    with one.store.connect() as conn:
        networks = conn.column("SELECT DISTINCT network FROM help_submissions")
    assert len(networks) == 2 and not any("198.51" in n or "203.0" in n for n in networks)


def test_add_info_and_withdraw(desk):
    service, _ = desk
    row, ticket = submit(service)
    service.add_info(ticket, ADDED)
    added = service.for_worker(ticket).events[-1]
    assert (added["action"], added["actor"], added["to_state"], added["note"]) == ("added", "求助人", None, ADDED)
    closed = service.withdraw(ticket)
    assert (closed.id, closed.state, closed.outcome) == (row.id, "closed", "withdrawn") and closed.closed_at
    assert closed.first_contact_at is None  # the worker withdrawing is no contact by the desk
    with pytest.raises(Conflict):
        service.add_info(ticket, "还有一件事")
    with pytest.raises(Conflict):
        service.withdraw(ticket)


# ---- the desk ------------------------------------------------------------------------------


def test_the_queue_is_per_district_and_oldest_first(desk):
    service, who = desk
    old, _ = submit(service, now=dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC))
    new, _ = submit(service)
    south, _ = submit(service, district="市南区")
    assert [r.id for r in service.queue(who["staff"])] == [old.id, new.id]
    assert [r.id for r in service.queue(who["other"])] == [south.id]
    assert [r.id for r in service.queue(who["admin"])] == [old.id, new.id, south.id]
    service.change_state(who["staff"], old.id, "closed", "resolved", note="工资已发")
    assert [r.id for r in service.queue(who["staff"])] == [new.id]
    assert [r.id for r in service.queue(who["staff"], ("closed",))] == [old.id]
    assert service.is_overdue(old) is True and service.is_overdue(service.store.get(old.id)) is False  # closed now
    assert service.is_overdue(new) is False
    with pytest.raises(Forbidden):
        service.queue(who["lawyer"])


def test_state_changes_record_who_and_the_note(desk):
    service, who = desk
    row, _ = submit(service)
    moved = service.change_state(who["staff"], row.id, "contacted", note=NOTE)
    assert moved.state == "contacted" and moved.first_contact_at and moved.closed_at is None
    referred = service.change_state(who["staff"], row.id, "referred", "arbitration", note="转仲裁委")
    assert (referred.outcome, referred.first_contact_at) == ("arbitration", moved.first_contact_at)
    closed = service.change_state(who["admin"], row.id, "closed", "resolved", note="已解决")
    assert closed.closed_at and closed.outcome == "resolved"
    history = [
        (e["action"], e["actor"], e["from_state"], e["to_state"], e["note"])
        for e in service.for_staff(who["staff"], row.id).events
    ]
    assert history == [
        ("created", "求助人", None, "new", ""),
        ("state", "staff1", "new", "contacted", NOTE),
        ("state", "staff1", "contacted", "referred", "转仲裁委"),
        ("state", "admin1", "referred", "closed", "已解决"),
    ]
    with pytest.raises(Forbidden):
        service.change_state(who["other"], row.id, "closed", "resolved", note="x")


def test_two_servers_moving_the_same_request_move_it_once(app_db, second_server):
    one, two = (service_on(d) for d in (app_db, second_server))
    staff = one.users.create("staff1", PASSWORD, "staff", districts=["崂山区"])
    row, _ = submit(one)
    results = parallel([lambda s=s: s.change_state(staff, row.id, "contacted", note=NOTE) for s in [one, two] * 3])
    assert Counter(type(r).__name__ for r in results) == {"HelpRow": 1, "Conflict": 5}
    assert [e["action"] for e in one.for_staff(staff, row.id).events] == ["created", "state"]


def test_revealing_the_phone_number_is_audited(desk):
    service, who = desk
    row, _ = submit(service)
    with pytest.raises(Forbidden):
        service.reveal_phone(who["other"], row.id)
    assert service.reveal_phone(who["staff"], row.id) == PHONE
    assert service.reveal_phone(who["admin"], row.id) == PHONE
    audit = [(a["username"], a["user_id"], a["reference"], a["action"]) for a in service.store.audit_log()]
    assert audit == [
        ("admin1", who["admin"].id, row.reference, "phone_revealed"),
        ("staff1", who["staff"].id, row.reference, "phone_revealed"),
    ]
    assert service.store.audit_log(limit=1)[0]["username"] == "admin1"
    actions = [(e["action"], e["actor"]) for e in service.for_staff(who["staff"], row.id).events]
    assert actions[1:] == [("phone_revealed", "staff1"), ("phone_revealed", "admin1")]


def test_assign_a_lawyer_who_answers(desk):
    service, who = desk
    row, ticket = submit(service)
    with pytest.raises(Forbidden):
        service.for_staff(who["lawyer"], row.id)
    assigned = service.assign(who["staff"], row.id, who["lawyer"].id, note="请律师看看")
    assert (assigned.lawyer_id, assigned.lawyer) == (who["lawyer"].id, "lawyer1")
    assert [r.id for r in service.assigned_to(who["lawyer"])] == [row.id]
    assert service.for_staff(who["lawyer"], row.id).fields["phone"] == "139****5678"
    service.save_answer(who["lawyer"], row.id, "请先收集工资条、考勤记录等证据。")
    service.save_answer(who["lawyer"], row.id, ANSWER)  # saving again replaces the answer
    answer = service.for_worker(ticket).answer
    assert (answer["body"], answer["lawyer"], answer["citations"]) == (ANSWER, "lawyer1", [])
    with service.store.connect() as conn:
        assert conn.scalar("SELECT COUNT(*) FROM help_answers") == 1
    assert [e["action"] for e in service.for_worker(ticket).events] == ["created", "answered", "answered"]
    last = service.for_staff(who["staff"], row.id).events[1]
    assert (last["action"], last["outcome"], last["note"]) == ("assigned", "lawyer1", "请律师看看")


class FakeIndex:
    """What ``publish_qa`` needs of the case index: citations found, documents published."""

    def __init__(self):
        self.published = []

    def citations(self, text: str) -> list[dict]:
        return [{"target": "labor-contract-law.38", "text": "《劳动合同法》第三十八条", "resolved": True}]

    def publish(self, doc) -> None:
        self.published.append(doc)


def test_publishing_a_qa_needs_the_workers_consent(desk):
    service, who = desk
    rows = [submit(service, publish_consent=consent)[0] for consent in (True, False)]
    for row in rows:
        service.assign(who["staff"], row.id, who["lawyer"].id)
        service.save_answer(who["lawyer"], row.id, ANSWER)
    agreed, refused = rows
    assert [(r["id"], r["reference"]) for r in service.store.publishable()] == [(agreed.id, agreed.reference)]
    with pytest.raises(Conflict):
        service.for_reviewer(who["reviewer"], refused.id)
    index = FakeIndex()
    doc_id = publish_qa(service, index, who["reviewer"], agreed.id, **{**QA, "title": QA["title"] + "\x00"})
    assert [d.id for d in index.published] == [doc_id] and doc_id.startswith("qa-")
    doc = published_qa_documents(service.store)[0]
    assert (doc.id, doc.title, doc.cites, doc.kind) == (doc_id, QA["title"], ["labor-contract-law.38"], "qa")
    assert doc.content_hash == index.published[0].content_hash  # a rebuild indexes the same document
    with pytest.raises(Conflict):
        publish_qa(service, index, who["reviewer"], agreed.id, **QA)
    assert service.store.publishable() == []
    assert [e["action"] for e in service.for_staff(who["staff"], agreed.id).events][-1] == "qa_published"


# ---- figures, feed, upkeep -----------------------------------------------------------------


def test_the_figures(desk):
    service, who = desk
    contacted, _ = submit(service, is_dispute="yes")
    submit(  # long overdue, never contacted
        service,
        now=dt.datetime(2026, 11, 17, 1, 0, tzinfo=dt.UTC),
        district="市南区",
        topic="injury",
        is_dispute="unsure",
    )
    closed, _ = submit(service, is_dispute="no")
    service.change_state(who["staff"], contacted.id, "contacted", note=NOTE)
    service.change_state(who["staff"], closed.id, "closed", "resolved", note="已解决")
    figures = help_stats(service)
    this_week = "{}-W{:02d}".format(*local_day(db.utc_now()).isocalendar()[:2])
    assert figures == {
        "total": 3,
        "open": 2,
        "overdue": 1,
        "by_district": {"崂山区": 2, "市南区": 1},
        "by_topic": {TOPICS["wages"]: 2, TOPICS["injury"]: 1},
        "by_week": dict(sorted({"2026-W47": 1, this_week: 2}.items())),
        "by_outcome": {"resolved": 1},
        "dispute": {DISPUTE_CHOICES[k].split("，")[0]: 1 for k in DISPUTE_CHOICES},
        "dispute_share": 0.333,
        "median_hours_to_first_contact": 0.0,
        "within_deadline_share": 0.667,
    }
    week47 = help_stats(service, since="2026-11-16T00:00:00.000Z", until="2026-11-23T00:00:00.000Z")
    assert (week47["total"], week47["by_district"], week47["within_deadline_share"]) == (1, {"市南区": 1}, 0.0)
    assert help_stats(service, districts=("崂山区",))["total"] == 2
    assert help_stats(service, districts=())["total"] == 0


def test_the_feed(desk):
    service, who = desk
    row, _ = submit(service)
    submit(service, district="市南区")
    service.change_state(who["staff"], row.id, "contacted", note=NOTE)
    feed = events(service)
    assert [(e["action"], e["reference"]) for e in feed] == [
        ("created", row.reference),
        ("created", f"市南-{YEAR}-000001"),
        ("state", row.reference),
    ]
    assert all("personal" not in e and "sealed" not in e and PHONE not in str(e) for e in feed)
    assert events(service, personal=True)[0]["personal"]["phone"] == PHONE
    assert events(service, after_id=feed[1]["id"]) == feed[2:]
    assert events(service, limit=1) == feed[:1]


def test_personal_data_stays_sealed_in_the_tables(desk):
    service, who = desk
    row, ticket = submit(service)
    service.add_info(ticket, ADDED)
    service.change_state(who["staff"], row.id, "contacted", note=NOTE)
    service.assign(who["staff"], row.id, who["lawyer"].id, note="请律师看看")
    service.save_answer(who["lawyer"], row.id, ANSWER)
    service.reveal_phone(who["staff"], row.id)
    values = "\n".join(stored_values(service.store.database))
    for needle in (
        PHONE,
        "139 1234 5678",
        "王女士",
        "某某电子",
        "三个月没发工资",
        ADDED,
        NOTE,
        "请律师看看",
        ANSWER,
        ticket,
    ):
        assert needle not in values
    assert row.reference in values  # the dump did read the tables


def test_purge_drops_personal_data_and_keeps_the_figures(desk):
    service, who = desk
    row, ticket = submit(service)
    service.assign(who["staff"], row.id, who["lawyer"].id)
    service.save_answer(who["lawyer"], row.id, ANSWER)
    service.change_state(who["staff"], row.id, "closed", "resolved", note="工资已发")
    keep, _ = submit(service, network="n2")
    assert service.purge(30)["help_requests_purged"] == 0
    with service.store.transaction() as conn:  # a submission counted two hours ago
        assert service.store.admit_submission(conn, "old", 5, now=time.time() - 7200)
    later = db.utc_now() + dt.timedelta(days=31)
    assert service.purge(30, now=later) == {"help_requests_purged": 1, "help_submission_counts": 1}
    purged = service.store.get(row.id)
    assert purged.sealed is None and purged.purged_at == db.iso(later) and purged.outcome == "resolved"
    assert service.store.get(keep.id).sealed is not None and service.store.get(keep.id).purged_at is None
    with pytest.raises(NotFound):
        service.for_worker(ticket)
    with pytest.raises(NotFound):
        service.for_staff(who["staff"], row.id)
    with service.store.connect() as conn:
        assert conn.column("SELECT sealed_note FROM help_events WHERE request_id = :id", {"id": row.id}) == [None] * 4
        assert conn.scalar("SELECT sealed_body FROM help_answers WHERE request_id = :id", {"id": row.id}) is None
    assert help_stats(service)["total"] == 2 and help_stats(service)["by_outcome"] == {"resolved": 1}
    assert [r.id for r in service.queue(who["admin"], ("closed",))] == []
    assert service.purge(30, now=later)["help_requests_purged"] == 0  # once only


def test_keys_rotate_by_resealing_every_value(desk):
    service, who = desk
    row, ticket = submit(service)
    service.change_state(who["staff"], row.id, "contacted", note=NOTE)
    service.assign(who["staff"], row.id, who["lawyer"].id)
    service.save_answer(who["lawyer"], row.id, ANSWER)
    new = new_key().encode()

    def with_keys(*keys: bytes) -> HelpService:
        return HelpService(service.store, service.users, Sealer(list(keys)), WorkCalendar(), secret=b"s" * 32)

    rotated = with_keys(new, KEY)
    assert rotated.store.reseal(rotated.sealer.reseal) == 3  # the request, the note, the answer
    view = with_keys(new).for_staff(who["staff"], row.id)
    assert (view.fields["name"], view.answer["body"], view.events[1]["note"]) == ("王女士", ANSWER, NOTE)
    with pytest.raises(SealError):
        service.for_worker(ticket)  # the old key alone no longer opens it
