"""The district desk (``/desk``), lawyers' answers (``/lawyer/help``), publishing 问答 (``/review/qa``),
and the same for tools: the staff API under ``/api/help-requests`` (personal tokens) and the
union's figures and event feed under ``/api/help`` (scoped tokens).

Every route goes through ``HelpService``, which decides who may see a request: staff of its
district and admins, or the lawyer it is assigned to. Pages use the session and a CSRF token.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.convertors import IntegerConvertor, register_url_convertor

from search_api.accounts.auth import ApiUser, require_role
from search_api.accounts.forms import check_csrf, read_form
from search_api.accounts.tokens import TokenInfo, check_token
from search_api.accounts.users import User
from search_api.errors import Conflict, Invalid
from search_api.help import stats as hs
from search_api.help.fields import CALL_TIMES, DISPUTE_CHOICES, TOPICS
from search_api.help.qa import publish_qa
from search_api.help.service import OPEN_STATES, OUTCOMES, STATE_LABELS, TRANSITIONS, HelpService, HelpView
from search_api.routes.help import help_service, worker_json
from search_api.routes.lawyers import json_object
from search_api.routes.logs import SCOPED_TOKEN
from search_api.web.help_schemas import (
    ANSWER_BODY,
    ASSIGN_BODY,
    EVENTS_ANSWER,
    STATE_BODY,
    HelpDeskItem,
    HelpQueue,
    RevealedPhone,
)
from search_api.web.markdown import render_markdown
from search_api.web.openapi import errors
from search_api.web.templating import linked_html, render_staff, see_other

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/help-requests", tags=["help desk"])
stats_router = APIRouter(prefix="/api/help", tags=["help desk"])

DeskUser = Annotated[User, Depends(require_role("staff", "admin"))]
LawyerUser = Annotated[User, Depends(require_role("lawyer"))]
ReviewerUser = Annotated[User, Depends(require_role("reviewer", "admin"))]
SMALL_FORM = 64 * 1024
QUEUES = {"open": ("未结束", OPEN_STATES), "closed": ("已结束", ("closed",)), "all": ("全部", ())}


def _ctx(view: HelpView, service: HelpService, **extra: Any) -> dict[str, Any]:
    answer = view.answer
    return {
        "view": view,
        "row": view.row,
        "topics": TOPICS,
        "disputes": DISPUTE_CHOICES,
        "call_times": CALL_TIMES,
        "state_labels": STATE_LABELS,
        "outcomes": OUTCOMES,
        "next_states": TRANSITIONS.get(view.row.state, ()),
        "answer_html": linked_html(render_markdown(answer["body"]), answer["citations"]) if answer else "",
        "rota": service.rota(view.row.district),
        "errors": {},
        "values": {},
        "phone": "",
        **extra,
    }


# ---- the desk ------------------------------------------------------------------------------


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, user: DeskUser, show: str = "open"):
    """The user's districts' requests, oldest first, overdue ones marked."""
    service = help_service(request)
    states = QUEUES.get(show, QUEUES["open"])[1]
    rows = service.queue(user, states)
    ctx = {
        "rows": rows,
        "overdue": {r.id for r in rows if service.is_overdue(r)},
        "show": show if show in QUEUES else "open",
        "queues": QUEUES,
        "state_labels": STATE_LABELS,
        "outcomes": OUTCOMES,
        "topics": TOPICS,
        "districts": service.desk_districts(user),
    }
    return render_staff(request, "desk/queue.html", ctx)


@router.get("/desk/audit", response_class=HTMLResponse)
def desk_audit(request: Request, user: Annotated[User, Depends(require_role("admin"))]):
    """Who saw which worker's phone number, newest first (admins; kept after requests are purged)."""
    rows = help_service(request).store.audit_log(limit=500)
    return render_staff(request, "desk/audit.html", {"rows": rows})


@router.get("/desk/{request_id:int}", response_class=HTMLResponse)
def desk_request(request: Request, request_id: int, user: DeskUser):
    service = help_service(request)
    return render_staff(request, "desk/request.html", _ctx(service.for_staff(user, request_id), service))


@router.post("/desk/{request_id:int}/reveal", response_class=HTMLResponse)
async def desk_reveal(request: Request, request_id: int, user: DeskUser):
    """Show the worker's number on this one page (never stored in the page cache): audited."""
    check_csrf(request, await read_form(request, max_bytes=SMALL_FORM))
    service = help_service(request)
    phone = service.reveal_phone(user, request_id)
    ctx = _ctx(service.for_staff(user, request_id), service, phone=phone)
    return render_staff(request, "desk/request.html", ctx)


async def _desk_action(request: Request, request_id: int, user: User, act) -> Any:
    form = await read_form(request, max_bytes=SMALL_FORM)
    check_csrf(request, form)
    service = help_service(request)
    try:
        act(service, form)
    except (Invalid, Conflict) as refusal:
        ctx = _ctx(service.for_staff(user, request_id), service, errors=refusal.errors, values=dict(form))
        ctx["message"] = refusal.message
        return render_staff(request, "desk/request.html", ctx, status_code=refusal.status)
    return see_other(f"/desk/{request_id}")


