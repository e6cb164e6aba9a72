"""Calculators: ``GET /api/calc/<name>`` (JSON) and ``GET /calc/<name>`` (a form and its result).

Both read the query string through the same field descriptions (``calc.catalogue``), so a
refused input is the same 400 with a Chinese message naming the field: JSON for the API, the
form shown again with the message beside the field for the page. The forms use GET, so a
result is a plain link a worker can keep or send, and nothing needs JavaScript.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from search_api.calc import CALCULATORS, Calculator, Context, InvalidInput, Result
from search_api.calc.articles import label
from search_api.search.present import doc_url
from search_api.web.templating import render

api_router = APIRouter(tags=["calculators"])
router = APIRouter(include_in_schema=False)
CHINA = dt.timezone(dt.timedelta(hours=8))  # deadlines count in the worker's days, whatever the server's zone


class CalcInput(BaseModel):
    label: str
    value: str


class CalcResult(BaseModel):
    """What every calculator answers (``amount``, ``days`` or ``date``, as fits the question)."""

    calculator: str
    title: str
    summary: list[str]
    amount: float | None = None
    days: int | None = None
    date: dt.date | None = None
    inputs: list[CalcInput]
    formula: str
    steps: list[str]
    articles: list[str]
    notes: list[str]
    details: dict[str, Any]
    disclaimer: str


def context(request: Request) -> Context:
    return Context(request.app.state.local_wages, dt.datetime.now(CHINA).date())


def _api_endpoint(calc: Calculator):
    def endpoint(request: Request) -> dict[str, Any]:
        return calc.run(request.query_params, context(request)).as_dict()

    endpoint.__name__ = f"calc_{calc.name.replace('-', '_')}"
    return endpoint


for _calc in CALCULATORS.values():
    api_router.add_api_route(
        f"/api/calc/{_calc.name}",
        _api_endpoint(_calc),
        methods=["GET"],
        response_model=CalcResult,
        response_model_exclude_unset=True,
        summary=f"{_calc.title}（{_calc.name}）",
        description=f"{_calc.summary}。返回结果、计算步骤、适用的法条（文档 id）和说明；"
        "输入无效时返回 400，`error` 是指明字段的中文说明，`errors` 按参数名列出。仅供参考，不构成法律意见。",
        openapi_extra={"parameters": [f.openapi() for f in _calc.fields]},
    )


# -- pages ------------------------------------------------------------------------------
def form_params(request: Request) -> dict[str, str]:
    """Each field's first non-empty value: a form may send a field twice (a date and a 没有签 box)."""
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if value.strip() and key not in out:
            out[key] = value
    return out


def result_view(result: Result) -> dict[str, Any]:
    """A result as the page shows it: articles with their titles and links."""
    return {
        "r": result,
        "articles": [{"id": a, "label": label(a), "url": doc_url(a)} for a in result.articles],
        "follow_up": _follow_up(result),
    }


def _follow_up(result: Result) -> dict[str, str] | None:
    """After an amount for a dismissal: the deadline to claim it, counted from the same date."""
    if result.name in ("severance", "unlawful-termination"):
        url = f"/calc/deadline?kind=arbitration&date={result.details['end']}"
        return {"text": "从这个日期起算，申请劳动仲裁的最后期限", "url": url}
    return None


@router.get("/calc", response_class=HTMLResponse)
def calc_index(request: Request) -> HTMLResponse:
    return render(request, "calc/index.html", {"calculators": list(CALCULATORS.values())})


@router.get("/calc/{name}", response_class=HTMLResponse)
def calc_page(request: Request, name: str) -> HTMLResponse:
    calc = CALCULATORS.get(name)
    if calc is None:
        raise HTTPException(status_code=404)
    params = form_params(request)
    ctx: dict[str, Any] = {
        "calc": calc,
        "values": params,
        "errors": {},
        "local_wages": request.app.state.local_wages,
        "calculators": list(CALCULATORS.values()),
    }
    status = 200
    if any(f.name in params for f in calc.fields):
        try:
            ctx.update(result_view(calc.run(params, context(request))))
        except InvalidInput as exc:
            ctx["errors"] = exc.errors
            status = 400
    return render(request, "calc/form.html", ctx, status)
