"""The weekly report for the union's meeting: one Beijing-time week (Monday to Sunday) at a glance.

The same report is a printable page (``/review/weekly?week=2026-W48``), the JSON that
``labourkb report weekly`` prints, and the JSON sent to the webhooks each Monday for the week
that just ended. Query texts go through the employer mask (:class:`stats.Presenter`) like every
other output of the log; warnings name only employers that reached the threshold.

Sending happens once per week and URL however many processes (on however many app servers)
try: each records ``(week, url)`` in ``weekly_deliveries`` of the query-log store and then
claims it (:class:`search_api.monitoring.webhooks.Claims`); only the one whose claim went in
posts. A claim left by a process that died mid-send is taken over once it is older than the
claim timeout, so a crash does not lose the week's report. :class:`WeeklyJob` runs that in
each server process; ``labourkb report weekly --send`` does the same from cron.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from search_api import db
from search_api.db import Database, iso, now_iso
from search_api.help.service import HelpService
from search_api.help.stats import help_stats
from search_api.monitoring import stats as qs
from search_api.monitoring.alerts import list_warnings
from search_api.monitoring.employer_list import recogniser_for
from search_api.monitoring.webhooks import CLAIM_TIMEOUT_S, Claims, deliveries, signed_headers
from search_api.settings import Settings

log = logging.getLogger(__name__)

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
TOP = 10


def parse_week(text: str | None) -> date:
    """``2026-W48`` → the Monday of that ISO week; empty → the last complete week. Raises BadParameter."""
    if not text:
        return last_complete_week()
    m = WEEK_RE.match(text)
    try:
        if not m:
            raise ValueError
        return date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise qs.BadParameter(f"无效的周 {text[:20]!r}：请用 YYYY-Www，例如 2026-W48") from None


def week_key(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(now: datetime | None = None) -> date:
    """Monday of the Beijing-time week before the current one."""
    today = (now or datetime.now(qs.SHANGHAI)).astimezone(qs.SHANGHAI).date()
    return today - timedelta(days=today.weekday() + 7)


def week_filter(monday: date, district: str | None = None) -> qs.LogFilter:
    """``[Monday 00:00, next Monday 00:00)`` Beijing time, as stored UTC bounds."""
    start = datetime(monday.year, monday.month, monday.day, tzinfo=qs.SHANGHAI)
    return qs.LogFilter(iso(start), iso(start + timedelta(days=7)), district or None)


def build_report(
    settings: Settings,
    help: HelpService | None,
    monday: date,
    *,
    district: str | None = None,
    topic_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The week's searches, topics, employer warnings, badly answered questions and help figures."""
    names = topic_names or {}
    flt = week_filter(monday, district)
    with db.log_database(settings).connect() as conn:
        figures = qs.stats(conn, flt, qs.Presenter(conn, recogniser_for(settings)), top=TOP)
        alerts = [a for a in list_warnings(conn, since=flt.since) if a.window_start < flt.until]
    topics: Counter[str] = Counter()
    for counts in figures["topics_by_week"].values():
        topics.update(counts)
    helped = None
    if help is not None:
        helped = help_stats(help, flt.since, flt.until, (district,) if district else None)
    return {
        "type": "weekly_report",
        "week": week_key(monday),
        "first_day": monday.isoformat(),
        "last_day": (monday + timedelta(days=6)).isoformat(),
        "timezone": "Asia/Shanghai",
        "district": district or None,
        "searches": {
            k: figures[k]
            for k in ("queries", "visitors", "zero_results", "failed", "clicked_queries", "click_through_rate")
        },
        "top_queries": figures["top_queries"],
        "top_topics": [
            {"topic": t, "name": names.get(t, t), "queries": n}
            for t, n in sorted(topics.items(), key=lambda tn: (-tn[1], tn[0]))[:TOP]
        ],
        "queries_by_district": figures["queries_by_district"],
        "employer_warnings": [_warning(a) for a in alerts if a.kind == "employer"],
        "other_warnings": [_warning(a) for a in alerts if a.kind != "employer"],
        "badly_answered": {
            "zero_results": figures["zero_result_queries"],
            "unclicked": figures["unclicked_queries"],
        },
        "help_requests": helped,
        "generated_at": now_iso(),
    }


