"""The gap report (``/review/gaps``) and the loop that closes a gap, for reviewers and admins.

A gap (``monitoring.gaps``) is a question asked in several wordings and answered badly. From
its page one action closes it: an everyday question for an article or a thesaurus line
(``search.additions``: proposed here, approved by a second reviewer on ``/review/additions``,
then live in every worker process through ``search.live_additions``), a request to the lawyers
for a 问答, or "noise" (hidden from the report).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from search_api import db
from search_api.accounts.auth import require_role
from search_api.accounts.forms import FormData, handle_form
from search_api.accounts.users import User
from search_api.db import iso
from search_api.deps import get_engine, get_service, get_settings
from search_api.errors import AppError, Conflict, Invalid, NotFound
from search_api.monitoring.employer_list import recogniser_for
from search_api.monitoring.gaps import SIGNAL_LABELS, SIGNALS, Gap, find_gap, gap_report
from search_api.monitoring.stats import Presenter
from search_api.search.additions import KINDS, STATES, check_question, check_thesaurus_line
from search_api.web.templating import render_staff, see_other

router = APIRouter()
require_reviewer = require_role("reviewer", "admin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_DAYS = 28
CANDIDATES = 5


def _range(since: str, until: str) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """Stored-UTC bounds of Beijing-time days ``since``..``until``, the form, and its errors."""
    today = datetime.now(SHANGHAI).date()
    form = {
        "since": since or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "until": until or today.isoformat(),
    }
    errors: dict[str, str] = {}
    days: dict[str, date] = {}
    for name, default in (("since", today - timedelta(days=DEFAULT_DAYS - 1)), ("until", today)):
        try:
            days[name] = date.fromisoformat(form[name])
        except ValueError:
            errors[name] = f"日期“{form[name]}”看不懂，请写成 2026-11-30 这样"
            days[name] = default
    if not errors and days["since"] > days["until"]:
        errors["until"] = "截止日期早于起始日期"
        days["since"], days["until"] = days["until"], days["since"]
    start = datetime.combine(days["since"], time.min, SHANGHAI)
    end = datetime.combine(days["until"], time.max, SHANGHAI)
    return iso(start), iso(end), form, errors


def _gaps(request: Request, since: str, until: str) -> list[Gap]:
    settings = get_settings(request)
    with db.log_database(settings).connect() as conn:
        presenter = Presenter(conn, recogniser_for(settings))
        hidden = request.app.state.gap_actions.hidden()
        return gap_report(conn, get_service(request).lexicon, since, until, hidden=hidden, mask=presenter.text)


def _done(request: Request) -> dict[str, list[str]]:
    """Gap key → what reviewers did about it (additions and lawyer requests)."""
    out: dict[str, list[str]] = {}
    for a in request.app.state.additions.list():
        if a.gap and a.state != "rejected":
            out.setdefault(a.gap, []).append(f"{KINDS[a.kind]}（{STATES[a.state]}）")
    for gap, what in request.app.state.gap_actions.gaps_acted_on().items():
        out.setdefault(gap, []).append(what)
    return out


@router.get("/review/gaps", response_class=HTMLResponse, include_in_schema=False)
def gaps_page(request: Request, since: str = "", until: str = "", user: User = Depends(require_reviewer)):
    """Questions answered badly, grouped by meaning, ranked by distinct visitors × how badly."""
    lo, hi, form, errors = _range(since, until)
    context = {
        "gaps": _gaps(request, lo, hi),
        "form": form,
        "errors": errors,
        "signals": SIGNALS,
        "signal_labels": SIGNAL_LABELS,
        "done": _done(request),
        "note": request.query_params.get("note", ""),
    }
    return render_staff(request, "review/gaps.html", context, status_code=400 if errors else 200)


def _gap_or_404(request: Request, key: str, since: str, until: str) -> tuple[Gap, dict[str, str]]:
    lo, hi, form, _ = _range(since, until)
    gap = find_gap(_gaps(request, lo, hi), key)
    if gap is None:
        raise NotFound("这个问题不在所选时间的问题清单里（可能已标为无意义，或时间范围变了）")
    return gap, form


def _candidates(request: Request, question: str) -> list[dict[str, Any]]:
    """Articles the question might belong to: the search's own article hits, best first."""
    found = get_service(request).search(question, size=20, related=False)
    return [h for h in found.hits if h["kind"] == "article"][:CANDIDATES]


def _gap_page(
    request: Request, gap: Gap, form: dict[str, str], values: dict[str, str], errors: dict[str, str], status: int = 200
):
    context = {
        "gap": gap,
        "form": form,
        "values": values,
        "errors": errors,
        "candidates": _candidates(request, gap.question),
        "signals": SIGNALS,
        "signal_labels": SIGNAL_LABELS,
        "done": _done(request).get(gap.key, []),
    }
    return render_staff(request, "review/gap.html", context, status_code=status)


