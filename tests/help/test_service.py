"""The help workflow on the store: sealing, references, deadlines, permissions, audit, purge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from search_api import db
from search_api.accounts.store import Store
from search_api.errors import Conflict, Forbidden, Invalid, TooMany
from search_api.help import help_service
from search_api.help.fields import validate_request
from search_api.help.sealing import SealError, derived_key, new_key
from search_api.help.stats import events, help_stats
from search_api.monitoring.querylog import load_secret
from tests.fixtures.cases import PASSWORD
from tests.fixtures.help import HELP_REQUEST, PHONE

UTC = dt.UTC


@pytest.fixture
def desk(settings):
    store = Store(db.app_database(settings))
    users = store.users
    staff = users.create("staff1", PASSWORD, "staff", districts=["崂山区"])
    other = users.create("staff2", PASSWORD, "staff", districts=["市南区"])
    lawyer = users.create("lawyer1", PASSWORD, "lawyer", districts=["崂山区"])
    free = users.create("lawyer2", PASSWORD, "lawyer")
    admin = users.create("admin1", PASSWORD, "admin")
    return help_service(settings, store), {
        "staff": staff,
        "other": other,
        "lawyer": lawyer,
        "free": free,
        "admin": admin,
    }


def submit(service, now=None, network="10.0.0.0/24", **change):
    return service.submit(validate_request({**HELP_REQUEST, **change}, ["崂山区", "市南区"]), network, now)


def plain_hits(data_dir: Path, *needles: str) -> list[str]:
    """Files under the data directory holding any needle in clear (UTF-8)."""
    found = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            found += [f"{path.name}: {n}" for n in needles if n.encode("utf-8") in blob]
    return found


def test_personal_data_is_sealed_on_disk(desk, settings):
    service, _ = desk
    _, ticket = submit(service)
    assert plain_hits(settings.data_dir, PHONE, "王女士", "三个月没发工资", "某某电子", ticket) == []
    assert service.for_worker(ticket).fields["phone"] == "139****5678"


def test_references_count_per_district_and_year(desk):
    service, _ = desk
    a, b, c = (submit(service, network=f"net{i}", district=d)[0] for i, d in enumerate(["崂山区", "崂山区", "市南区"]))
    year = dt.datetime.now(UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).year
    assert (a.reference, b.reference, c.reference) == (
        f"崂山-{year}-000001",
        f"崂山-{year}-000002",
        f"市南-{year}-000001",
    )


def test_the_call_back_day_skips_weekends_and_holidays(desk):
    service, _ = desk
    friday_evening = dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    row, _ = submit(service, now=friday_evening)
    assert row.contact_due == "2026-12-01"
    before_national_day = dt.datetime(2026, 9, 30, 1, 0, tzinfo=UTC)
    assert submit(service, now=before_national_day, network="n2")[0].contact_due == "2026-10-09"
    assert service.is_overdue(row, now=dt.datetime(2026, 12, 1, 15, 59, tzinfo=UTC)) is False  # 23:59 in Shanghai
    assert service.is_overdue(row, now=dt.datetime(2026, 12, 1, 16, 1, tzinfo=UTC)) is True


def test_only_the_district_sees_it_and_the_phone_reveal_is_audited(desk):
    service, who = desk
    row, _ = submit(service)
    assert [r.id for r in service.queue(who["staff"])] == [row.id]
    assert service.queue(who["other"]) == []
    for call in (
        lambda u: service.for_staff(u, row.id),
        lambda u: service.reveal_phone(u, row.id),
        lambda u: service.change_state(u, row.id, "contacted", note="x"),
        lambda u: service.assign(u, row.id, who["lawyer"].id),
    ):
        with pytest.raises(Forbidden):
            call(who["other"])
    with pytest.raises(Forbidden):
        service.for_staff(who["lawyer"], row.id)  # not assigned yet
    assert service.reveal_phone(who["staff"], row.id) == PHONE
    audit = service.store.audit_log()
    assert [(a["username"], a["reference"], a["action"]) for a in audit] == [
        ("staff1", row.reference, "phone_revealed")
    ]
    assert service.for_staff(who["admin"], row.id).row.id == row.id  # admins work every district


def test_the_workflow_records_who_did_what(desk):
    service, who = desk
    row, ticket = submit(service)
    with pytest.raises(Invalid) as refused:
        service.change_state(who["staff"], row.id, "contacted", note="")
    assert "note" in refused.value.errors
    with pytest.raises(Invalid) as refused:
        service.change_state(who["staff"], row.id, "referred", note="转仲裁")
    assert "outcome" in refused.value.errors
    moved = service.change_state(who["staff"], row.id, "contacted", note="已电话联系，约周四面谈")
    assert moved.state == "contacted" and moved.first_contact_at
    with pytest.raises(Conflict):
        service.change_state(who["staff"], row.id, "new", note="back")
    # the rota: lawyers bound to the district; a lawyer of no district is offered only when none is bound
    assert [u.username for u in service.rota("崂山区")] == ["lawyer1"]
    assert [u.username for u in service.rota("市南区")] == ["lawyer2"]
    with pytest.raises(Invalid):
        service.assign(who["staff"], row.id, who["free"].id)
    service.assign(who["staff"], row.id, who["lawyer"].id)
    with pytest.raises(Forbidden):
        service.save_answer(who["free"], row.id, "根据劳动合同法第三十条，用人单位应当按时足额支付劳动报酬。")
    service.save_answer(who["lawyer"], row.id, "根据劳动合同法第三十条，用人单位应当按时足额支付劳动报酬。")
    view = service.for_worker(ticket)
    assert view.answer["body"].startswith("根据劳动合同法") and view.answer["lawyer"] == "lawyer1"
    assert [e["action"] for e in view.events] == ["created", "state", "answered"]
    assert view.events[1]["note"] == ""  # the desk's notes stay on the desk
    desk_events = service.for_staff(who["staff"], row.id).events
    assert ("state", "staff1", "已电话联系，约周四面谈") in [(e["action"], e["actor"], e["note"]) for e in desk_events]
    service.add_info(ticket, "补充：老板今天说要开除我。")
    service.withdraw(ticket)
    closed = service.store.get(row.id)
    assert (closed.state, closed.outcome) == ("closed", "withdrawn") and closed.closed_at
    with pytest.raises(Conflict):
        service.add_info(ticket, "还有一件事")


def test_submissions_are_limited_per_network(desk):
    service, _ = desk
    for _ in range(service.per_hour):
        submit(service, network="198.51.100.0/24")
    with pytest.raises(TooMany):
        submit(service, network="198.51.100.0/24")
    submit(service, network="203.0.113.0/24")  # another network is not held back
    with service.store.connect() as conn:
        networks = conn.column("SELECT DISTINCT network FROM help_submissions")
    assert networks and not any("198.51" in n for n in networks)


def test_purge_drops_personal_data_and_keeps_the_figures(desk, settings):
    service, who = desk
    row, ticket = submit(service)
    service.change_state(who["staff"], row.id, "closed", "resolved", note="工资已发")
    keep, _ = submit(service, network="n2")
    assert service.purge(30)["help_requests_purged"] == 0
    later = dt.datetime.now(UTC) + dt.timedelta(days=31)
    assert service.purge(30, now=later)["help_requests_purged"] == 1
    purged = service.store.get(row.id)
    assert purged.sealed is None and purged.purged_at
    assert service.store.get(keep.id).sealed is not None
    with pytest.raises(Exception, match="找不到"):
        service.for_worker(ticket)
    assert help_stats(service)["total"] == 2
    assert plain_hits(settings.data_dir, "工资已发") == []


def test_figures_and_the_feed(desk):
    service, who = desk
    row, _ = submit(service)
    submit(service, network="n2", district="市南区", topic="injury", is_dispute="unsure")
    service.change_state(who["staff"], row.id, "contacted", note="已联系")
    figures = help_stats(service)
    assert figures["by_district"] == {"崂山区": 1, "市南区": 1}
    assert figures["dispute_share"] == 0.5 and figures["within_deadline_share"] == 1.0
    assert figures["median_hours_to_first_contact"] is not None and figures["open"] == 2
    feed = events(service)
    assert [e["action"] for e in feed] == ["created", "created", "state"]
    assert all("personal" not in e and PHONE not in str(e) for e in feed)
    assert events(service, personal=True)[0]["personal"]["phone"] == PHONE
    assert events(service, after_id=feed[1]["id"]) == feed[2:]


def test_keys_rotate_without_losing_anything(desk, settings):
    """From the key derived from the site secret to a configured one: list both, reseal, drop the old."""
    service, who = desk
    row, ticket = submit(service)
    service.change_state(who["staff"], row.id, "contacted", note="已联系")
    new, derived = new_key(), derived_key(load_secret(settings)).decode()
    rotated = help_service(
        settings.model_copy(update={"data_keys": f"{new},{derived}"}), Store(db.app_database(settings))
    )
    assert rotated.store.reseal(rotated.sealer.reseal) == 2  # the request and the note
    only_new = help_service(settings.model_copy(update={"data_keys": new}), Store(db.app_database(settings)))
    assert only_new.for_worker(ticket).fields["name"] == "王女士"
    with pytest.raises(SealError):
        service.for_worker(ticket)  # the old key alone no longer opens it
