"""The union's review dashboard (``/review``) and its CSV export, for reviewers and admins.

Server-rendered; charts are inline SVG whose geometry is computed here and drawn by
``search_api/web/templates/review/_charts.html``. The data comes from ``search_api.monitoring``; query
texts pass through the employer mask (``stats.Presenter``) like every other output of the log.
``/review/employers`` edits the union's employer list (``monitoring.employer_list``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from search_api import db
from search_api.accounts.auth import get_store, require_role
from search_api.accounts.forms import FormData, handle_form
from search_api.accounts.users import User
from search_api.deps import get_service, get_settings
from search_api.errors import AppError, Conflict, Invalid
from search_api.help.stats import help_stats
from search_api.monitoring import stats as qs
from search_api.monitoring import weekly
from search_api.monitoring.alerts import list_warnings
from search_api.monitoring.brands import builtin_aliases
from search_api.monitoring.employer_list import recogniser_for
from search_api.web.charts import bar_chart, column_chart, iso_week, mondays
from search_api.web.templating import render_staff, see_other

router = APIRouter()

# The dashboard is for union staff only; switch the roles here if the policy changes.
require_reviewer = require_role("reviewer", "admin")
MAX_LIST_FORM_BYTES = 1024 * 1024
# The last filter a reviewer chose, so returning to /review (or exporting) keeps it.
FILTER_COOKIE = "review_filter"
FILTER_KEYS = ("since", "until", "district")


def topic_names(request: Request) -> dict[str, str]:
    """Topic id → Chinese name, from the search service's lexicon."""
    return {t.id: t.name for t in get_service(request).lexicon.topics}


class ReviewFilter:
    """The dashboard's date range (Beijing days, both included) and district.

    Values come from the query string; without any, from the cookie the last visit set;
    without that, the last 28 days. ``query`` is the same filter as a query string, put on
    every link of the dashboard so it survives a click, a bookmark and the CSV export.
    """

    def __init__(self, request: Request, since: str | None, until: str | None, district: str | None):
        given = {k: v for k, v in (("since", since), ("until", until), ("district", district)) if v is not None}
        self.remembered = False
        if not given and "reset" not in request.query_params:
            given = dict(parse_qsl(request.cookies.get(FILTER_COOKIE, "")))
            self.remembered = bool(given)
        today = qs.local_today()
        self.form = {
            "since": given.get("since") or (today - timedelta(days=27)).isoformat(),
            "until": given.get("until") or today.isoformat(),
            "district": given.get("district") or "",
        }
        self.log = qs.LogFilter(
            qs.parse_when(self.form["since"], tz=qs.SHANGHAI),
            qs.parse_when(self.form["until"], end=True, tz=qs.SHANGHAI),
            self.form["district"] or None,
        )
        self.query = urlencode({k: v for k, v in self.form.items() if v})

    def days(self) -> tuple[date, date]:
        """First and last Beijing day of the range (for a bare date; otherwise their date part)."""
        return date.fromisoformat(self.form["since"][:10]), date.fromisoformat(self.form["until"][:10])

    def remember(self, request: Request, response: Response) -> Response:
        """Keep this filter for the next visit (30 days, this section of the site only)."""
        response.set_cookie(
            FILTER_COOKIE,
            self.query,
            max_age=30 * 86400,
            path="/review",
            httponly=True,
            samesite="lax",
            secure=get_settings(request).cookie_secure,
        )
        return response