@router.post("/desk/{request_id:int}/state", response_class=HTMLResponse)
async def desk_state(request: Request, request_id: int, user: DeskUser):
    def act(service: HelpService, form) -> None:
        service.change_state(user, request_id, form.get("state", ""), form.get("outcome", ""), form.get("note", ""))

    return await _desk_action(request, request_id, user, act)


@router.post("/desk/{request_id:int}/assign", response_class=HTMLResponse)
async def desk_assign(request: Request, request_id: int, user: DeskUser):
    def act(service: HelpService, form) -> None:
        lawyer = form.get("lawyer_id", "")
        service.assign(user, request_id, int(lawyer) if lawyer.isdigit() else 0, form.get("assign_note", ""))

    return await _desk_action(request, request_id, user, act)


# ---- lawyers ------------------------------------------------------------------------------


@router.get("/lawyer/help", response_class=HTMLResponse)
def lawyer_help(request: Request, user: LawyerUser):
    """Help requests assigned to this lawyer."""
    rows = help_service(request).assigned_to(user)
    ctx = {"rows": rows, "state_labels": STATE_LABELS, "topics": TOPICS, "outcomes": OUTCOMES}
    return render_staff(request, "lawyer/help_list.html", ctx)


def _lawyer_page(request: Request, user: User, request_id: int, status_code: int = 200, **extra: Any):
    service = help_service(request)
    ctx = _ctx(service.for_staff(user, request_id), service, **extra)
    if not ctx["values"] and ctx["view"].answer:
        ctx["values"] = {"body": ctx["view"].answer["body"]}
    return render_staff(request, "lawyer/help.html", ctx, status_code=status_code)


@router.get("/lawyer/help/{request_id:int}", response_class=HTMLResponse)
def lawyer_help_request(request: Request, request_id: int, user: LawyerUser):
    return _lawyer_page(request, user, request_id)


@router.post("/lawyer/help/{request_id:int}/answer", response_class=HTMLResponse)
async def lawyer_answer(request: Request, request_id: int, user: LawyerUser):
    """Save the written answer; the worker's status page shows it at once."""
    form = await read_form(request, max_bytes=256 * 1024)
    check_csrf(request, form)
    try:
        help_service(request).save_answer(user, request_id, form.get("body", ""))
    except Invalid as refusal:
        return _lawyer_page(request, user, request_id, 422, errors=refusal.errors, values=dict(form))
    return see_other(f"/lawyer/help/{request_id}?saved=1")


# ---- publishing a 问答 ----------------------------------------------------------------------


@router.get("/review/qa", response_class=HTMLResponse)
def qa_queue(request: Request, user: ReviewerUser):
    """Answered requests whose worker agreed to publication, not yet published."""
    rows = help_service(request).store.publishable()
    return render_staff(request, "review/qa_list.html", {"rows": rows, "topics": TOPICS})


def _qa_form(request: Request, user: User, request_id: int, values=None, errs=None, message="", status_code=200):
    view = help_service(request).for_reviewer(user, request_id)
    row = view.row
    if values is None:
        answer = view.answer or {}
        values = {"title": "", "question": view.fields.get("description", ""), "answer": answer.get("body", "")}
    ctx = {"row": row, "values": values, "errors": errs or {}, "message": message, "topics": TOPICS}
    return render_staff(request, "review/qa.html", ctx, status_code=status_code)


@router.get("/review/qa/{request_id:int}", response_class=HTMLResponse)
def qa_form(request: Request, request_id: int, user: ReviewerUser):
    """The worker's words and the lawyer's answer, to be rewritten without anything identifying."""
    return _qa_form(request, user, request_id)


@router.post("/review/qa/{request_id:int}", response_class=HTMLResponse)
async def qa_publish(request: Request, request_id: int, user: ReviewerUser):
    form = await read_form(request, max_bytes=256 * 1024)
    check_csrf(request, form)
    index = request.app.state.case_service.index
    try:
        doc_id = publish_qa(
            help_service(request),
            index,
            user,
            request_id,
            form.get("title", ""),
            form.get("question", ""),
            form.get("answer", ""),
        )
    except (Invalid, Conflict) as refusal:
        return _qa_form(request, user, request_id, dict(form), refusal.errors, refusal.message, refusal.status)
    return see_other(f"/doc/{doc_id}")


# ---- staff API (personal tokens) ---------------------------------------------------------------


def desk_json(service: HelpService, view: HelpView) -> dict[str, Any]:
    row = view.row
    return {
        **worker_json(view),
        "id": row.id,
        "overdue": view.overdue,
        "lawyer": row.lawyer,
        "first_contact_at": row.first_contact_at,
        "closed_at": row.closed_at,
    }


class RequestIdConvertor(IntegerConvertor):
    """A request id in a path: digits not starting with 0, so ``/api/help-requests/0…`` is never taken
    for one (it goes to the worker's ``/{ticket}`` route and is refused there as a bad ticket)."""

    regex = "[1-9][0-9]{0,17}"


