"""The union's figures on help requests, and the event feed other systems read.

Figures count every request ever made, purged ones included (purging drops personal data,
not the row). Weeks are ISO weeks in Asia/Shanghai time. "Within the deadline" is the
share of requests whose first contact came by the end of their call-back day, out of
those contacted plus those already overdue without contact (a request still inside its
deadline is not counted yet).

The feed (``events``) is NDJSON-shaped dicts without personal data; ``personal=True`` (a
token whose scope allows it) adds the worker's fields to each event.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import Any

from search_api import db
from search_api.help.fields import DISPUTE_CHOICES, TOPICS
from search_api.help.service import HelpService, local_day


def _week(stamp: str) -> str:
    year, week, _ = local_day(db.parse_iso(stamp)).isocalendar()
    return f"{year}-W{week:02d}"


def help_stats(
    help: HelpService, since: str | None = None, until: str | None = None, districts: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Requests per district, topic and week; time to first contact; dispute share. ``since`` and
    ``until``: stored UTC timestamps bounding ``created_at`` (``[since, until)``)."""
    rows = help.store.figures_rows(since, until, districts)
    today = local_day(db.utc_now())
    hours, met, judged = [], 0, 0
    for r in rows:
        due = dt.date.fromisoformat(r["contact_due"])
        if r["first_contact_at"]:
            contacted = db.parse_iso(r["first_contact_at"])
            hours.append((contacted - db.parse_iso(r["created_at"])).total_seconds() / 3600)
            judged += 1
            met += local_day(contacted) <= due
        elif r["state"] == "new" and today > due:
            judged += 1
    disputes = Counter(r["is_dispute"] for r in rows)
    return {
        "total": len(rows),
        "open": sum(r["state"] != "closed" for r in rows),
        "overdue": sum(r["state"] == "new" and today > dt.date.fromisoformat(r["contact_due"]) for r in rows),
        "by_district": dict(Counter(r["district"] for r in rows).most_common()),
        "by_topic": {TOPICS.get(t, t): n for t, n in Counter(r["topic"] for r in rows).most_common()},
        "by_week": dict(sorted(Counter(_week(r["created_at"]) for r in rows).items())),
        "by_outcome": dict(Counter(r["outcome"] for r in rows if r["outcome"]).most_common()),
        "dispute": {DISPUTE_CHOICES[k].split("，")[0]: disputes.get(k, 0) for k in DISPUTE_CHOICES},
        "dispute_share": round(disputes.get("yes", 0) / len(rows), 3) if rows else None,
        "median_hours_to_first_contact": round(statistics.median(hours), 1) if hours else None,
        "within_deadline_share": round(met / judged, 3) if judged else None,
    }


def events(help: HelpService, after_id: int = 0, limit: int = 1000, personal: bool = False) -> list[dict[str, Any]]:
    """Request events after ``after_id``, oldest first (the feed's cursor is the last ``id``)."""
    out = []
    for r in help.store.feed(after_id, limit):
        item = {k: v for k, v in r.items() if k != "sealed"}
        if personal:
            item["personal"] = help.sealer.open(r["sealed"])  # None once purged
        out.append(item)
    return out
