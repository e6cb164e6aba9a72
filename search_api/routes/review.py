"""The union's review dashboard (``/review``) and its CSV export, for reviewers and admins.

Server-rendered; charts are inline SVG whose geometry is computed here and drawn by
``search_api/web/templates/review/_charts.html``. The data comes from ``search_api.monitoring``; query
texts pass through the employer mask (``stats.Presenter``) like every other output of the log.
``/review/employers`` edits the union's employer list (``monitoring.employer_list``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from search_api.accounts.auth import get_store, require_role
from search_api.accounts.forms import FormData, handle_form
from search_api.accounts.users import User
from search_api.deps import get_service, get_settings
from search_api.errors import AppError, Conflict, Invalid
from search_api.help.stats import help_stats
from search_api.monitoring import stats as qs
from search_api.monitoring.alerts import list_warnings
from search_api.monitoring.brands import builtin_aliases
from search_api.monitoring.employer_list import recogniser_for
from search_api.monitoring.records import open_log, reading_log
from search_api.web.templating import render_staff, see_other

router = APIRouter()

# The dashboard is for union staff only; switch the roles here if the policy changes.
require_reviewer = require_role("reviewer", "admin")
MAX_LIST_FORM_BYTES = 1024 * 1024


def topic_names(request: Request) -> dict[str, str]:
    """Topic id → Chinese name, from the search service's lexicon."""
    return {t.id: t.name for t in get_service(request).lexicon.topics}


def bar_chart(labels: list[str], values: list[int], width: int = 320, height: int = 90) -> dict[str, Any]:
    """Geometry of a vertical bar chart: bars scaled to the largest value, labels kept as given."""
    top = max(values, default=0) or 1
    n = max(len(values), 1)
    slot = width / n
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = round(value / top * (height - 14), 1)
        bars.append(
            {
                "x": round(i * slot + 1, 1),
                "y": round(height - h, 1),
                "w": round(max(slot - 2, 1), 1),
                "h": h,
                "label": label,
                "value": value,
            }
        )
    return {"width": width, "height": height, "bars": bars, "max": top}


def _range(since: str | None, until: str | None, district: str | None) -> tuple[qs.LogFilter, dict[str, str]]:
    """The filter from the form; by default the last 28 days."""
    today = datetime.now(UTC).date()
    form = {
        "since": since or (today - timedelta(days=27)).isoformat(),
        "until": until or today.isoformat(),
        "district": district or "",
    }
    flt = qs.LogFilter(qs.parse_when(form["since"]), qs.parse_when(form["until"], end=True), district or None)
    return flt, form


def _charts(stats: dict[str, Any], names: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    weeks = sorted(stats["topics_by_week"])
    totals: dict[str, int] = {}
    for counts in stats["topics_by_week"].values():
        for topic, n in counts.items():
            totals[topic] = totals.get(topic, 0) + n
    leading = sorted(totals, key=lambda t: (-totals[t], t))[:8]
    by_week = [
        {
            "title": names.get(t, t),
            "total": totals[t],
            "chart": bar_chart([w[5:] for w in weeks], [stats["topics_by_week"][w].get(t, 0) for w in weeks]),
        }
        for t in leading
    ]
    by_district = []
    for district, counts in sorted(stats["topics_by_district"].items()):
        topics = sorted(counts, key=lambda t: (-counts[t], t))[:8]
        by_district.append(
            {
                "title": district,
                "total": sum(counts.values()),
                "chart": bar_chart([names.get(t, t) for t in topics], [counts[t] for t in topics]),
            }
        )
    return {"by_week": by_week, "by_district": by_district}


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def dashboard(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    district: str | None = None,
    user: User = Depends(require_reviewer),
):
    """Top, zero-result and unclicked queries, topic trends, warnings — for a date range and district."""
    settings = get_settings(request)
    flt, form = _range(since, until, district)
    names = topic_names(request)
    with reading_log(settings.querylog_path) as conn:
        stats = qs.stats(conn, flt, qs.Presenter(conn, recogniser_for(settings)))
        alerts = list_warnings(conn, since=flt.since)
        districts = qs.districts(conn)
    help_figures = help_stats(request.app.state.help, flt.since, flt.until, (flt.district,) if flt.district else None)
    context = {
        "help": help_figures,
        "help_charts": {
            key: bar_chart(list(help_figures[key]), list(help_figures[key].values()))
            for key in ("by_district", "by_topic", "by_week")
            if help_figures[key]
        },
        "form": form,
        "stats": stats,
        "charts": _charts(stats, names),
        "alerts": alerts,
        "districts": districts,
        "topic_names": names,
        "export_query": "&".join(f"{k}={v}" for k, v in form.items() if v),
    }
    return render_staff(request, "review/dashboard.html", context)


@router.get("/review/export.csv", include_in_schema=False)
def export_csv(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    district: str | None = None,
    user: User = Depends(require_reviewer),
):
    """The filtered log as CSV (UTF-8 with BOM for Excel): redacted, masked, without visitor ids."""
    settings = get_settings(request)
    flt, form = _range(since, until, district)
    conn = open_log(settings.querylog_path)
    presenter = qs.Presenter(conn, recogniser_for(settings))
    names = topic_names(request)

    def lines():
        try:
            yield from qs.export_csv(conn, flt, presenter, names)
        finally:
            conn.close()

    filename = f"querylog-{form['since']}-{form['until']}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


# ---- the union's employer list ------------------------------------------------------------------


def _employers_page(
    request: Request, values: dict[str, str], errors: dict[str, str], note: str = "", status: int = 200
):
    employers = get_store(request).employers
    current = employers.current()
    context = {
        "current": current,
        "values": values,
        "errors": errors,
        "note": note,
        "history": employers.history(),
        "builtin": sorted({name for _, name in builtin_aliases()}),
        "k": get_settings(request).warning_min_visitors,
    }
    return render_staff(request, "review/employers.html", context, status_code=status)


@router.get("/review/employers", response_class=HTMLResponse, include_in_schema=False)
def employers_page(request: Request, user: User = Depends(require_reviewer)):
    """The union's list of employers and aliases (and words that are never employers), with its versions."""
    current = get_store(request).employers.current()
    values = {"entries": current.entries_text(), "excluded": current.excluded_text(), "base": str(current.version)}
    return _employers_page(request, values, {})


@router.post("/review/employers", response_class=HTMLResponse, include_in_schema=False)
async def employers_save(request: Request, user: User = Depends(require_reviewer)):
    """Save the edited list as a new version; on a bad line or a newer version the form comes back as typed."""

    def save(form: FormData):
        base = form.get("base", "")
        get_store(request).employers.save(
            user, form.get("entries", ""), form.get("excluded", ""), int(base) if base.isdigit() else None
        )
        return see_other("/review/employers")

    def again(form: FormData, refusal: AppError):
        values = {
            "entries": form.get("entries", ""),
            "excluded": form.get("excluded", ""),
            "base": form.get("base", ""),
        }
        if isinstance(refusal, Conflict):  # show the newer version's number, so a second save goes through
            values["base"] = str(get_store(request).employers.version())
        return _employers_page(request, values, refusal.errors, refusal.message, refusal.status)

    return await handle_form(request, save, again, refusals=(Invalid, Conflict), max_bytes=MAX_LIST_FORM_BYTES)