@router.get("/review/gaps/{key}", response_class=HTMLResponse, include_in_schema=False)
def gap_page(request: Request, key: str, since: str = "", until: str = "", user: User = Depends(require_reviewer)):
    """One gap: its wordings and signals, and the four ways to close it (the question prefilled)."""
    gap, form = _gap_or_404(request, key, since, until)
    values = {"question": gap.question, "lawyer_question": gap.question}
    return _gap_page(request, gap, form, values, {})


def _article_id(request: Request, form: FormData) -> str:
    article_id = (form.get("article_other", "") or form.get("article", "")).strip()
    if not article_id:
        raise Invalid(errors={"article": "请选择或填写一个条文"})
    doc = get_engine(request).get(article_id)
    if doc is None or doc.kind != "article":
        raise Invalid(errors={"article": f"没有编号为“{article_id}”的条文（例如 labor-contract-law.47）"})
    if " ".join(form.get("question", "").split()) in doc.questions:
        raise Invalid(errors={"question": "这个条文已有这个问法"})
    return article_id


async def _act(request: Request, user: User, key: str, action: str):
    since, until = request.query_params.get("since", ""), request.query_params.get("until", "")
    gap, range_form = _gap_or_404(request, key, since, until)
    additions, actions = request.app.state.additions, request.app.state.gap_actions

    def save(form: FormData):
        if action == "question":
            article_id = _article_id(request, form)
            additions.propose(user, "question", check_question(form.get("question", "")), article_id, gap.key)
            note = "已提交常见问法，等待另一位审阅人复核"
        elif action == "thesaurus":
            line = check_thesaurus_line(request.app.state.live_additions.base_lexicon, form.get("line", ""))
            additions.propose(user, "thesaurus", line, gap=gap.key)
            note = "已提交同义词，等待另一位审阅人复核"
        elif action == "lawyer":
            actions.ask_lawyer(user, gap.key, form.get("lawyer_question", ""), form.get("note", ""))
            return see_other("/review/gaps?note=" + quote("已请律师撰写问答"))
        else:
            actions.mark_noise(user, gap.key, gap.question, gap.member_keys)
            return see_other("/review/gaps?note=" + quote("已标为无意义，不再列出"))
        return see_other("/review/additions?note=" + quote(note))

    def again(form: FormData, refusal: AppError):
        values = {
            k: form.get(k, "") for k in ("article", "article_other", "question", "line", "lawyer_question", "note")
        }
        # each action's form has its own field names; the checks name the generic ones
        rename = {
            "question": {"text": "question"},
            "thesaurus": {"text": "line"},
            "lawyer": {"question": "lawyer_question"},
        }
        errors = {rename.get(action, {}).get(k, k): v for k, v in refusal.errors.items()} or {"form": refusal.message}
        return _gap_page(request, gap, range_form, values, errors, refusal.status)

    return await handle_form(request, save, again, refusals=(Invalid, Conflict))


ACTIONS = ("question", "thesaurus", "lawyer", "noise")


@router.post("/review/gaps/{key}/{action}", response_class=HTMLResponse, include_in_schema=False)
async def gap_action(request: Request, key: str, action: str, user: User = Depends(require_reviewer)):
    """Close a gap one way: ``question`` (an everyday question for an article) or ``thesaurus`` (a
    line), each approved by a second reviewer; ``lawyer`` (ask for a 问答); ``noise`` (hide it)."""
    if action not in ACTIONS:
        raise NotFound("没有这种处理方式")
    return await _act(request, user, key, action)


def _additions_page(request: Request, errors: dict[str, str], note: str = "", status: int = 200):
    additions = request.app.state.additions
    context = {
        "pending": additions.list("pending"),
        "history": [a for a in additions.list() if a.state != "pending"],
        "kinds": KINDS,
        "states": STATES,
        "errors": errors,
        "note": note,
        "version": additions.version(),
    }
    return render_staff(request, "review/additions.html", context, status_code=status)


@router.get("/review/additions", response_class=HTMLResponse, include_in_schema=False)
def additions_page(request: Request, note: str = "", user: User = Depends(require_reviewer)):
    """Proposed everyday questions and thesaurus lines waiting for a second reviewer, and their history."""
    return _additions_page(request, {}, note)


@router.post("/review/additions/{addition_id}", response_class=HTMLResponse, include_in_schema=False)
async def additions_review(request: Request, addition_id: int, user: User = Depends(require_reviewer)):
    """Approve (live at once in every worker) or reject a proposed addition."""

    def save(form: FormData):
        decision = form.get("decision", "")
        if decision not in ("approve", "reject"):
            raise Invalid(errors={"decision": "请选择“通过”或“不通过”"})
        item = request.app.state.additions.review(user, addition_id, decision == "approve")
        note = "已通过，搜索立即生效" if item.state == "approved" else "已退回"
        return see_other("/review/additions?note=" + quote(note))

    def again(form: FormData, refusal: AppError):
        return _additions_page(request, refusal.errors or {"id": refusal.message}, refusal.message, refusal.status)

    return await handle_form(request, save, again, refusals=(Invalid, Conflict))
