"""Reading the query log: the cursor feed, aggregates for the API and dashboard, the CSV export.

Everything shown leaves this module through :class:`Presenter`, which hides employer
names that have not (yet) reached the warning threshold. Malformed parameters raise
:class:`BadParameter`, a ``BadRequest`` the web edge answers with 400.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from search_api.db import iso, parse_iso
from search_api.errors import BadRequest
from search_api.monitoring.employers import Recogniser, hide_tokens
from search_api.monitoring.records import row_to_record, ubi_query

# The union reads every time in Beijing time; China has no daylight saving, so it is always UTC+8.
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC_OFFSET_SQL = "'+8 hours'"


class BadParameter(BadRequest):
    """A malformed cursor or date; the message is shown to the caller (HTTP 400)."""


# ---------------------------------------------------------------- parameters


def encode_cursor(seq: int) -> str:
    """Opaque cursor for "everything after record ``seq``"."""
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "seq": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The sequence number inside a cursor; 0 for none. Raises :class:`BadParameter`."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        seq = data["seq"]
        if data.get("v") != 1 or not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError
        return seq
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadParameter("无效的游标（cursor）：请使用上一次响应返回的值") from None


def parse_when(value: str | None, *, end: bool = False, tz: tzinfo = UTC) -> str | None:
    """``YYYY-MM-DD`` or an ISO 8601 time → fixed-width UTC text. A bare date is a day in ``tz``
    (the API: UTC; the dashboard: Asia/Shanghai); as ``end`` it means the end of that day
    (exclusive bound). Raises :class:`BadParameter`."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            ts = datetime(day.year, day.month, day.day, tzinfo=tz) + (timedelta(days=1) if end else timedelta())
        else:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise BadParameter(f"无效的日期 {value[:40]!r}：请用 YYYY-MM-DD 或 ISO 8601 时间") from None
    return iso(ts)


def local_stamp(stamp: str) -> str:
    """A stored UTC timestamp as Beijing time to the second: ``2026-11-30 09:05:00``."""
    return parse_iso(stamp).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def local_today() -> date:
    """Today in Asia/Shanghai."""
    return datetime.now(SHANGHAI).date()


@dataclass
class LogFilter:
    """Time range ``[since, until)`` (UTC text from :func:`parse_when`) and district."""

    since: str | None = None
    until: str | None = None
    district: str | None = None

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        p = f"{alias}." if alias else ""
        clauses, args = ["1 = 1"], []
        if self.since:
            clauses.append(f"{p}timestamp >= ?")
            args.append(self.since)
        if self.until:
            clauses.append(f"{p}timestamp < ?")
            args.append(self.until)
        if self.district:
            clauses.append(f"{p}district = ?")
            args.append(self.district)
        return " AND ".join(clauses), args


# ---------------------------------------------------------------- presentation


