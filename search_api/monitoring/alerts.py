"""Early warnings: one employer's distress seen by several visitors, and district topic spikes.

* **Employer warning** — at least ``K`` distinct visitors ask about the same employer together
  with a distress topic (unpaid wages, bankruptcy, layoffs, work injury …; the lexicon marks
  them ``distress``) within ``W`` days. A visitor is a *network* (``network_id``: the address's
  /24, IPv6 /64, hashed under the day's salt), not a browser: a User-Agent string costs
  nothing to change, so one client sending three of them is still one visitor. The window is anchored
  at the first qualifying query not already covered by a warning, so an ongoing cluster
  raises one warning per window, never one per new query. Repeated queries from one
  visitor count once. Below ``K`` nothing about the employer leaves the monitoring package
  (:func:`search_api.monitoring.employers.mask_employers`).
* **Topic spike** — per district and topic, distinct visitors (networks) in the last 7 days
  above mean + 2σ of the four weeks before (and at least ``spike_min_count``).

Each warning carries its evidence — distinct networks, distinct days and distinct browser
families among the queries behind it — on the dashboard and in the webhook payload, so staff
can judge it (three networks on three days with one browser reads differently from three
networks in one afternoon).

``K``, ``W`` and ``spike_min_count`` are the settings ``warning_min_visitors``,
``warning_window_days`` and ``spike_min_count``. Warnings are rows of the query-log store
(:func:`search_api.db.log_database`), unique on ``(kind, subject, window_start)``: a
re-evaluation never creates (or sends) a second one for the same window. With several app
servers on one PostgreSQL database each runs its own monitor over everyone's records; the
window's anchor depends only on the stored records, so racing monitors compute the same row,
and the insert (``ON CONFLICT DO NOTHING … RETURNING id``) tells exactly one of them that it
raised the warning — only that one hands it to the webhooks. Network ids are day-scoped (see ``querylog``): one person
asking on two days counts twice — the price of not being able to follow anyone across days;
the evidence's ``days`` shows it. Rows written before network ids existed count by ``client_id``.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from search_api.db import Conn, Database, iso, now_iso, parse_iso, utc_now
from search_api.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_DISTRESS = frozenset({"wage_arrears", "bankruptcy", "dismissal", "work_injury"})


@dataclass
class Alert:
    """One raised warning, as the dashboard and the webhook payload show it."""

    id: int
    kind: str  # employer | spike
    subject: str  # employer name, or "district/topic"
    window_start: str
    window_end: str
    topics: list[str]
    visitors: int
    district: str | None
    created_at: str
    networks: int | None = None
    days: int | None = None
    browsers: int | None = None

    @property
    def evidence(self) -> dict[str, int | None]:
        """Distinct networks (= ``visitors``), UTC days and browser families behind the warning."""
        return {"networks": self.networks, "days": self.days, "browsers": self.browsers}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Alert:
        """A ``warnings`` row of the query-log store."""
        return cls(
            networks=row["networks"],
            days=row["days"],
            browsers=row["browsers"],
            id=row["id"],
            kind=row["kind"],
            subject=row["subject"],
            window_start=row["window_start"],
            window_end=row["window_end"],
            topics=json.loads(row["topics"]),
            visitors=row["visitors"],
            district=row["district"],
            created_at=row["created_at"],
        )

    def payload(self) -> dict[str, Any]:
        """The JSON sent to webhooks: aggregate facts only, no queries, no visitor ids."""
        return {
            "type": f"{self.kind}_warning",
            "id": self.id,
            "key": f"{self.kind}:{self.subject}:{self.window_start}",
            "subject": self.subject,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "topics": self.topics,
            "visitors": self.visitors,
            "evidence": self.evidence,
            "district": self.district,
            "created_at": self.created_at,
        }


def list_warnings(conn: Conn, since: str | None = None, limit: int = 200) -> list[Alert]:
    """Raised warnings, newest first (all of them met the K-visitor threshold)."""
    rows = conn.rows(
        "SELECT * FROM warnings WHERE window_end >= :since ORDER BY window_start DESC, id DESC LIMIT :limit",
        {"since": since or "", "limit": limit},
    )
    return [Alert.from_row(r) for r in rows]


def get_warning(conn: Conn, warning_id: int) -> Alert | None:
    """One raised warning by id; None if it is gone."""
    row = conn.row("SELECT * FROM warnings WHERE id = :id", {"id": warning_id})
    return None if row is None else Alert.from_row(row)


def distress_topics(settings: Settings) -> frozenset[str]:
    """Topic ids the lexicon flags ``distress``; a built-in default when it cannot load yet."""
    try:
        from ingest.lexicon import load_lexicon

        ids = frozenset(t.id for t in load_lexicon(settings.lexicon_dir).topics if t.distress)
        return ids or DEFAULT_DISTRESS
    except Exception:
        return DEFAULT_DISTRESS


class WarningMonitor:
    """Evaluates warnings on the query-log store and hands new ones to ``notify`` (webhooks).

    Attach with ``querylog.listeners.append(monitor.on_records)``: employer warnings are
    checked for the employers of each written batch, spikes at most every ``spike_every_s``.
    Only warnings this monitor's insert created reach ``notify``: one raised by another app
    server at the same moment is that server's to send.
    """

    def __init__(
        self,
        database: Database,
        distress: Iterable[str],
        settings: Settings,
        notify: Callable[[list[Alert]], None] | None = None,
        spike_every_s: float = 3600.0,
    ):
        self.database = database
        self.distress = frozenset(distress)
        self.k = settings.warning_min_visitors
        self.window = timedelta(days=settings.warning_window_days)
        self.spike_min = settings.spike_min_count
        self.notify = notify
        self.spike_every_s = spike_every_s
        self._last_spikes = 0.0

    def on_records(self, records: list[dict[str, Any]]) -> None:
        """Query-log listener: re-check employers named with a distress topic in this batch."""
        employers = {e for r in records if self.distress & set(r["topics"]) for e in r.get("_employers", ())}
        new = []
        for name in sorted(employers):
            new.extend(self.check_employer(name))
        if time.monotonic() - self._last_spikes >= self.spike_every_s:
            self._last_spikes = time.monotonic()
            new.extend(self.check_spikes())
        if new and self.notify is not None:
            self.notify(new)

    def _distress_rows(self, conn: Conn, employer: str, since: str) -> list[_Row]:
        # The LIKE is a coarse pre-filter; the JSON check below is the exact one.
        pattern = "%" + _like_escape(json.dumps(employer, ensure_ascii=False)) + "%"
        rows = conn.rows(
            "SELECT timestamp, COALESCE(network_id, client_id) AS network, browser, topics, employers FROM queries"
            " WHERE timestamp >= :since AND employers LIKE :pattern ESCAPE '!' ORDER BY timestamp, seq",
            {"since": since, "pattern": pattern},
        )
        out = []
        for r in rows:
            topics = [t for t in json.loads(r["topics"]) if t in self.distress]
            if topics and employer in json.loads(r["employers"]):
                out.append(_Row(parse_iso(r["timestamp"]), r["network"], r["browser"] or "?", topics))
        return out

    def check_employer(self, employer: str, now: datetime | None = None) -> list[Alert]:
        """Raise the employer warnings due now; returns the newly created ones."""
        now = now or utc_now()
        with self.database.connect() as conn:
            rows = self._distress_rows(conn, employer, iso(now - 2 * self.window))
            covered = [
                (parse_iso(r["window_start"]), parse_iso(r["window_end"]))
                for r in conn.rows(
                    "SELECT window_start, window_end FROM warnings WHERE kind = 'employer' AND subject = :subject",
                    {"subject": employer},
                )
            ]
        created = []
        i = 0
        while i < len(rows):
            start = rows[i].when
            if any(s <= start < e for s, e in covered):
                i += 1
                continue
            in_window = [r for r in rows[i:] if r.when < start + self.window]
            if len({r.network for r in in_window}) >= self.k:
                topics = sorted({t for r in in_window for t in r.topics})
                w = self._insert("employer", employer, start, start + self.window, topics, _evidence(in_window), None)
                if w is not None:
                    created.append(w)
                covered.append((start, start + self.window))
                i += len(in_window)
            else:
                i += 1
        return created

    def check_spikes(self, now: datetime | None = None) -> list[Alert]:
        """Per district and topic: this week's distinct visitors vs mean + 2σ of the 4 weeks before."""
        now = now or utc_now()
        week = timedelta(days=7)
        since = iso(now - 5 * week)
        counts: dict[tuple[str, str], list[set[str]]] = {}
        this_week: dict[tuple[str, str], list[_Row]] = {}
        with self.database.connect() as conn:
            rows = conn.rows(
                "SELECT timestamp, COALESCE(network_id, client_id) AS network, browser, district, topics FROM queries"
                " WHERE timestamp >= :since AND district IS NOT NULL",
                {"since": since},
            )
        for r in rows:
            when = parse_iso(r["timestamp"])
            bucket = int((now - when) / week)
            if not 0 <= bucket <= 4:
                continue
            for topic in json.loads(r["topics"]):
                key = (r["district"], topic)
                counts.setdefault(key, [set() for _ in range(5)])[bucket].add(r["network"])
                if bucket == 0:
                    this_week.setdefault(key, []).append(_Row(when, r["network"], r["browser"] or "?", [topic]))
        created = []
        for (district, topic), weeks in sorted(counts.items()):
            current = len(weeks[0])
            history = [len(w) for w in weeks[1:]]
            threshold = statistics.mean(history) + 2 * statistics.pstdev(history)
            if current >= self.spike_min and current > threshold:
                start = _week_start(now)
                evidence = _evidence(this_week[(district, topic)])
                w = self._insert("spike", f"{district}/{topic}", start, start + week, [topic], evidence, district)
                if w is not None:
                    created.append(w)
        return created

    def _insert(
        self,
        kind: str,
        subject: str,
        start: datetime,
        end: datetime,
        topics: list[str],
        evidence: dict[str, int],
        district: str | None,
    ) -> Alert | None:
        with self.database.transaction() as conn:
            warning_id = conn.scalar(
                "INSERT INTO warnings (kind, subject, window_start, window_end, topics, visitors, district,"
                " created_at, networks, days, browsers) VALUES (:kind, :subject, :window_start, :window_end,"
                " :topics, :visitors, :district, :created_at, :networks, :days, :browsers)"
                " ON CONFLICT (kind, subject, window_start) DO NOTHING RETURNING id",
                {
                    "kind": kind,
                    "subject": subject,
                    "window_start": iso(start),
                    "window_end": iso(end),
                    "topics": json.dumps(topics, ensure_ascii=False),
                    "visitors": evidence["networks"],
                    "district": district,
                    "created_at": now_iso(),
                    **evidence,
                },
            )
            if warning_id is None:  # raised already, here or by another app server
                return None
            alert = get_warning(conn, warning_id)
        log.info("warning raised: %s %s", kind, subject)
        return alert

    def close(self) -> None:
        """Nothing to release: the store's connections belong to its :class:`Database`."""


class _Row(NamedTuple):
    """One qualifying query: when, its visitor's network id, browser family, distress topics."""

    when: datetime
    network: str
    browser: str
    topics: list[str]


def _evidence(rows: list[_Row]) -> dict[str, int]:
    return {
        "networks": len({r.network for r in rows}),
        "days": len({r.when.astimezone(UTC).date() for r in rows}),
        "browsers": len({r.browser for r in rows}),
    }


def _like_escape(text: str) -> str:
    """``text`` matched literally by ``LIKE … ESCAPE '!'`` (PostgreSQL's default escape is ``\\``)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the current week: spike windows are calendar weeks."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())
