"""我要维权 for workers: the help form, the private status page, and the same flow as JSON.

No account and no cookie is needed: a submitted request gets a reference number and a
status link holding an unguessable ticket. The page form carries a signed time stamp
instead of a cookie-bound CSRF token (cheap phones and in-app browsers drop cookies): it
proves the form came from this site, and a form sent back within seconds, or with the
hidden ``website`` field filled, is a bot's. Submissions are limited per client network
per hour (``HelpService.submit``). Every refusal shows the form again with what was typed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from search_api.accounts.forms import FormData, read_body, read_form
from search_api.accounts.throttle import client_network
from search_api.deps import client_ip, get_querylog
from search_api.errors import BadRequest, Conflict, Invalid, TooMany
from search_api.help.fields import CALL_TIMES, DISPUTE_CHOICES, LIMITS, TOPICS, validate_request
from search_api.help.service import OUTCOMES, HelpService, HelpView
from search_api.web.help_schemas import HELP_REQUEST_BODY, HelpCreated, HelpStatus
from search_api.web.markdown import render_markdown
from search_api.web.openapi import errors
from search_api.web.templating import linked_html, render, see_other

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/help-requests", tags=["help requests"])

MAX_FORM_BYTES = 256 * 1024  # a 10,000-character story, percent-encoded, still fits (and is refused politely)
HONEYPOT = "website"
WORKER_STATUS = {
    "new": "已收到，等待工会工作人员给您回电",
    "contacted": "工会工作人员已经和您联系",
    "accepted": "工会已受理您的求助，正在帮您处理",
    "referred": "已转交",
    "closed": "已结束",
}


def help_service(request: Request) -> HelpService:
    return request.app.state.help


def form_stamp(secret: bytes, now: float | None = None) -> str:
    """``<unix time>.<signature>``: when the form was shown, signed so it cannot be made up."""
    issued = str(int(now if now is not None else time.time()))
    return f"{issued}.{_sign(secret, issued)}"


def stamp_age(secret: bytes, stamp: str) -> float | None:
    """Seconds since a genuine stamp was issued; None for a forged or missing one."""
    issued, _, signature = (stamp or "").partition(".")
    if not issued.isdigit() or not hmac.compare_digest(signature, _sign(secret, issued)):
        return None
    return time.time() - int(issued)


def _sign(secret: bytes, issued: str) -> str:
    return hmac.new(secret, f"help-form:{issued}".encode(), hashlib.sha256).hexdigest()[:24]


def _check_human(request: Request, form: FormData) -> None:
    """Refuse what a simple bot sends: the hidden field filled, no genuine stamp, or too fast."""
    settings = request.app.state.settings
    age = stamp_age(help_service(request).secret, form.get("stamp", ""))
    if form.get(HONEYPOT) or age is None:
        raise BadRequest("表单已失效，请再点一次“提交”")
    if age < settings.help_min_fill_seconds:
        raise BadRequest("提交得太快了，请检查一遍填写的内容，再点一次“提交”")


def _form_page(request: Request, values: dict[str, Any], errs: dict[str, str], message: str = "", status: int = 200):
    ctx = {
        "values": values,
        "errors": errs,
        "message": message,
        "stamp": form_stamp(help_service(request).secret),
        "topics": TOPICS,
        "disputes": DISPUTE_CHOICES,
        "call_times": CALL_TIMES,
        "limits": LIMITS,
        "honeypot": HONEYPOT,
        "retention_days": request.app.state.settings.help_retention_days,
        "callback_days": request.app.state.settings.help_callback_days,
    }
    return render(request, "help/form.html", ctx, status, private=True)


@router.get("/help", response_class=HTMLResponse)
def help_form(request: Request, q: str = "", district: str = "", topic: str = "", qid: str = ""):
    """The form, with the question the worker searched for (and that search's query id) carried over."""
    limit = request.app.state.settings.max_query_chars
    values = {"question": q[:limit], "district": district, "topic": topic if topic in TOPICS else "", "qid": qid[:64]}
    return _form_page(request, values, {})


@router.post("/help", response_class=HTMLResponse)
async def help_submit(request: Request):
    """Store the request and go to its status page; any refusal shows the form again."""
    form = await read_form(request, max_bytes=MAX_FORM_BYTES)
    values = {k: v for k, v in form.items() if k not in ("stamp", HONEYPOT)}
    try:
        _check_human(request, form)
        if form.bad_utf8:
            raise Invalid("有内容无法识别", dict.fromkeys(form.bad_utf8, "含有无法识别的字符，请重新输入"))
        inp = validate_request(form, request.app.state.settings.district_list)
        _, ticket = help_service(request).submit(inp, client_network(client_ip(request)))
    except (Invalid, BadRequest, TooMany) as refusal:
        return _form_page(request, values, refusal.errors, refusal.message, refusal.status)
    querylog = get_querylog(request)
    if querylog is not None and form.get("qid"):  # the gap report's signal: nothing of the request itself
        querylog.mark_help(form.get("qid", ""))
    return see_other(f"/help/{ticket}?sent=1")


def _status_page(request: Request, ticket: str, view: HelpView, errs: dict[str, str] | None = None, status: int = 200):
    answer = view.answer
    ctx = {
        "ticket": ticket,
        "view": view,
        "row": view.row,
        "status_text": _status_text(view),
        "answer_html": linked_html(render_markdown(answer["body"]), answer["citations"]) if answer else "",
        "topics": TOPICS,
        "call_times": CALL_TIMES,
        "errors": errs or {},
        "stamp": form_stamp(help_service(request).secret),
        "sent": request.query_params.get("sent") == "1",
        "added": request.query_params.get("added") == "1",
    }
    return render(request, "help/status.html", ctx, status, private=True)


def _status_text(view: HelpView) -> str:
    row = view.row
    text = WORKER_STATUS.get(row.state, row.state)
    if row.state in OUTCOMES and row.outcome:
        label = OUTCOMES[row.state].get(row.outcome, "")
        text = f"{text}{label}" if row.state == "referred" else f"{text}（{label}）"
    return text


Ticket = Annotated[str, Path(pattern=r"^hr_[A-Za-z0-9_\-]{8,96}$", description="The ticket of the status link (hr_…).")]


@router.get("/help/{ticket}", response_class=HTMLResponse)
def help_status(request: Request, ticket: Ticket):
    """The worker's status page: only the holder of the link sees it."""
    return _status_page(request, ticket, help_service(request).for_worker(ticket))


@router.post("/help/{ticket}/add", response_class=HTMLResponse)
async def help_add(request: Request, ticket: Ticket):
    """Add information to an open request."""
    form = await read_form(request, max_bytes=MAX_FORM_BYTES)
    service = help_service(request)
    try:
        if stamp_age(service.secret, form.get("stamp", "")) is None:
            raise BadRequest("表单已失效，请刷新页面后再补充", {"addition": "表单已失效，请再点一次“补充”"})
        service.add_info(ticket, form.get("addition", ""))
    except (Invalid, BadRequest, Conflict) as refusal:
        errs = refusal.errors or {"addition": refusal.message}
        return _status_page(request, ticket, service.for_worker(ticket), errs, refusal.status)
    return see_other(f"/help/{ticket}?added=1")


@router.post("/help/{ticket}/withdraw", response_class=HTMLResponse)
async def help_withdraw(request: Request, ticket: Ticket):
    """Withdraw an open request (after ticking the confirmation)."""
    form = await read_form(request, max_bytes=64 * 1024)
    service = help_service(request)
    if form.get("confirm") != "1" or stamp_age(service.secret, form.get("stamp", "")) is None:
        errs = {"withdraw": "请先勾选“确认撤回”"}
        return _status_page(request, ticket, service.for_worker(ticket), errs, 422)
    service.withdraw(ticket)
    return see_other(f"/help/{ticket}")


# ---- JSON API --------------------------------------------------------------------------------


def worker_json(view: HelpView, ticket: str = "") -> dict[str, Any]:
    """A request as the worker's API shows it (the phone masked)."""
    row = view.row
    out = {
        "reference": row.reference,
        "district": row.district,
        "topic": row.topic,
        "state": row.state,
        "status": _status_text(view),
        "outcome": row.outcome,
        "created_at": row.created_at,
        "contact_due": row.contact_due,
        "fields": view.fields,
        "materials": list(view.materials),
        "answer": view.answer,
        "events": [{k: e[k] for k in ("at", "action", "to_state", "outcome", "note")} for e in view.events],
    }
    if ticket:
        out["status_url"] = f"/help/{ticket}"
    return out


@api_router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": HelpCreated}, **errors(400, 413, 422, 429)},
    openapi_extra=HELP_REQUEST_BODY,
)
async def api_create(request: Request):
    """Ask the union for help (anonymous). Field errors come back as 422 ``{"errors": {field: message}}``."""
    body = await read_body(request, MAX_FORM_BYTES)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("请求体须为 UTF-8 编码的 JSON 对象") from None
    if not isinstance(data, dict):
        raise BadRequest("请求体须为 JSON 对象")
    inp = validate_request(data, request.app.state.settings.district_list)
    row, ticket = help_service(request).submit(inp, client_network(client_ip(request)))
    return {
        "reference": row.reference,
        "ticket": ticket,
        "status_url": f"/help/{ticket}",
        "contact_due": row.contact_due,
    }


@api_router.get("/{ticket}", response_model=None, responses={200: {"model": HelpStatus}, **errors(404)})
def api_status(request: Request, ticket: Ticket):
    """The worker's view of their request, by ticket."""
    return worker_json(help_service(request).for_worker(ticket), ticket)
