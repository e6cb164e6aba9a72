"""Lawyers' cases: the form and review pages (``/lawyer/…``) and the token API (``/api/cases…``).

Pages use the browser session plus a CSRF token; the API uses per-user bearer
tokens only. Both go through the app's ``CaseService`` (``search_api.cases.workflow``), so
the same rules (permissions, validation, workflow) apply to people and to tools. Refusals
reach the edge as the app's errors; only the case form is shown again on its own refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from search_api.accounts.auth import ApiUser, LoggedIn, get_store
from search_api.accounts.forms import FormData, check_csrf, handle_form, read_body, read_form
from search_api.accounts.users import User
from search_api.cases.diffview import side_by_side
from search_api.cases.fields import FIELD_LABELS, FIELDS, LONG_FIELDS, MAX_KEYWORDS, diff_text
from search_api.cases.importer import import_jsonl
from search_api.cases.index import unresolved_warnings
from search_api.cases.store import CaseRecord
from search_api.cases.workflow import STATE_LABELS, CaseService, CaseState
from search_api.errors import AppError, BadRequest, Conflict, Invalid
from search_api.web.markdown import render_markdown
from search_api.web.openapi import errors
from search_api.web.schemas import (
    REVIEW_BODY,
    Case,
    CaseDiff,
    CaseList,
    ImportReport,
    case_body,
    import_body,
)
from search_api.web.templating import render_staff, see_other

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/cases", tags=["lawyer cases"])

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_ACTION_FORM_BYTES = 256 * 1024
MAX_JSON_BYTES = 5 * 1024 * 1024
RESTORED_NOTE = "登录已过期，已恢复您之前填写的内容，请检查后重新保存。"


def case_service(request: Request) -> CaseService:
    """The app's CaseService (``app.state.case_service``, built by ``create_app``)."""
    return request.app.state.case_service


# ---- pages ----------------------------------------------------------------------------


def _form_values(data: dict[str, Any]) -> dict[str, str]:
    values = {name: data.get(name) or "" for name in FIELDS}
    if isinstance(values["keywords"], list):
        values["keywords"] = "、".join(values["keywords"])
    return values


def _form_page(
    request: Request, record: CaseRecord | None, values: dict, errors: dict, status_code: int = 200, note: str = ""
):
    ctx = {
        "record": record,
        "values": _form_values(values),
        "errors": errors,
        "fields": FIELDS,
        "labels": FIELD_LABELS,
        "long_fields": LONG_FIELDS,
        "max_keywords": MAX_KEYWORDS,
        "note": note,
        "returned": _return_comment(request, record),
    }
    return render_staff(request, "lawyer/form.html", ctx, status_code=status_code)


def _return_comment(request: Request, record: CaseRecord | None) -> dict | None:
    """Why the case was returned (the reviewer's comment), while it is returned or being reworked."""
    if record is None or record.state not in ("returned", "draft"):
        return None
    events = get_store(request).cases.list_events(record.id)
    last = next((e for e in reversed(events) if e["action"] in ("returned", "submitted", "published")), None)
    return dict(last) if last is not None and last["action"] == "returned" else None


def _restored(request: Request, user: User, restore: str) -> dict | None:
    if not restore:
        return None
    popped = get_store(request).sessions.pop_form(restore, user.id)
    return popped[1] if popped else None


@router.get("/lawyer/", response_class=HTMLResponse)
def dashboard(request: Request, user: LoggedIn):
    """My cases and, for reviewers, the cases waiting for review."""
    cases = get_store(request).cases
    queue = cases.list(states=("submitted",)) if user.is_reviewer else []
    ctx = {"mine": cases.list(author_id=user.id), "queue": queue, "state_labels": STATE_LABELS}
    ctx["qa_requests"] = request.app.state.gap_actions.requests()  # 问答 the union asked for (routes.gaps)
    return render_staff(request, "lawyer/dashboard.html", ctx)


@router.get("/lawyer/cases/new", response_class=HTMLResponse)
def new_case_page(request: Request, user: LoggedIn, restore: str = ""):
    """An empty case form (or the one typed before the session expired)."""
    values = _restored(request, user, restore)
    return _form_page(request, None, values or {}, {}, note=RESTORED_NOTE if values else "")


@router.post("/lawyer/cases/new", response_class=HTMLResponse)
async def new_case_submit(request: Request, user: LoggedIn):
    """Save a new draft; on errors the form comes back with everything typed."""

    def save(form: FormData):
        record = case_service(request).create(user, form, bad_utf8=form.bad_utf8)
        return see_other(f"/lawyer/cases/{record.id}")

    def again(form: FormData, refusal: AppError):
        return _form_page(request, None, form, refusal.errors, status_code=refusal.status)

    return await handle_form(request, save, again)