def _warning(alert) -> dict[str, Any]:
    return {
        "kind": alert.kind,
        "subject": alert.subject,
        "topics": alert.topics,
        "visitors": alert.visitors,
        "district": alert.district,
        "window_start": qs.local_stamp(alert.window_start),
        "window_end": qs.local_stamp(alert.window_end),
    }


# ---------------------------------------------------------------- sending, once per week


def claims(database: Database, settings: Settings, claim_timeout: float = CLAIM_TIMEOUT_S) -> Claims:
    """The once-per-(week, URL) claims of the weekly report."""
    return Claims(database, "weekly_deliveries", "week", settings.webhook_max_attempts, claim_timeout)


def unsent_urls(claims: Claims, week: str, urls: list[str]) -> list[str]:
    """The URLs ``week``'s report still has to go to: never claimed, or claimed by a process
    that stopped before it was done (a stale claim with attempts left)."""
    with claims.database.connect() as conn:
        seen = set(conn.column("SELECT url FROM weekly_deliveries WHERE week = :week", {"week": week}))
    stale = {url for _, url in claims.claimable(week)}
    return [url for url in urls if url not in seen or url in stale]


def send_report(
    settings: Settings,
    report: dict[str, Any],
    backoff: float = 2.0,
    database: Database | None = None,
    claim_timeout: float = CLAIM_TIMEOUT_S,
) -> dict[str, str]:
    """POST ``report`` (signed) to every webhook URL this caller claims for its week; ``url → state``
    (empty when every URL was sent, or is being sent, by another process)."""
    week_claims = claims(database or db.log_database(settings), settings, claim_timeout)
    week, urls = report["week"], settings.webhook_url_list
    with week_claims.database.transaction() as conn:
        conn.execute(
            "INSERT INTO weekly_deliveries (week, url, claimed_at) VALUES (:week, :url, :now)"
            " ON CONFLICT (week, url) DO NOTHING",
            [{"week": week, "url": url, "now": now_iso()} for url in urls],
        )
    body = json.dumps(report, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = signed_headers(body, settings.webhook_secret, f"weekly-{week}")
    states: dict[str, str] = {}
    with httpx.Client(timeout=settings.webhook_timeout, follow_redirects=False) as client:
        for url in urls:
            state = week_claims.post(client, week, url, body, headers, backoff)
            if state is not None:
                states[url] = state
    return states


def weekly_deliveries(database: Database) -> list[dict[str, Any]]:
    """Delivery state of every weekly report × URL."""
    return deliveries(database, "weekly_deliveries")


class WeeklyJob:
    """In a server process: each ``interval`` seconds, send last week's report if nobody has yet.

    Every worker process runs one; the claims (:func:`send_report`) let exactly one of them send. The first check
    comes one interval after start, so a process that restarts often does not race its own start.
    """

    def __init__(
        self,
        settings: Settings,
        help_factory,
        interval: float = 600.0,
        database: Database | None = None,
        claim_timeout: float = CLAIM_TIMEOUT_S,
    ):
        self.settings = settings
        self.help_factory = help_factory
        self.interval = interval
        self.database = database or db.log_database(settings)
        self.claim_timeout = claim_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="weekly-report", daemon=True)
        self._thread.start()

    def tick(self, now: datetime | None = None) -> dict[str, str]:
        """Send the last complete week's report unless it was claimed already; ``url → state``."""
        monday = last_complete_week(now)
        week_claims = claims(self.database, self.settings, self.claim_timeout)
        if not unsent_urls(week_claims, week_key(monday), self.settings.webhook_url_list):
            return {}
        report = build_report(self.settings, self.help_factory(), monday, topic_names=load_topic_names(self.settings))
        return send_report(self.settings, report, database=self.database, claim_timeout=self.claim_timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("weekly report: sending failed")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.settings.webhook_timeout + 1)


def load_topic_names(settings: Settings) -> dict[str, str]:
    """Topic id → Chinese name from the lexicon (empty if it cannot be read)."""
    try:
        from ingest.lexicon import load_lexicon

        return {t.id: t.name for t in load_lexicon(settings.lexicon_dir).topics}
    except Exception:
        log.exception("weekly report: lexicon unreadable, topics shown by id")
        return {}


def help_for(settings: Settings):
    """The help service over the app store, for the weekly report's help figures (None if unavailable)."""
    try:
        from search_api.accounts.store import Store
        from search_api.help import help_service

        return help_service(settings, Store(db.app_database(settings)))
    except Exception:
        log.exception("weekly report: help figures unavailable")
        return None