def _charts(stats: dict[str, Any], names: dict[str, str], weeks: list[date]) -> dict[str, list[dict[str, Any]]]:
    """One chart per leading topic with a bar for every week of the range, and one per district."""
    totals: dict[str, int] = {}
    for counts in stats["topics_by_week"].values():
        for topic, n in counts.items():
            totals[topic] = totals.get(topic, 0) + n
    leading = sorted(totals, key=lambda t: (-totals[t], t))[:8]
    labels = [f"{m.month}/{m.day}" for m in weeks]
    keys = [m.isoformat() for m in weeks]
    by_week = [
        {
            "title": names.get(t, t),
            "total": totals[t],
            "chart": column_chart(labels, [stats["topics_by_week"].get(k, {}).get(t, 0) for k in keys]),
        }
        for t in leading
    ]
    by_district = []
    for district, counts in sorted(stats["topics_by_district"].items()):
        topics = sorted(counts, key=lambda t: (-counts[t], t))[:8]
        by_district.append(
            {
                "title": district,
                "total": stats["queries_by_district"].get(district, 0),
                "chart": bar_chart([names.get(t, t) for t in topics], [counts[t] for t in topics]),
            }
        )
    return {"by_week": by_week, "by_district": by_district}


def _help_charts(figures: dict[str, Any], weeks: list[date]) -> dict[str, dict[str, Any]]:
    charts = {
        key: bar_chart([k or "未选择" for k in figures[key]], list(figures[key].values()))
        for key in ("by_district", "by_topic")
        if figures[key]
    }
    if figures["by_week"]:
        charts["by_week"] = column_chart(
            [f"{m.month}/{m.day}" for m in weeks], [figures["by_week"].get(iso_week(m), 0) for m in weeks]
        )
    return charts


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
    view = ReviewFilter(request, since, until, district)
    flt = view.log
    names = topic_names(request)
    with db.log_database(settings).connect() as conn:
        stats = qs.stats(conn, flt, qs.Presenter(conn, recogniser_for(settings)))
        alerts = list_warnings(conn, since=flt.since)
        districts = qs.districts(conn)
    help_figures = help_stats(request.app.state.help, flt.since, flt.until, (flt.district,) if flt.district else None)
    weeks = mondays(*view.days())
    context = {
        "help": help_figures,
        "help_charts": _help_charts(help_figures, weeks),
        "form": view.form,
        "remembered": view.remembered,
        "stats": stats,
        "charts": _charts(stats, names, weeks),
        "alerts": alerts,
        "districts": districts,
        "topic_names": names,
        "filter_query": view.query,
        "export_query": view.query,
        "weekly_week": iso_week(weeks[-1]) if weeks else "",
    }
    return view.remember(request, render_staff(request, "review/dashboard.html", context))


@router.get("/review/export.csv", include_in_schema=False)
def export_csv(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    district: str | None = None,
    user: User = Depends(require_reviewer),
):
    """The filtered log as CSV (UTF-8 with BOM for Excel): redacted, masked, without visitor ids.

    Times are Beijing time (the first column's name says so); the filter is the dashboard's.
    """
    settings = get_settings(request)
    view = ReviewFilter(request, since, until, district)
    database = db.log_database(settings)
    with database.connect() as conn:
        presenter = qs.Presenter(conn, recogniser_for(settings))
    names = topic_names(request)
    lines = qs.export_csv(database, view.log, presenter, names)

    filename = f"querylog-{view.form['since']}-{view.form['until']}.csv"
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/review/weekly", response_class=HTMLResponse, include_in_schema=False)
def weekly_report(
    request: Request, week: str | None = None, district: str | None = None, user: User = Depends(require_reviewer)
):
    """The week's report for the union's meeting (prints on A4); ``?format=json`` gives the webhook's JSON."""
    monday = weekly.parse_week(week)
    report = weekly.build_report(
        get_settings(request), request.app.state.help, monday, district=district, topic_names=topic_names(request)
    )
    if request.query_params.get("format") == "json":
        return JSONResponse(report, headers={"Cache-Control": "no-store"})
    topics = report["top_topics"]
    context = {
        "report": report,
        "previous": weekly.week_key(monday - timedelta(weeks=1)),
        "next": weekly.week_key(monday + timedelta(weeks=1)),
        "district_query": f"&district={quote(district)}" if district else "",
        "help_charts": _help_charts(report["help_requests"], [monday]) if report["help_requests"] else {},
        "topic_chart": bar_chart([t["name"] for t in topics], [t["queries"] for t in topics]) if topics else None,
    }
    return render_staff(request, "review/weekly.html", context)


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