@router.get("/lawyer/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, user: LoggedIn):
    """A case as it will appear, with its cited articles, history and the allowed actions."""
    return _case_page(request, case_id, user)


def _case_page(
    request: Request, case_id: int, user: User, errors: dict | None = None, values: dict | None = None, status=200
):
    """The case page; a refused action (a return without a comment) comes back here with what was typed."""
    service = case_service(request)
    record = service.get(user, case_id)
    data = record.current.data
    history = service.can_see_history(user, record)  # others see the published version only
    ctx = {
        "record": record,
        "data": data,
        "labels": FIELD_LABELS,
        "annotation_html": render_markdown(data.get("annotation")),
        "citations": record.current.citations,
        "show_history": history,
        "versions": service.versions(user, case_id) if history else [],
        "events": service.events(user, case_id) if history else [],
        "state_labels": STATE_LABELS,
        "is_author": record.author_id == user.id,
        "errors": errors or {},
        "values": values or {},
    }
    return render_staff(request, "lawyer/case.html", ctx, status_code=status)


@router.get("/lawyer/cases/{case_id}/edit", response_class=HTMLResponse)
def edit_case_page(request: Request, case_id: int, user: LoggedIn, restore: str = ""):
    record = case_service(request).get_with_history(user, case_id)
    values = _restored(request, user, restore)
    return _form_page(request, record, values or record.current.data, {}, note=RESTORED_NOTE if values else "")


@router.post("/lawyer/cases/{case_id}/edit", response_class=HTMLResponse)
async def edit_case_submit(request: Request, case_id: int, user: LoggedIn):
    """Save an edit as a new version; on errors, or when a newer version exists, the form comes back."""
    service = case_service(request)

    def save(form: FormData):
        base = form.get("base_version", "")
        service.update(user, case_id, form, bad_utf8=form.bad_utf8, base_version=int(base) if base.isdigit() else None)
        return see_other(f"/lawyer/cases/{case_id}")

    def again(form: FormData, refusal: AppError):
        note = refusal.message if isinstance(refusal, Conflict) else ""  # nothing typed is lost
        record = service.get(user, case_id)
        return _form_page(request, record, form, refusal.errors, status_code=refusal.status, note=note)

    return await handle_form(request, save, again, refusals=(Invalid, Conflict))


async def _action(request: Request, case_id: int, call: Callable[[CaseService, FormData], Any]):
    """A button on the case page (submit, review, withdraw): do it, then back to the case."""
    form = await read_form(request, max_bytes=MAX_ACTION_FORM_BYTES)
    check_csrf(request, form)
    call(case_service(request), form)
    return see_other(f"/lawyer/cases/{case_id}")


@router.post("/lawyer/cases/{case_id}/submit")
async def submit_case(request: Request, case_id: int, user: LoggedIn):
    """Send for review, after the lawyer confirmed the detected citations."""

    form = await read_form(request, max_bytes=MAX_ACTION_FORM_BYTES)
    check_csrf(request, form)
    service = case_service(request)
    try:
        if service.get(user, case_id).current.citations and form.get("confirm_citations") != "1":
            raise Invalid("请先核对并确认识别出的法条引用", {"confirm_citations": "请先核对上面的法条引用并勾选确认"})
        service.submit(user, case_id)
    except Invalid as refusal:
        errors = refusal.errors if "confirm_citations" in refusal.errors else {"submit": refusal.message}
        return _case_page(request, case_id, user, errors, dict(form), refusal.status)
    return see_other(f"/lawyer/cases/{case_id}")


@router.post("/lawyer/cases/{case_id}/review", response_class=HTMLResponse)
async def review_case(request: Request, case_id: int, user: LoggedIn):
    """Publish (searchable at once) or return with a comment; a return without one comes back to
    the case page with the message at the comment and nothing typed lost."""
    form = await read_form(request, max_bytes=MAX_ACTION_FORM_BYTES)
    check_csrf(request, form)
    try:
        case_service(request).review(user, case_id, form.get("action", ""), form.get("comment", ""))
    except Invalid as refusal:
        return _case_page(request, case_id, user, refusal.errors, dict(form), refusal.status)
    return see_other(f"/lawyer/cases/{case_id}")


@router.post("/lawyer/cases/{case_id}/withdraw")
async def withdraw_case(request: Request, case_id: int, user: LoggedIn):
    """Take a published case down (it leaves the index at once)."""
    return await _action(request, case_id, lambda s, f: s.withdraw(user, case_id, f.get("comment", "")))


@router.get("/lawyer/cases/{case_id}/diff", response_class=HTMLResponse)
def diff_page(request: Request, case_id: int, user: LoggedIn, a: int = 0, b: int = 0):
    """Field-by-field differences between two versions (default: the last two)."""
    service = case_service(request)
    record = service.get_with_history(user, case_id)
    b = b or record.current_version
    # a correction of a published case is compared with what is online; otherwise with the version before
    online = record.published_version if record.live and record.published_version != b else None
    a = a or online or max(1, b - 1)
    old, new = service.version_pair(user, case_id, a, b)
    ctx = {
        "record": record,
        "old": old,
        "new": new,
        "diffs": side_by_side(old, new),
        "versions": service.versions(user, case_id),
    }
    return render_staff(request, "lawyer/diff.html", ctx)


# ---- JSON API (bearer tokens) ---------------------------------------------------------------


def case_json(record: CaseRecord) -> dict[str, Any]:
    """A case as the API returns it."""
    version = record.current
    return {
        "id": record.id,
        "doc_id": record.doc_id,
        "state": record.state,
        "author": record.author,
        "version": record.current_version,
        "published_version": record.published_version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "published_at": record.published_at,
        "fields": version.data if version else {},
        "citations": version.citations if version else [],
        "warnings": unresolved_warnings(version.citations) if version else [],
    }


async def json_object(request: Request) -> dict[str, Any]:
    body = await read_body(request, MAX_JSON_BYTES)
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("请求体不是有效的 UTF-8 编码") from None
    except json.JSONDecodeError as e:
        raise BadRequest(f"请求体不是有效的 JSON（第 {e.lineno} 行第 {e.colno} 列）") from None
    if not isinstance(data, dict):
        raise BadRequest("请求体须为 JSON 对象")
    return data


# Case ids are digits (so /api/cases/import is never taken for one): a ``:int`` route.
CaseId = Annotated[int, Path(ge=1, description="The case id.")]
CASE = {200: {"model": Case}}


@api_router.get("", response_model=None, responses={200: {"model": CaseList}, **errors(400, 401)})
def api_list(
    request: Request,
    user: ApiUser,
    state: Annotated[CaseState | None, Query(description="Only cases in this state.")] = None,
):
    """Your cases (reviewers and admins: everyone's), optionally by ``state``."""
    states = (state,) if state else ()
    records = get_store(request).cases.list(author_id=None if user.is_reviewer else user.id, states=states)
    return {"cases": [case_json(r) for r in records]}


@api_router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": Case}, **errors(400, 401, 413, 422)},
    openapi_extra=case_body(),
)
async def api_create(request: Request, user: ApiUser):
    """Create a draft. Field errors come back as 422 ``{"errors": {field: message}}``."""
    data = await json_object(request)
    return case_json(case_service(request).create(user, data))


