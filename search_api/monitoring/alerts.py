"""Early warnings: one employer's distress seen by several visitors, and district topic spikes.

* **Employer warning** — at least ``K`` distinct visitors (``client_id``) ask about the same
  employer together with a distress topic (unpaid wages, bankruptcy, layoffs, work
  injury …; the lexicon marks them ``distress``) within ``W`` days. The window is anchored
  at the first qualifying query not already covered by a warning, so an ongoing cluster
  raises one warning per window, never one per new query. Repeated queries from one
  visitor count once. Below ``K`` nothing about the employer leaves this module.
* **Topic spike** — per district and topic, distinct visitors in the last 7 days above
  mean + 2σ of the four weeks before (and at least ``spike_min_count``).

Warnings are rows in the query-log file, unique on ``(kind, subject, window_start)``, so a
re-evaluation never creates (or sends) a second one for the same window. Visitor ids are
day-scoped (see ``querylog``): one person asking on two days counts twice — the price of
not being able to follow anyone across days.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from search_api.monitoring.querylog import iso, utcnow

log = logging.getLogger(__name__)

DEFAULT_DISTRESS = frozenset({"wage_arrears", "bankruptcy", "dismissal", "work_injury"})


class MonitorSettings(BaseSettings):
    """Settings for warnings and webhooks (``LABOURKB_`` env vars), kept beside ``Settings``."""

    model_config = SettingsConfigDict(env_prefix="LABOURKB_", extra="ignore")

    warning_min_visitors: int = Field(3, ge=2, description="K: distinct visitors about one employer before a warning.")
    warning_window_days: int = Field(7, ge=1, description="W: days within which the K visitors must ask.")
    spike_min_count: int = Field(5, ge=1, description="Fewest visitors in a week for a district topic spike.")
    webhook_urls: str = Field("", description="Comma-separated URLs that receive warnings as signed JSON.")
    webhook_secret: str = Field("", description="HMAC-SHA256 key for the X-Labourkb-Signature header.")
    webhook_timeout: float = Field(5.0, description="Seconds before one webhook attempt times out.")
    webhook_max_attempts: int = Field(6, ge=1, description="Attempts per webhook delivery before giving up.")

    @property
    def urls(self) -> list[str]:
        return [u.strip() for u in self.webhook_urls.split(",") if u.strip()]


def monitor_settings(settings: Any = None) -> MonitorSettings:
    """Monitor settings from the environment; fields the main ``Settings`` also has win."""
    overrides = {k: getattr(settings, k) for k in MonitorSettings.model_fields if hasattr(settings, k)}
    return MonitorSettings(**overrides)


# ---------------------------------------------------------------- employer names

_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司", "工地", "厂", "店")
_NAME_CHARS = r"0-9A-Za-z\u4e00-\u9fff()（）·&"
_EMPLOYER_RE = re.compile(rf"[{_NAME_CHARS}]{{2,24}}?(?:{'|'.join(_SUFFIXES)})")
# Words that end the sentence part before a name: "我在X厂上班", "X公司老板跑路了".
_LEAD_CUT_RE = re.compile(
    r".*(?:我们|我在|我们在|我|在|被|了|的|给|从|到|跟|向|对|是|问|去|找|请问|关于|这家|那家|一家|某)"
)
_GENERIC = {
    "工",
    "本",
    "该",
    "这",
    "那",
    "这个",
    "那个",
    "黑",
    "小",
    "大",
    "分",
    "子",
    "母",
    "总",
    "我们",
    "他们",
    "原",
    "新",
    "老",
    "外包",
    "劳务",
    "劳务派遣",
    "派遣",
    "中介",
    "个体",
    "用人",
    "私人",
    "工程",
    "建筑",
    "服装",
    "电子",
    "加工",
    "食品",
    "商",
    "饭",
    "酒",
    "网",
    "药",
    "物业",
    "保险",
    "快递",
    "外卖",
    "上市",
    "国有",
    "民营",
    "有限",
}


@lru_cache(maxsize=8)
def _aliases_cached(path: str, mtime: float) -> tuple[tuple[str, str], ...]:
    pairs = []
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{no}: expected 'alias = canonical name'")
        alias, canonical = (s.strip() for s in line.split("=", 1))
        if not alias or not canonical:
            raise ValueError(f"{path}:{no}: empty alias or name")
        pairs.append((alias, canonical))
    # longest alias first, so 富士康科技 wins over 富士康
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


def load_aliases(path: Path | str) -> tuple[tuple[str, str], ...]:
    """``(alias, canonical)`` pairs from the alias file (``alias = canonical`` per line); () if absent."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        return ()
    return _aliases_cached(str(path), mtime)


