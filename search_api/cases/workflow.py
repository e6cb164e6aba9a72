"""Lawyers' typical cases: the review workflow, with permissions, over the case store and index.

Workflow::

    draft ──submit──▶ submitted ──publish──▶ published ──withdraw──▶ withdrawn
      ▲                  │ return (with a reviewer's comment)              │
      └── edit ◀── returned ◀──┘                        edit (back to draft) ┘

Who sees what: a case's author, reviewers and admins see everything — every version, the
diffs and the history with the reviewers' comments (``can_see_history``). Any other
logged-in user sees a published case's published version only, and gets 403 for its
versions, diffs and history (earlier drafts can hold party names; a return comment is
internal); a case that is not published is 403 for them altogether.

A published case is corrected without taking it down: an edit starts a new version (state
draft, then submitted and reviewed as usual) while the published version stays in the index
and is what everyone else sees (``CaseRecord.live``); publishing the correction replaces it.

Every save is a new version. Each operation runs in one store transaction; publishing
indexes the case inside that transaction, so a failed index call leaves the case
unpublished rather than half-done. Refusals are the app's errors (``search_api.errors``):
``NotFound``, ``Forbidden``, ``Conflict``, ``Invalid`` (with per-field messages) and
``Unavailable`` (the search engine is down), mapped to responses at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from search_api import db
from search_api.accounts.users import User
from search_api.cases.fields import validate_case
from search_api.cases.index import CaseIndex, case_text, case_to_document
from search_api.cases.store import CaseRecord, CaseStore, CaseVersion
from search_api.engines.base import EngineError
from search_api.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable

CaseState = Literal["draft", "submitted", "returned", "published", "withdrawn"]
STATE_LABELS = {
    "draft": "草稿",
    "submitted": "待审核",
    "returned": "已退回",
    "published": "已发布",
    "withdrawn": "已撤回",
}


def _today_cn() -> date:
    return datetime.now(timezone(timedelta(hours=8))).date()


class CaseService:
    """The case workflow over a ``CaseStore`` and a ``CaseIndex``. Every method checks permissions."""

    def __init__(self, cases: CaseStore, index: CaseIndex | None = None):
        self.cases = cases
        self.index = index or CaseIndex()

    # -- reading
    @staticmethod
    def can_see_history(user: User | None, record: CaseRecord) -> bool:
        """Versions, diffs and the review history: the author, reviewers and admins only."""
        return user is not None and (user.is_reviewer or user.id == record.author_id)

    def get(self, user: User | None, case_id: int) -> CaseRecord:
        """The case as ``user`` may see it: whole for those who ``can_see_history``, else only a
        published case, with its published version as ``current``."""
        record = self.cases.get(case_id)
        if record is None:
            raise NotFound("案例不存在")
        if self.can_see_history(user, record):
            return record
        if not record.live:
            raise Forbidden("无权查看此案例")
        if record.published_version != record.current_version:
            record.current = self.cases.get_version(case_id, record.published_version)
            record.current_version = record.published_version
        return record

    def get_with_history(self, user: User | None, case_id: int) -> CaseRecord:
        """``get`` for pages and calls that show versions or comments: 403 for anyone else."""
        record = self.get(user, case_id)
        if not self.can_see_history(user, record):
            raise Forbidden("只有案例作者和审核人可以查看历史版本和审核记录")
        return record

    def versions(self, user: User | None, case_id: int) -> list[CaseVersion]:
        self.get_with_history(user, case_id)
        return self.cases.list_versions(case_id)

    def events(self, user: User | None, case_id: int) -> list[dict[str, Any]]:
        """The history (with reviewers' comments)."""
        self.get_with_history(user, case_id)
        return self.cases.list_events(case_id)

    def version_pair(self, user: User | None, case_id: int, a: int, b: int) -> tuple[CaseVersion, CaseVersion]:
        """Versions ``a`` and ``b`` of a case, to compare."""
        self.get_with_history(user, case_id)
        old, new = self.cases.get_version(case_id, a), self.cases.get_version(case_id, b)
        if old is None or new is None:
            raise NotFound("版本不存在")
        return old, new

    def citations_for(self, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        text = "\n".join([str(data.get("title") or ""), case_text(data)])
        return self.index.citations(text)

    # -- writing
    def create(
        self, user: User, raw: Mapping[str, Any], bad_utf8: Iterable[str] = (), complete: bool = False
    ) -> CaseRecord:
        """Save a new draft (version 1). Raises ``Invalid`` with field errors; nothing is saved then."""
        data = self._validated(raw, bad_utf8, complete)
        citations = self.citations_for(data)
        with self.cases.transaction() as conn:
            case_id = self.cases.insert_case(conn, user.id)
            self.cases.insert_version(conn, case_id, 1, user.id, data, citations)
            self.cases.add_event(conn, case_id, 1, user.id, "created")
        return self.get(user, case_id)

    def update(
        self,
        user: User,
        case_id: int,
        raw: Mapping[str, Any],
        bad_utf8: Iterable[str] = (),
        base_version: int | None = None,
    ) -> CaseRecord:
        """Save an edit as a new version. Withdrawn or returned cases go back to draft."""
        data = self._validated(raw, bad_utf8, False)
        citations = self.citations_for(data)
        with self.cases.transaction() as conn:
            record = self._load(conn, case_id)
            self._check_edit(user, record)
            if base_version is not None and base_version != record.current_version:
                raise Conflict(f"此案例已被修改（当前为第 {record.current_version} 版），请刷新后再编辑")
            number = record.current_version + 1
            self.cases.insert_version(conn, case_id, number, user.id, data, citations)
            self.cases.set_current(conn, case_id, number, "submitted" if record.state == "submitted" else "draft")
            self.cases.add_event(conn, case_id, number, user.id, "edited")
        return self.get(user, case_id)

    def submit(self, user: User, case_id: int) -> CaseRecord:
        """Send a draft (or returned case) for review; the full template must be filled in."""
        with self.cases.transaction() as conn:
            record = self._load(conn, case_id)
            if user.id != record.author_id and not user.is_reviewer:
                raise Forbidden("只能提交自己的案例")
            if record.state not in ("draft", "returned"):
                raise Conflict(f"当前状态（{STATE_LABELS[record.state]}）不能提交审核")
            _, errors = validate_case(record.current.data, complete=True, today=_today_cn())
            if errors:
                raise Invalid("案例尚未填写完整，不能提交", errors)
            self._set_state(conn, record, user, "submitted")
        return self.get(user, case_id)

    def review(self, user: User, case_id: int, action: str, comment: str = "") -> CaseRecord:
        """Publish (index at once) or return with a comment. Reviewers and admins only."""
        if not user.is_reviewer:
            raise Forbidden("只有审核人可以审核案例")
        comment = (comment or "").strip()
        if action not in ("publish", "return"):
            raise Invalid("审核操作须为 publish（发布）或 return（退回）", {"action": "请选择发布或退回"})
        if action == "return" and not comment:
            raise Invalid("退回时请写明原因", {"comment": "退回时请写明原因"})
        if len(comment) > 10_000:
            raise Invalid("审核意见过长", {"comment": "审核意见不超过 10000 字"})
        with self.cases.transaction() as conn:
            record = self._load(conn, case_id)
            if record.state != "submitted":
                raise Conflict(f"当前状态（{STATE_LABELS[record.state]}）不能审核")
            if record.author_id == user.id and user.role != "admin":
                raise Forbidden("不能审核自己提交的案例")
            if action == "return":
                self._set_state(conn, record, user, "returned", comment)
            else:
                published_at = self.cases.set_published(conn, case_id, record.current_version)
                self._set_state(conn, record, user, "published", comment)
                self._index_call(lambda: self.index.publish(case_to_document(record.current, published_at)))
        return self.get(user, case_id)

    def withdraw(self, user: User, case_id: int, comment: str = "") -> CaseRecord:
        """Take a published case down; it leaves the index at once."""
        with self.cases.transaction() as conn:
            record = self._load(conn, case_id)
            if user.id != record.author_id and not user.is_reviewer:
                raise Forbidden("只能撤回自己的案例")
            if not record.live:
                raise Conflict("只有已发布的案例可以撤回")
            self._set_state(conn, record, user, "withdrawn", (comment or "").strip()[:10_000])
            self.cases.clear_published(conn, case_id)
            self._index_call(lambda: self.index.unpublish(record.doc_id))
        return self.get(user, case_id)

    # -- helpers
    def _validated(self, raw: Mapping[str, Any], bad_utf8: Iterable[str], complete: bool) -> dict[str, Any]:
        data, errors = validate_case(raw, complete=complete, today=_today_cn(), bad_utf8=bad_utf8)
        if errors:
            raise Invalid("请修改标出的字段后再保存", errors)
        return data

    def _load(self, conn: db.Conn, case_id: int) -> CaseRecord:
        record = self.cases.get(case_id, conn)
        if record is None or record.current is None:
            raise NotFound("案例不存在")
        return record

    def _check_edit(self, user: User, record: CaseRecord) -> None:
        if user.id != record.author_id and not user.is_reviewer:
            raise Forbidden("只能修改自己的案例")
        # a published case is corrected by a new version, reviewed before it replaces the published one
        editable = ("draft", "returned", "withdrawn", "published")
        if record.state not in editable + (("submitted",) if user.is_reviewer else ()):
            raise Conflict(f"当前状态（{STATE_LABELS[record.state]}）不能修改，请等审核结束")

    def _set_state(self, conn: db.Conn, record: CaseRecord, user: User, state: str, comment: str = "") -> None:
        """Move the case to ``state``; the history records the same word as the action."""
        self.cases.set_state(conn, record.id, state)
        self.cases.add_event(conn, record.id, record.current_version, user.id, state, comment)

    @staticmethod
    def _index_call(call: Callable[[], None]) -> None:
        try:
            call()
        except EngineError as e:
            raise Unavailable(f"搜索引擎暂时不可用，操作未生效，请稍后再试（{e.message}）") from e