register_url_convertor("id", RequestIdConvertor())
RequestId = Annotated[int, Path(ge=1, description="The request's id (the desk's, not the worker's ticket).")]


@api_router.get("", response_model=None, responses={200: {"model": HelpQueue}, **errors(400, 401, 403)})
def api_queue(
    request: Request,
    user: ApiUser,
    state: Annotated[str | None, Query(description="new, contacted, accepted, referred or closed.")] = None,
):
    """Your districts' requests, oldest first (staff; admins see every district)."""
    service = help_service(request)
    states = (state,) if state in STATE_LABELS else OPEN_STATES
    return {"requests": [desk_json(service, service.for_staff(user, r.id)) for r in service.queue(user, states)]}


@api_router.get(
    "/{request_id:id}", response_model=None, responses={200: {"model": HelpDeskItem}, **errors(400, 401, 403, 404)}
)
def api_get(request: Request, request_id: RequestId, user: ApiUser):
    """One request of your districts (the phone masked)."""
    service = help_service(request)
    return desk_json(service, service.for_staff(user, request_id))


@api_router.post(
    "/{request_id:id}/reveal-phone",
    response_model=None,
    responses={200: {"model": RevealedPhone}, **errors(400, 401, 403, 404)},
)
def api_reveal(request: Request, request_id: RequestId, user: ApiUser):
    """The worker's phone number, for the call: recorded in the audit log."""
    return {"phone": help_service(request).reveal_phone(user, request_id)}


@api_router.post(
    "/{request_id:id}/state",
    response_model=None,
    responses={200: {"model": HelpDeskItem}, **errors(400, 401, 403, 404, 409, 422)},
    openapi_extra=STATE_BODY,
)
async def api_state(request: Request, request_id: RequestId, user: ApiUser):
    """``{"state": "contacted", "outcome": "", "note": "…"}``: move the request on, with a note."""
    data = await json_object(request)
    service = help_service(request)
    service.change_state(
        user, request_id, str(data.get("state", "")), str(data.get("outcome") or ""), str(data.get("note") or "")
    )
    return desk_json(service, service.for_staff(user, request_id))


@api_router.post(
    "/{request_id:id}/assign",
    response_model=None,
    responses={200: {"model": HelpDeskItem}, **errors(400, 401, 403, 404, 409, 422)},
    openapi_extra=ASSIGN_BODY,
)
async def api_assign(request: Request, request_id: RequestId, user: ApiUser):
    """``{"lawyer_id": 7, "note": "…"}``: assign a lawyer on the district's rota."""
    data = await json_object(request)
    lawyer = data.get("lawyer_id")
    lawyer = lawyer if isinstance(lawyer, int) and not isinstance(lawyer, bool) else 0  # 0: on no rota (422)
    service = help_service(request)
    service.assign(user, request_id, lawyer, str(data.get("note") or ""))  # access is checked first (403)
    return desk_json(service, service.for_staff(user, request_id))


@api_router.post(
    "/{request_id:id}/answer",
    response_model=None,
    responses={200: {"model": HelpDeskItem}, **errors(400, 401, 403, 404, 422)},
    openapi_extra=ANSWER_BODY,
)
async def api_answer(request: Request, request_id: RequestId, user: ApiUser):
    """``{"body": "…"}``: the assigned lawyer's written answer (Markdown)."""
    data = await json_object(request)
    service = help_service(request)
    service.save_answer(user, request_id, data.get("body"))
    return desk_json(service, service.for_staff(user, request_id))


# ---- figures and the event feed (scoped tokens) -------------------------------------------------


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None, *scopes: str) -> TokenInfo:
    raw = credentials.credentials.strip() if credentials else ""
    for scope in scopes:
        info = check_token(request.app.state.settings, raw, scope)
        if info is not None:
            return info
    raise HTTPException(401, f"需要具有 {' 或 '.join(scopes)} 权限的 API 令牌", headers={"WWW-Authenticate": "Bearer"})


Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(SCOPED_TOKEN)]


@stats_router.get("/stats", responses=errors(400, 401))
def api_stats(request: Request, credentials: Credentials = None) -> dict[str, Any]:
    """Requests per district, topic and week; median hours to first contact; share within the deadline."""
    _token(request, credentials, "help:read", "help:personal")
    return hs.help_stats(help_service(request))


@stats_router.get("/events", response_class=StreamingResponse, responses={**EVENTS_ANSWER, **errors(400, 401)})
def api_events(
    request: Request,
    credentials: Credentials = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="Only events after this id (the feed's cursor).")] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
):
    """NDJSON, one request event a line, oldest first; personal data only for a ``help:personal`` token."""
    info = _token(request, credentials, "help:personal", "help:read")
    rows = hs.events(help_service(request), after, limit, personal="help:personal" in info.scopes)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return StreamingResponse(iter([body]), media_type="application/x-ndjson", headers={"Cache-Control": "no-store"})
