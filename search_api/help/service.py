"""我要维权: a worker's help request, from the form to the district desk to a lawyer's answer.

Workflow of a request (each change is an event with a note and who made it)::

    new ──▶ contacted ──▶ accepted ──▶ referred ──▶ closed
     │          │             │                        ▲
     └──────────┴─────────────┴────────────────────────┘  (any open state can be referred or closed)

``referred`` names where to (arbitration, the labour inspectorate, the legal-aid centre);
``closed`` names why (resolved, not a labour dispute, withdrawn, unreachable). The worker
can add information or withdraw while the request is open, through the status link.

Who sees what: the worker, through their ticket; staff of the request's district and
admins (the desk); the lawyer it is assigned to (the story, never the phone number).
Anyone else gets ``Forbidden``, whether the request exists or not in their districts.
Revealing a phone number is an explicit, audited action. Personal fields are sealed
before they reach the store (``search_api.help.sealing``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from search_api import db
from search_api.accounts.users import User, Users
from search_api.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from search_api.help.calendar import WorkCalendar
from search_api.help.fields import COMMON_MATERIALS, MATERIALS, HelpInput, mask_phone, validate_addition
from search_api.help.sealing import Sealer
from search_api.help.store import HelpRow, HelpStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
TICKET_PREFIX = "hr_"
OPEN_STATES = ("new", "contacted", "accepted", "referred")
STATE_LABELS = {"new": "新求助", "contacted": "已联系", "accepted": "已受理", "referred": "已转介", "closed": "已结束"}
OUTCOMES = {
    "referred": {
        "arbitration": "劳动人事争议仲裁委员会",
        "inspectorate": "劳动保障监察机构",
        "legal_aid": "法律援助中心",
    },
    "closed": {
        "resolved": "问题已解决",
        "not_dispute": "不属于劳动争议",
        "withdrawn": "求助人撤回",
        "unreachable": "多次联系不上求助人",
    },
}
TRANSITIONS = {
    "new": ("contacted", "accepted", "referred", "closed"),
    "contacted": ("accepted", "referred", "closed"),
    "accepted": ("referred", "closed"),
    "referred": ("closed",),
    "closed": (),
}
MAX_NOTE_CHARS = 2000
MAX_ANSWER_CHARS = 10000


def ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def district_prefix(district: str) -> str:
    """崂山区 → 崂山, 胶州市 → 胶州: the district part of a reference number."""
    return district[:-1] if len(district) > 2 and district[-1] in "区市县旗" else district


def local_day(ts: dt.datetime) -> dt.date:
    return ts.astimezone(SHANGHAI).date()


@dataclass
class HelpView:
    """A request opened for someone allowed to see it; ``phone`` is masked unless revealed."""

    row: HelpRow
    fields: dict[str, str]
    events: list[dict[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] | None = None
    overdue: bool = False
    materials: tuple[str, ...] = ()


class HelpService:
    """Every operation on help requests; each checks who may do it."""

    def __init__(
        self,
        store: HelpStore,
        users: Users,
        sealer: Sealer,
        calendar: WorkCalendar,
        *,
        secret: bytes,
        callback_days: int = 2,
        per_hour: int = 5,
        citations=None,
    ):
        self.store = store
        self.users = users
        self.sealer = sealer
        self.calendar = calendar
        self.secret = secret
        self.callback_days = callback_days
        self.per_hour = per_hour
        self.citations = citations or (lambda text: [])  # text → detected citations (CaseIndex.citations)

    # ---- the worker ----------------------------------------------------------------

    def contact_due(self, created: dt.datetime) -> dt.date:
        """The day by whose end the worker is called back: ``callback_days`` working days later."""
        return self.calendar.add_workdays(local_day(created), self.callback_days)

    def is_overdue(self, row: HelpRow, now: dt.datetime | None = None) -> bool:
        """Still not contacted after the end of its call-back day (Asia/Shanghai)."""
        if row.state != "new":
            return False
        return local_day(now or db.utc_now()) > dt.date.fromisoformat(row.contact_due)

    def network_key(self, network: str | None) -> str:
        """A keyed digest of the client network: the hourly limit counts it, nobody can read it back."""
        return hmac.new(self.secret, f"help:{network or '-'}".encode(), hashlib.sha256).hexdigest()[:32]

    def submit(self, inp: HelpInput, network: str | None = None, now: dt.datetime | None = None) -> tuple[HelpRow, str]:
        """Store a request; returns it and the ticket (shown once, stored as a digest)."""
        created = now or db.utc_now()
        ticket = TICKET_PREFIX + secrets.token_urlsafe(24)
        with self.store.transaction() as conn:
            if not self.store.admit_submission(conn, self.network_key(network), self.per_hour):
                raise TooMany("一小时内从您的网络提交的求助太多，请稍后再试，或直接拨打职工维权热线 12351")
            stamp = db.iso(created)
            reference = self.store.next_reference(conn, f"{district_prefix(inp.district)}-{local_day(created).year}")
            request_id = self.store.insert(
                conn,
                {
                    "reference": reference,
                    "ticket_hash": ticket_digest(ticket),
                    "district": inp.district,
                    "topic": inp.topic,
                    "is_dispute": inp.is_dispute,
                    "call_time": inp.call_time,
                    "publish_consent": int(inp.publish_consent),
                    "state": "new",
                    "sealed": self.sealer.seal(inp.sealed()),
                    "created_at": stamp,
                    "contact_due": self.contact_due(created).isoformat(),
                    "updated_at": stamp,
                },
            )
            self.store.event(conn, request_id, "created", to_state="new")
            row = self.store.get(request_id, conn)
        assert row is not None
        return row, ticket

    def _by_ticket(self, ticket: str) -> HelpRow:
        row = self.store.by_ticket(ticket_digest(ticket)) if ticket.startswith(TICKET_PREFIX) else None
        if row is None:
            raise NotFound("找不到这个求助：链接不完整，或求助结束已久、信息已按期删除")
        return row

    def for_worker(self, ticket: str) -> HelpView:
        """The worker's own view: status, their words (phone masked), the lawyer's answer."""
        row = self._by_ticket(ticket)
        events = [e for e in self._events(row) if e["action"] in ("created", "state", "added", "answered", "withdrawn")]
        for e in events:
            if e["action"] == "state":
                e["note"] = ""  # the desk's notes are internal
        return self._view(row, events)

    def add_info(self, ticket: str, text: Any) -> HelpRow:
        row = self._by_ticket(ticket)
        value = validate_addition(text)
        if row.state == "closed":
            raise Conflict("这个求助已经结束，不能再补充；如有新情况，请重新提交求助")
        with self.store.transaction() as conn:
            self.store.event(conn, row.id, "added", sealed_note=self.sealer.seal(value))
            self.store.touch(conn, row.id, db.now_iso())
        return row

    def withdraw(self, ticket: str) -> HelpRow:
        row = self._by_ticket(ticket)
        if row.state == "closed":
            raise Conflict("这个求助已经结束")
        self._move(row, "closed", "withdrawn", actor=None, action="withdrawn")
        return self._by_ticket(ticket)

    # ---- the desk ------------------------------------------------------------------

    @staticmethod
    def desk_districts(user: User) -> tuple[str, ...] | None:
        """The districts whose queue ``user`` works (None: every district, for admins)."""
        if user.role == "admin":
            return None
        if user.role == "staff":
            return user.districts
        raise Forbidden("只有区县工作人员可以处理求助")

    def _for_desk(self, user: User, request_id: int) -> HelpRow:
        districts = self.desk_districts(user)
        row = self.store.get(request_id)
        if row is None or row.purged_at:
            raise NotFound("求助不存在")
        if districts is not None and row.district not in districts:
            raise Forbidden("这个求助不属于您负责的区")
        return row

    def queue(self, user: User, states: tuple[str, ...] = OPEN_STATES) -> list[HelpRow]:
        """The user's districts' requests in ``states``, oldest first."""
        return self.store.list(self.desk_districts(user), states)

    def for_staff(self, user: User, request_id: int) -> HelpView:
        """A request on the desk (staff of its district, admins) or for its assigned lawyer."""
        row = self.store.get(request_id)
        if user.role == "lawyer":
            if row is None or row.lawyer_id != user.id or row.purged_at:
                raise Forbidden("这个求助没有分配给您")
        else:
            row = self._for_desk(user, request_id)
        return self._view(row, self._events(row))

    def reveal_phone(self, user: User, request_id: int) -> str:
        """The worker's phone number, for the call; recorded in the audit log and the history."""
        row = self._for_desk(user, request_id)
        phone = (self.sealer.open(row.sealed) or {}).get("phone", "")
        with self.store.transaction() as conn:
            self.store.audit(conn, user, row.reference, "phone_revealed")
            self.store.event(conn, row.id, "phone_revealed", actor_id=user.id)
        return phone

    def change_state(self, user: User, request_id: int, to_state: str, outcome: str = "", note: str = "") -> HelpRow:
        row = self._for_desk(user, request_id)
        errors = {}
        if to_state not in TRANSITIONS.get(row.state, ()):
            allowed = "、".join(STATE_LABELS[s] for s in TRANSITIONS.get(row.state, ())) or "无"
            raise Conflict(f"“{STATE_LABELS.get(row.state, row.state)}”的求助不能改为该状态（可改为：{allowed}）")
        choices = OUTCOMES.get(to_state)
        if choices and outcome not in choices:
            errors["outcome"] = "请选择" + ("转介到哪里" if to_state == "referred" else "结束的原因")
        note = (note or "").strip()
        if not note:
            errors["note"] = "请写一句说明（例如：已电话联系，约定周四来工会面谈）"
        elif len(note) > MAX_NOTE_CHARS:
            errors["note"] = f"说明最多 {MAX_NOTE_CHARS} 个字"
        if errors:
            raise Invalid("请检查标出的内容", errors)
        return self._move(row, to_state, outcome if choices else "", actor=user, note=note)

    def _move(
        self, row: HelpRow, to_state: str, outcome: str, actor: User | None, note: str = "", action: str = "state"
    ) -> HelpRow:
        now = db.now_iso()
        with self.store.transaction() as conn:
            current = self.store.get(row.id, conn)
            if current is None or current.state != row.state:
                raise Conflict("这个求助刚被别人处理过，请刷新后再操作")
            self.store.set_state(conn, row.id, to_state, outcome, now, contact=actor is not None)
            sealed = self.sealer.seal(note) if note else None
            self.store.event(
                conn, row.id, action, actor.id if actor else None, row.state, to_state, outcome, sealed_note=sealed
            )
            moved = self.store.get(row.id, conn)
        assert moved is not None
        return moved

    def rota(self, district: str) -> list[User]:
        """Lawyers on the district's rota (bound to it); with none bound, every active lawyer."""
        lawyers = [u for u in self.users.list() if u.role == "lawyer" and u.active]
        bound = [u for u in lawyers if district in u.districts]
        return bound or [u for u in lawyers if not u.districts]

    def assign(self, user: User, request_id: int, lawyer_id: int, note: str = "") -> HelpRow:
        row = self._for_desk(user, request_id)
        if row.state == "closed":
            raise Conflict("这个求助已经结束")
        lawyer = next((u for u in self.rota(row.district) if u.id == lawyer_id), None)
        if lawyer is None:
            raise Invalid("请选择本区值班律师名单中的律师", {"lawyer_id": "请选择本区值班律师名单中的律师"})
        with self.store.transaction() as conn:
            self.store.touch(conn, row.id, db.now_iso(), lawyer_id=lawyer.id)
            sealed = self.sealer.seal(note.strip()[:MAX_NOTE_CHARS]) if note.strip() else None
            self.store.event(conn, row.id, "assigned", user.id, outcome=lawyer.display_name, sealed_note=sealed)
        return self.store.get(row.id) or row

    def for_reviewer(self, user: User, request_id: int) -> HelpView:
        """The worker's words and the lawyer's answer, for a reviewer to rewrite as a public 问答."""
        if not user.is_reviewer:
            raise Forbidden("只有审核人可以公开问答")
        row = self.store.get(request_id)
        if row is None or row.purged_at:
            raise NotFound("求助不存在")
        if not row.publish_consent:
            raise Conflict("求助人没有同意公开这个问答")
        return self._view(row, [])

    # ---- the lawyer ------------------------------------------------------------------

    def assigned_to(self, user: User) -> list[HelpRow]:
        if user.role != "lawyer":
            raise Forbidden("只有律师有分配给自己的求助")
        return self.store.list(None, (), lawyer_id=user.id)

    def save_answer(self, user: User, request_id: int, body: Any) -> dict[str, Any]:
        """The assigned lawyer's written guidance (safe Markdown); the worker sees it at once."""
        row = self.store.get(request_id)
        if row is None or row.purged_at or user.role != "lawyer" or row.lawyer_id != user.id:
            raise Forbidden("只有被分配的律师可以答复这个求助")
        text = body.strip() if isinstance(body, str) else ""
        if len(text) < 10:
            raise Invalid("请写下给求助人的答复（至少 10 个字）", {"body": "请写下给求助人的答复（至少 10 个字）"})
        if len(text) > MAX_ANSWER_CHARS:
            raise Invalid(f"答复最多 {MAX_ANSWER_CHARS} 个字", {"body": f"答复最多 {MAX_ANSWER_CHARS} 个字"})
        citations = self.citations(text)
        now = db.now_iso()
        with self.store.transaction() as conn:
            sealed, cited = self.sealer.seal(text), json.dumps(citations, ensure_ascii=False)
            self.store.save_answer(conn, row.id, user.id, sealed, cited, now)
            self.store.event(conn, row.id, "answered", user.id)
        return {"body": text, "citations": citations}

    def purge(self, days: int, now: dt.datetime | None = None) -> dict[str, int]:
        """Delete the personal data of requests closed more than ``days`` days ago."""
        now = now or db.utc_now()
        return self.store.purge(db.iso(now), db.iso(now - dt.timedelta(days=days)))

    # ---- shared ----------------------------------------------------------------------

    def _events(self, row: HelpRow) -> list[dict[str, Any]]:
        out = []
        for e in self.store.events(row.id):
            out.append(
                {
                    "at": e["at"],
                    "action": e["action"],
                    "actor": e["actor"] if e["actor_id"] else "求助人",
                    "from_state": e["from_state"],
                    "to_state": e["to_state"],
                    "outcome": e["outcome"],
                    "note": self.sealer.open(e["sealed_note"]) or "",
                }
            )
        return out

    def _view(self, row: HelpRow, events: list[dict[str, Any]]) -> HelpView:
        fields = dict(self.sealer.open(row.sealed) or {})
        fields["phone"] = mask_phone(fields.get("phone", ""))
        answer = self.store.answer(row.id)
        shown = None
        if answer is not None and answer["sealed_body"]:
            shown = {
                "body": self.sealer.open(answer["sealed_body"]),
                "citations": json.loads(answer["citations"]),
                "lawyer": answer["lawyer"],
                "updated_at": answer["updated_at"],
            }
        materials = (*MATERIALS.get(row.topic, ()), *COMMON_MATERIALS)
        return HelpView(row, fields, events, shown, self.is_overdue(row), materials)