def canonical_employer(name: str) -> str:
    """One spelling per employer: full-width brackets, 有限责任/股份有限公司 → 有限公司."""
    name = name.replace("(", "（").replace(")", "）")
    for long in ("股份有限公司", "有限责任公司"):
        if name.endswith(long):
            name = name[: -len(long)] + "有限公司"
    return name


def extract_employers(text: str, aliases: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """Employer names in a (redacted) query, canonical and de-duplicated.

    >>> extract_employers("我在深圳华强电子厂上班，老板欠薪跑路了")
    ['深圳华强电子厂']
    """
    found: list[str] = []
    rest = text
    for alias, canonical in aliases:
        if alias in rest:
            found.append(canonical)
            rest = rest.replace(alias, " ")
    for match in _EMPLOYER_RE.finditer(rest):
        name = match.group(0)
        lead = _LEAD_CUT_RE.match(name)
        if lead:
            name = name[lead.end() :]
        stem = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
        if len(stem) < 2 or stem in _GENERIC or stem.isdigit():
            continue
        found.append(canonical_employer(name))
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------- warnings store

WARNINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS warnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    topics TEXT NOT NULL,
    visitors INTEGER NOT NULL,
    district TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (kind, subject, window_start)
);
"""


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
            "district": self.district,
            "created_at": self.created_at,
        }


def _row_warning(row: sqlite3.Row) -> Alert:
    return Alert(
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


def list_warnings(conn: sqlite3.Connection, since: str | None = None, limit: int = 200) -> list[Alert]:
    """Raised warnings, newest first (all of them met the K-visitor threshold)."""
    conn.executescript(WARNINGS_SCHEMA)
    rows = conn.execute(
        "SELECT * FROM warnings WHERE window_end >= ? ORDER BY window_start DESC, id DESC LIMIT ?",
        (since or "", limit),
    ).fetchall()
    return [_row_warning(r) for r in rows]


class WarningMonitor:
    """Evaluates warnings on the query-log file and hands new ones to ``notify`` (webhooks).

    Attach with ``querylog.listeners.append(monitor.on_records)``: employer warnings are
    checked for the employers of each written batch, spikes at most every ``spike_every_s``.
    """

    def __init__(
        self,
        db_path: Path | str,
        distress: frozenset[str] | set[str],
        settings: MonitorSettings,
        notify: Any = None,
        spike_every_s: float = 3600.0,
    ):
        from search_api.monitoring.querylog import connect

        self.conn = connect(db_path)
        self.conn.executescript(WARNINGS_SCHEMA)
        self.distress = frozenset(distress)
        self.k = settings.warning_min_visitors
        self.window = timedelta(days=settings.warning_window_days)
        self.spike_min = settings.spike_min_count
        self.notify = notify
        self.spike_every_s = spike_every_s
        self._last_spikes = 0.0
        self._lock = threading.Lock()

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

    def _distress_rows(self, employer: str, since: str) -> list[tuple[datetime, str, list[str]]]:
        # The LIKE is a coarse pre-filter; the JSON check below is the exact one.
        pattern = "%" + json.dumps(employer, ensure_ascii=False) + "%"
        rows = self.conn.execute(
            "SELECT timestamp, client_id, topics, employers FROM queries"
            " WHERE timestamp >= ? AND employers LIKE ? ORDER BY timestamp",
            (since, pattern),
        ).fetchall()
        out = []
        for r in rows:
            topics = [t for t in json.loads(r["topics"]) if t in self.distress]
            if topics and employer in json.loads(r["employers"]):
                out.append((_parse_ts(r["timestamp"]), r["client_id"], topics))
        return out

    def check_employer(self, employer: str, now: datetime | None = None) -> list[Alert]:
        """Raise the employer warnings due now; returns the newly created ones."""
        now = now or utcnow()
        rows = self._distress_rows(employer, iso(now - 2 * self.window))
        covered = [
            (_parse_ts(r["window_start"]), _parse_ts(r["window_end"]))
            for r in self.conn.execute(
                "SELECT window_start, window_end FROM warnings WHERE kind = 'employer' AND subject = ?", (employer,)
            )
        ]
        created = []
        i = 0
        while i < len(rows):
            start = rows[i][0]
            if any(s <= start < e for s, e in covered):
                i += 1
                continue
            in_window = [r for r in rows[i:] if r[0] < start + self.window]
            visitors = {r[1] for r in in_window}
            if len(visitors) >= self.k:
                topics = sorted({t for r in in_window for t in r[2]})
                w = self._insert("employer", employer, start, start + self.window, topics, len(visitors), None)
                if w is not None:
                    created.append(w)
                covered.append((start, start + self.window))
                i += len(in_window)
            else:
                i += 1
        return created

    def check_spikes(self, now: datetime | None = None) -> list[Alert]:
        """Per district and topic: this week's distinct visitors vs mean + 2σ of the 4 weeks before."""
        now = now or utcnow()
        week = timedelta(days=7)
        since = iso(now - 5 * week)
        counts: dict[tuple[str, str], list[set[str]]] = {}
        rows = self.conn.execute(
            "SELECT timestamp, client_id, district, topics FROM queries WHERE timestamp >= ? AND district IS NOT NULL",
            (since,),
        )
        for r in rows:
            age = now - _parse_ts(r["timestamp"])
            bucket = int(age / week)
            if not 0 <= bucket <= 4:
                continue
            for topic in json.loads(r["topics"]):
                counts.setdefault((r["district"], topic), [set() for _ in range(5)])[bucket].add(r["client_id"])
        created = []
        for (district, topic), weeks in sorted(counts.items()):
            current = len(weeks[0])
            history = [len(w) for w in weeks[1:]]
            threshold = statistics.mean(history) + 2 * statistics.pstdev(history)
            if current >= self.spike_min and current > threshold:
                start = _week_start(now)
                w = self._insert("spike", f"{district}/{topic}", start, start + week, [topic], current, district)
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
        visitors: int,
        district: str | None,
    ) -> Alert | None:
        with self._lock, self.conn:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO warnings (kind, subject, window_start, window_end, topics, visitors, district,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    subject,
                    iso(start),
                    iso(end),
                    json.dumps(topics, ensure_ascii=False),
                    visitors,
                    district,
                    iso(utcnow()),
                ),
            )
            if cur.rowcount == 0:
                return None
            row = self.conn.execute("SELECT * FROM warnings WHERE id = ?", (cur.lastrowid,)).fetchone()
        log.info("warning raised: %s %s", kind, subject)
        return _row_warning(row)

    def close(self) -> None:
        self.conn.close()