@api_router.post(
    "/import",
    response_model=None,
    responses={200: {"model": ImportReport}, **errors(400, 401, 413)},
    openapi_extra=import_body(),
)
async def api_import(
    request: Request,
    user: ApiUser,
    submit: Annotated[bool, Query(description="Also send each imported case for review.")] = False,
):
    """Bulk import from JSON Lines (one case object per line); returns a per-line report."""
    body = await read_body(request, MAX_IMPORT_BYTES)
    return import_jsonl(case_service(request), user, body, submit=submit)


@api_router.get("/{case_id:int}", response_model=None, responses={**CASE, **errors(400, 401, 403, 404)})
def api_get(request: Request, case_id: CaseId, user: ApiUser):
    """One case with its current version and detected citations."""
    return case_json(case_service(request).get(user, case_id))


@api_router.put(
    "/{case_id:int}",
    response_model=None,
    responses={**CASE, **errors(400, 401, 403, 404, 409, 413, 422)},
    openapi_extra=case_body(put=True),
)
async def api_update(request: Request, case_id: CaseId, user: ApiUser):
    """Save an edit as a new version (``base_version`` guards against overwriting a newer one)."""
    data = await json_object(request)
    base = data.get("base_version")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool)):
        raise Invalid("base_version 须为整数（所编辑的版本号）", {"base_version": "须为整数"})
    record = case_service(request).update(user, case_id, data, base_version=base)
    return case_json(record)


@api_router.post(
    "/{case_id:int}/submit", response_model=None, responses={**CASE, **errors(400, 401, 403, 404, 409, 422)}
)
def api_submit(request: Request, case_id: CaseId, user: ApiUser):
    """Send a draft for review (422 when the template is not complete)."""
    return case_json(case_service(request).submit(user, case_id))


@api_router.post(
    "/{case_id:int}/review",
    response_model=None,
    responses={**CASE, **errors(400, 401, 403, 404, 409, 413, 422, 503)},
    openapi_extra=REVIEW_BODY,
)
async def api_review(request: Request, case_id: CaseId, user: ApiUser):
    """``{"action": "publish" | "return", "comment": "…"}`` — reviewers and admins."""
    data = await json_object(request)
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise Invalid("审核意见须为文本", {"comment": "审核意见须为文本"})
    record = case_service(request).review(user, case_id, str(data.get("action", "")), comment or "")
    return case_json(record)


@api_router.post(
    "/{case_id:int}/withdraw", response_model=None, responses={**CASE, **errors(400, 401, 403, 404, 409, 503)}
)
def api_withdraw(request: Request, case_id: CaseId, user: ApiUser):
    """Take a published case down."""
    return case_json(case_service(request).withdraw(user, case_id))


@api_router.get(
    "/{case_id:int}/diff", response_model=None, responses={200: {"model": CaseDiff}, **errors(400, 401, 403, 404)}
)
def api_diff(
    request: Request,
    case_id: CaseId,
    a: Annotated[int, Query(ge=1, description="The older version.")],
    b: Annotated[int, Query(ge=1, description="The newer version.")],
    user: ApiUser,
):
    """Unified diff between versions ``a`` and ``b`` — the author, reviewers and admins only (else 403)."""
    old, new = case_service(request).version_pair(user, case_id, a, b)
    return {"a": a, "b": b, "diff": diff_text(old, new)}