class Presenter:
    """Masks employer names below the warning threshold in query texts, their tokens and filters.

    An employer is shown only once it has an employer warning (K distinct visitors); every
    other name the recogniser finds becomes ``[用人单位]``.
    """

    def __init__(self, conn: sqlite3.Connection, recogniser: Recogniser):
        self.allowed = {r[0] for r in conn.execute("SELECT subject FROM warnings WHERE kind = 'employer'")}
        self.recogniser = recogniser

    def text(self, text: str) -> str:
        return self.recogniser.mask(text, self.allowed)

    def record(self, row: sqlite3.Row) -> dict[str, Any]:
        return self.mask(row_to_record(row))

    def mask(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A query record (internal shape) with employer names below the threshold masked."""
        rec = dict(rec)
        rec["user_query"], hidden = self.recogniser.mask_found(rec["user_query"], self.allowed)
        # jieba cut the name into tokens too (宏达, 五金厂): they go wherever the name went
        rec["tokens"] = hide_tokens(rec.get("tokens", []), hidden)
        rec["filters"] = {k: [self.text(v) for v in vals] for k, vals in rec.get("filters", {}).items()}
        return rec


# ---------------------------------------------------------------- feed


def feed(
    conn: sqlite3.Connection, after: int, flt: LogFilter, limit: int, presenter: Presenter
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(seq, UBI query document)`` after sequence number ``after``, in log order, at most ``limit``.

    ``seq`` only grows (AUTOINCREMENT, one writer thread), so "after the last seq I saw"
    resumes exactly: nothing skipped, nothing repeated.
    """
    where, args = flt.where()
    rows = conn.execute(
        f"SELECT * FROM queries WHERE seq > ? AND {where} ORDER BY seq LIMIT ?", [after, *args, limit]
    ).fetchall()
    for row in rows:
        yield row["seq"], ubi_query(presenter.record(row))


# ---------------------------------------------------------------- aggregates


def _grouped(
    conn: sqlite3.Connection, sql: str, args: list[Any], presenter: Presenter, limit: int
) -> list[dict[str, Any]]:
    """Rows of (user_query, n, visitors[, extra]) merged after masking, biggest first."""
    merged: dict[str, Counter] = defaultdict(Counter)
    for row in conn.execute(sql, args):
        key = presenter.text(row["user_query"])
        counts = dict(row)
        del counts["user_query"]
        merged[key].update(counts)
    items = [{"query": q, **dict(c)} for q, c in merged.items()]
    items.sort(key=lambda d: (-d["count"], d["query"]))
    return items[:limit]


def stats(conn: sqlite3.Connection, flt: LogFilter, presenter: Presenter, top: int = 20) -> dict[str, Any]:
    """Aggregates for ``/api/logs/stats``, the dashboard and the CSV export."""
    conn.row_factory = sqlite3.Row
    where, args = flt.where()
    qwhere, qargs = flt.where("q")
    t = conn.execute(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT client_id) AS visitors,"
        f" SUM(total = 0 AND failed = 0) AS zero, SUM(failed) AS failed, AVG(took_ms) AS took"
        f" FROM queries WHERE {where}",
        args,
    ).fetchone()
    clicked = conn.execute(
        f"SELECT COUNT(DISTINCT q.query_id) FROM queries q JOIN events e ON e.query_id = q.query_id WHERE {qwhere}",
        qargs,
    ).fetchone()[0]
    answered = (t["n"] or 0) - (t["zero"] or 0) - (t["failed"] or 0)
    top_queries = _grouped(
        conn,
        f"SELECT user_query, COUNT(*) AS count, COUNT(DISTINCT client_id) AS visitors, SUM(total = 0) AS zero"
        f" FROM queries WHERE {where} AND user_query != '' GROUP BY user_query ORDER BY count DESC LIMIT ?",
        [*args, top * 5],
        presenter,
        top,
    )
    zero = _grouped(
        conn,
        f"SELECT user_query, COUNT(*) AS count, COUNT(DISTINCT client_id) AS visitors FROM queries"
        f" WHERE {where} AND total = 0 AND failed = 0 AND user_query != '' GROUP BY user_query"
        f" ORDER BY count DESC LIMIT ?",
        [*args, top * 5],
        presenter,
        top,
    )
    unclicked = _grouped(
        conn,
        f"SELECT q.user_query, COUNT(*) AS count, COUNT(DISTINCT q.client_id) AS visitors FROM queries q"
        f" WHERE {qwhere} AND q.total > 0 AND q.user_query != ''"
        f" AND NOT EXISTS (SELECT 1 FROM events e WHERE e.query_id = q.query_id)"
        f" GROUP BY q.user_query ORDER BY count DESC LIMIT ?",
        [*qargs, top * 5],
        presenter,
        top,
    )
    # Weeks are Beijing-time weeks starting on Monday: shift to UTC+8, then
    # date(ts, '-6 days', 'weekday 1') is the Monday on or before ts.
    week = f"date(q.timestamp, {UTC_OFFSET_SQL}, '-6 days', 'weekday 1')"
    by_week: dict[str, dict[str, int]] = defaultdict(dict)
    for r in conn.execute(
        f"SELECT {week} AS week, j.value AS topic, COUNT(*) AS n FROM queries q, json_each(q.topics) j"
        f" WHERE {qwhere} GROUP BY week, topic ORDER BY week",
        qargs,
    ):
        by_week[r["week"]][r["topic"]] = r["n"]
    by_district: dict[str, dict[str, int]] = defaultdict(dict)
    for r in conn.execute(
        f"SELECT COALESCE(q.district, '') AS district, j.value AS topic, COUNT(*) AS n"
        f" FROM queries q, json_each(q.topics) j WHERE {qwhere} GROUP BY 1, 2 ORDER BY 1, n DESC",
        qargs,
    ):
        by_district[r["district"] or "未选择"][r["topic"]] = r["n"]
    # Queries per district, counted once each: a query can have several topics (or none), so the
    # topic counts above do not add up to the number of queries.
    queries_by_district = {
        r[0] or "未选择": r[1]
        for r in conn.execute(
            f"SELECT COALESCE(q.district, '') AS district, COUNT(*) FROM queries q"
            f" WHERE {qwhere} GROUP BY 1 ORDER BY 1",
            qargs,
        )
    }
    return {
        "since": flt.since,
        "until": flt.until,
        "district": flt.district,
        "queries": t["n"] or 0,
        "visitors": t["visitors"] or 0,
        "zero_results": t["zero"] or 0,
        "failed": t["failed"] or 0,
        "avg_took_ms": round(t["took"], 2) if t["took"] is not None else None,
        "clicked_queries": clicked,
        "click_through_rate": round(clicked / answered, 4) if answered > 0 else None,
        "top_queries": top_queries,
        "zero_result_queries": zero,
        "unclicked_queries": unclicked,
        "topics_by_week": dict(by_week),
        "topics_by_district": dict(by_district),
        "queries_by_district": queries_by_district,
    }


def districts(conn: sqlite3.Connection) -> list[str]:
    """Districts seen in the log, for the dashboard's filter."""
    return [r[0] for r in conn.execute("SELECT DISTINCT district FROM queries WHERE district IS NOT NULL ORDER BY 1")]


# ---------------------------------------------------------------- CSV export

# The time column says its zone in its name; the stored UTC stays in the log and the API.
CSV_FIELDS = (
    "time_asia_shanghai",
    "user_query",
    "topics",
    "district",
    "total",
    "clicked",
    "took_ms",
    "failed",
    "source",
    "engine",
)


def export_csv(
    conn: sqlite3.Connection, flt: LogFilter, presenter: Presenter, topic_names: Mapping[str, str]
) -> Iterator[str]:
    """The filtered log as CSV text, a line at a time, in log order: redacted, masked, no visitor ids.

    Starts with a byte-order mark so Excel reads it as UTF-8; topics are shown by name.
    """
    where, args = flt.where("q")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    yield "\ufeff" + buf.getvalue()
    cursor = conn.execute(
        f"SELECT q.*, EXISTS (SELECT 1 FROM events e WHERE e.query_id = q.query_id) AS clicked"
        f" FROM queries q WHERE {where} ORDER BY q.seq",
        args,
    )
    for row in cursor:
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            [
                local_stamp(row["timestamp"]),
                _csv_safe(presenter.text(row["user_query"])),
                "、".join(topic_names.get(t, t) for t in json.loads(row["topics"])),
                row["district"] or "",
                "" if row["total"] is None else row["total"],
                row["clicked"],
                row["took_ms"],
                row["failed"],
                row["source"],
                row["engine"],
            ]
        )
        yield buf.getvalue()


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ is prefixed with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