def _parse_ts(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the current week: spike windows are calendar weeks."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def distress_topics(settings: Any) -> frozenset[str]:
    """Topic ids the lexicon flags ``distress``; a built-in default when it cannot load yet."""
    try:
        from ingest.lexicon import load_lexicon

        ids = frozenset(t.id for t in load_lexicon(settings.lexicon_dir).topics if t.distress)
        return ids or DEFAULT_DISTRESS
    except Exception:
        return DEFAULT_DISTRESS


MASK = "[用人单位]"


def mask_employers(
    text: str, aliases: tuple[tuple[str, str], ...] = (), allowed: set[str] | frozenset[str] = frozenset()
) -> str:
    """Replace employer names in ``text`` by ``[用人单位]`` unless their canonical name is ``allowed``.

    Shown lists (dashboard, CSV, feed) use this with the employers that already have a
    warning, so an employer fewer than K visitors asked about is never revealed.
    """
    for alias, canonical in aliases:
        if alias in text and canonical not in allowed:
            text = text.replace(alias, MASK)

    def repl(match: re.Match[str]) -> str:
        whole = match.group(0)
        lead = _LEAD_CUT_RE.match(whole)
        head, name = (whole[: lead.end()], whole[lead.end() :]) if lead else ("", whole)
        stem = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
        if len(stem) < 2 or stem in _GENERIC or stem.isdigit() or canonical_employer(name) in allowed:
            return whole
        return head + MASK

    return _EMPLOYER_RE.sub(repl, text)
