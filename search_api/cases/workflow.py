"""Lawyers' typical cases: validation, the review workflow, versions and diffs, and indexing.

Workflow::

    draft ──submit──▶ submitted ──publish──▶ published ──withdraw──▶ withdrawn
      ▲                  │ return (with a reviewer's comment)              │
      └── edit ◀── returned ◀──┘                        edit (back to draft) ┘

Every save is a new row in ``case_versions``. Each operation runs in one store
transaction; publishing indexes the case inside that transaction, so a failed
index call leaves the case unpublished rather than half-done.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ingest.model import Document
from search_api.accounts.store import CaseRecord, CaseVersion, Store, User, now_iso
from search_api.cases.fields import (  # re-exported: callers need only this module
    FIELD_LABELS,
    FIELDS,
    SECTION_FIELDS,
    diff_versions,
    validate_case,
)

# Re-exported for callers that only import this module.
__all__ = [
    "FIELDS",
    "FIELD_LABELS",
    "CaseError",
    "CaseIndex",
    "CaseService",
    "case_to_document",
    "diff_versions",
    "import_jsonl",
    "published_documents",
    "validate_case",
]


class CaseError(Exception):
    """A refused case operation; ``message`` (Chinese) and ``status`` map straight to a response."""

    status = 400

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFound(CaseError):
    status = 404


class Forbidden(CaseError):
    status = 403


class Conflict(CaseError):
    status = 409


class Invalid(CaseError):
    status = 422


class Unavailable(CaseError):
    status = 503


# ---- the search side --------------------------------------------------------------


class CaseIndex:
    """Citation detection and (un)indexing against the active engine.

    ``engine`` may be None (no index configured): cases are then only stored, and the
    next rebuild (``published_documents``) picks them up. ``prepare`` turns a bare
    Document into an indexable one (tokens, topics); ``registry`` (a TitleRegistry, or a callable returning one) resolves law titles.
    """

    def __init__(
        self,
        engine: Any = None,
        registry: Any = None,
        prepare: Callable[[Document], Document] | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.engine = engine
        self._registry = registry
        self.prepare = prepare
        self.on_change = on_change  # e.g. SearchService.invalidate: drop cached index facts

    @property
    def registry(self) -> Any:
        if callable(self._registry):  # e.g. the search service's cached registry
            return self._registry()
        if self._registry is None and self.engine is not None:
            self._registry = registry_from_engine(self.engine)
        return self._registry

    def citations(self, text: str) -> list[dict[str, Any]]:
        """Articles cited in ``text``; each dict has ``resolved`` (the article exists in the index)."""
        from ingest.citations import find_citations

        out = []
        for c in find_citations(text, self.registry):
            if c.target and self.engine is not None and self.engine.get(c.target) is None:
                c.target = None  # the law is known but has no such article
            out.append({**c.as_dict(), "resolved": bool(c.target)})
        return out

    def publish(self, doc: Document) -> None:
        if self.engine is None:
            return
        cites, citations = list(doc.cites), list(doc.citations)
        if self.prepare is not None:
            doc = self.prepare(doc)
        # Keep the citations checked against the index, not the preparer's unchecked ones.
        doc.cites, doc.citations = cites, citations
        report = self.engine.index_documents([doc])
        if getattr(report, "failed", None):
            raise Unavailable(f"索引失败：{report.failed[0][1]}")
        self.engine.refresh()
        if self.on_change is not None:
            self.on_change()

    def unpublish(self, doc_id: str) -> None:
        if self.engine is not None:
            self.engine.delete([doc_id])
            self.engine.refresh()
            if self.on_change is not None:
                self.on_change()


def registry_from_engine(engine: Any) -> Any:
    """A TitleRegistry of every whole law in the index (for resolving 《…》 titles)."""
    from ingest.citations import TitleRegistry
    from ingest.pipeline import registry_from
    from search_api.engines.base import SearchQuery

    registry = TitleRegistry()
    offset = 0
    while True:
        result = engine.search(SearchQuery(terms=[], filters={"kind": ["law", "policy"]}, size=500, offset=offset))
        registry_from((h.doc for h in result.hits), registry)
        offset += len(result.hits)
        if not result.hits or offset >= result.total:
            return registry


def preparer(tok: Any, topics_for: Callable[[list[str]], list[str]] | None = None) -> Callable[[Document], Document]:
    """Tokens and topics through the same ingest path as the corpus (``ingest.pipeline.prepare_document``)."""
    from ingest.pipeline import prepare_document

    return lambda doc: prepare_document(doc, tok, None, None, topics_for)


# ---- documents ----------------------------------------------------------------


def case_text(data: Mapping[str, Any]) -> str:
    """The case body as one display text, section by section (used for search and highlights)."""
    parts = []
    for name in SECTION_FIELDS + ("annotation",):
        value = data.get(name)
        if isinstance(value, list):
            value = "、".join(value)
        if value:
            parts.append(f"{FIELD_LABELS[name]}\n{value}")
    return "\n\n".join(parts)


def case_to_document(version: CaseVersion, published_at: str = "") -> Document:
    """The search document of a case version: id ``lawyer-case-<n>``, kind ``case``."""
    data = version.data
    sections = {}
    for name in SECTION_FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            value = "、".join(value)
        if value:
            sections[FIELD_LABELS[name]] = value
    cited = [c for c in version.citations if c.get("target")]
    citations = [{k: v for k, v in c.items() if k != "resolved"} for c in version.citations]
    source = data.get("source") or ""
    doc_id = f"lawyer-case-{version.case_id}"
    return Document(
        id=doc_id,
        kind="case",
        doc_type="lawyer_case",
        title=data.get("title", ""),
        text=case_text(data),
        source_path=f"store:{doc_id}",
        content_hash=hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest(),
        keywords=list(data.get("keywords") or []),
        sections=sections,
        published=(published_at or "")[:10],
        court=data.get("court", ""),
        region=data.get("region") or "全国",
        level="national" if (data.get("region") or "全国") == "全国" else "local",
        annotation=data.get("annotation", ""),
        citations=citations,
        cites=list(dict.fromkeys(c["target"] for c in cited)),
        url=source if re.match(r"https?://", source) else "",
        prior=1.0,
    )


def published_documents(store: Store) -> list[Document]:
    """Every published case as a Document, for rebuilding the index from corpus plus store."""
    docs = []
    for record in store.list_cases(states=("published",)):
        version = store.get_version(record.id, record.published_version or record.current_version)
        if version is not None:
            docs.append(case_to_document(version, record.published_at or ""))
    return docs


# ---- the workflow -------------------------------------------------------------


def _today_cn() -> date:
    return datetime.now(timezone(timedelta(hours=8))).date()


class CaseService:
    """The case workflow over a ``Store`` and a ``CaseIndex``. Every method checks permissions."""

    def __init__(self, store: Store, index: CaseIndex | None = None):
        self.store = store
        self.index = index or CaseIndex()

    # -- reading
    def get(self, user: User | None, case_id: int) -> CaseRecord:
        record = self.store.get_case(case_id)
        if record is None:
            raise NotFound("案例不存在")
        if record.state != "published" and (user is None or not (user.is_reviewer or user.id == record.author_id)):
            raise Forbidden("无权查看此案例")
        return record

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
        with self.store.transaction() as conn:
            now = _now()
            cur = conn.execute(
                "INSERT INTO cases (author_id, state, current_version, created_at, updated_at) VALUES (?, 'draft', 1, ?, ?)",
                (user.id, now, now),
            )
            case_id = cur.lastrowid
            self.store.insert_version(conn, case_id, 1, user.id, data, citations)
            self.store.add_event(conn, case_id, 1, user.id, "created")
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
        with self.store.transaction() as conn:
            record = self._load(conn, case_id)
            self._check_edit(user, record)
            if base_version is not None and base_version != record.current_version:
                raise Conflict(f"此案例已被修改（当前为第 {record.current_version} 版），请刷新后再编辑")
            number = record.current_version + 1
            self.store.insert_version(conn, case_id, number, user.id, data, citations)
            state = "submitted" if record.state == "submitted" else "draft"
            conn.execute(
                "UPDATE cases SET current_version = ?, state = ?, updated_at = ? WHERE id = ?",
                (number, state, _now(), case_id),
            )
            self.store.add_event(conn, case_id, number, user.id, "edited")
        return self.get(user, case_id)

    def submit(self, user: User, case_id: int) -> CaseRecord:
        """Send a draft (or returned case) for review; the full template must be filled in."""
        with self.store.transaction() as conn:
            record = self._load(conn, case_id)
            if user.id != record.author_id and not user.is_reviewer:
                raise Forbidden("只能提交自己的案例")
            if record.state not in ("draft", "returned"):
                raise Conflict(f"当前状态（{STATE_LABELS[record.state]}）不能提交审核")
            _, errors = validate_case(record.current.data, complete=True, today=_today_cn())
            if errors:
                raise Invalid("案例尚未填写完整，不能提交", errors)
            self._set_state(conn, record, user, "submitted", "submitted")
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
        with self.store.transaction() as conn:
            record = self._load(conn, case_id)
            if record.state != "submitted":
                raise Conflict(f"当前状态（{STATE_LABELS[record.state]}）不能审核")
            if record.author_id == user.id and user.role != "admin":
                raise Forbidden("不能审核自己提交的案例")
            if action == "return":
                self._set_state(conn, record, user, "returned", "returned", comment)
            else:
                published_at = _now()
                conn.execute(
                    "UPDATE cases SET published_version = ?, published_at = ? WHERE id = ?",
                    (record.current_version, published_at, case_id),
                )
                self._set_state(conn, record, user, "published", "published", comment)
                self._index_call(lambda: self.index.publish(case_to_document(record.current, published_at)))
        return self.get(user, case_id)

    def withdraw(self, user: User, case_id: int, comment: str = "") -> CaseRecord:
        """Take a published case down; it leaves the index at once."""
        with self.store.transaction() as conn:
            record = self._load(conn, case_id)
            if user.id != record.author_id and not user.is_reviewer:
                raise Forbidden("只能撤回自己的案例")
            if record.state != "published":
                raise Conflict("只有已发布的案例可以撤回")
            self._set_state(conn, record, user, "withdrawn", "withdrawn", (comment or "").strip()[:10_000])
            self._index_call(lambda: self.index.unpublish(record.doc_id))
        return self.get(user, case_id)

    # -- helpers
    def _validated(self, raw: Mapping[str, Any], bad_utf8: Iterable[str], complete: bool) -> dict[str, Any]:
        data, errors = validate_case(raw, complete=complete, today=_today_cn(), bad_utf8=bad_utf8)
        if errors:
            raise Invalid("请修改标出的字段后再保存", errors)
        return data

    def _load(self, conn: Any, case_id: int) -> CaseRecord:
        record = self.store.get_case(case_id, conn)
        if record is None or record.current is None:
            raise NotFound("案例不存在")
        return record

    def _check_edit(self, user: User, record: CaseRecord) -> None:
        if user.id != record.author_id and not user.is_reviewer:
            raise Forbidden("只能修改自己的案例")
        editable = (
            ("draft", "returned", "withdrawn", "submitted") if user.is_reviewer else ("draft", "returned", "withdrawn")
        )
        if record.state not in editable:
            raise Conflict(
                f"当前状态（{STATE_LABELS[record.state]}）不能修改"
                + ("，请先撤回" if record.state == "published" else "")
            )

    def _set_state(self, conn: Any, record: CaseRecord, user: User, state: str, action: str, comment: str = "") -> None:
        conn.execute("UPDATE cases SET state = ?, updated_at = ? WHERE id = ?", (state, _now(), record.id))
        self.store.add_event(conn, record.id, record.current_version, user.id, action, comment)

    @staticmethod
    def _index_call(call: Callable[[], None]) -> None:
        from search_api.engines.base import EngineError

        try:
            call()
        except EngineError as e:
            raise Unavailable(f"搜索引擎暂时不可用，操作未生效，请稍后再试（{e.message}）") from e


STATE_LABELS = {
    "draft": "草稿",
    "submitted": "待审核",
    "returned": "已退回",
    "published": "已发布",
    "withdrawn": "已撤回",
}


def _now() -> str:
    return now_iso()


# ---- bulk import ----------------------------------------------------------------

MAX_IMPORT_LINES = 2000


def import_jsonl(service: CaseService, user: User, body: bytes, submit: bool = False) -> dict[str, Any]:
    """Create one case per JSON Lines line; returns a per-line report. A bad line never stops the rest.

    Each line is an object with the case fields (``keywords`` a list or a 、-separated
    string). With ``submit`` each saved case is also sent for review.
    """
    report: list[dict[str, Any]] = []
    for number, raw_line in enumerate(body.splitlines(), start=1):
        if not raw_line.strip():
            continue
        entry: dict[str, Any] = {"line": number, "ok": False}
        report.append(entry)
        if len(report) > MAX_IMPORT_LINES:
            entry["errors"] = {"line": f"一次最多导入 {MAX_IMPORT_LINES} 行，其余未处理"}
            break
        try:
            obj = json.loads(raw_line.decode("utf-8"))
        except UnicodeDecodeError:
            entry["errors"] = {"line": "此行不是有效的 UTF-8 编码"}
            continue
        except json.JSONDecodeError as e:
            entry["errors"] = {"line": f"此行不是有效的 JSON（第 {e.colno} 列）"}
            continue
        if not isinstance(obj, dict):
            entry["errors"] = {"line": "每行须为一个 JSON 对象"}
            continue
        try:
            record = service.create(user, obj, complete=True)
            if submit:
                record = service.submit(user, record.id)
        except CaseError as e:
            entry["errors"] = e.errors or {"line": e.message}
            continue
        entry.update(ok=True, id=record.id, state=record.state, warnings=unresolved_warnings(record.current.citations))
    ok = sum(1 for e in report if e["ok"])
    return {"total": len(report), "ok": ok, "failed": len(report) - ok, "lines": report}


def unresolved_warnings(citations: list[dict[str, Any]]) -> list[str]:
    """A warning per cited article that did not resolve to an article in the index."""
    return [f"未能对应到法条：{c['raw']}" for c in citations if not c.get("resolved")]
