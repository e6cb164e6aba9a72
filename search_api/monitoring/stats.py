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
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError

from search_api.db import Conn, Database, iso, parse_iso
from search_api.errors import BadRequest
from search_api.monitoring.employers import Recogniser, hide_tokens
from search_api.monitoring.records import row_to_record, ubi_query

# The union reads every time in Beijing time; China has no daylight saving, so it is always UTC+8.
SHANGHAI = ZoneInfo("Asia/Shanghai")
SETTLE_WAIT = "1s"  # longest the feed waits for appends in flight (PostgreSQL)
CSV_PAGE = 1000  # rows per read of the CSV export: no connection is held while the client downloads


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

    def where(self, alias: str = "") -> tuple[str, dict[str, Any]]:
        """The SQL condition (parameters ``:since``, ``:until``, ``:district``) and its parameters."""
        p = f"{alias}." if alias else ""
        clauses, args = ["1 = 1"], {}
        if self.since:
            clauses.append(f"{p}timestamp >= :since")
            args["since"] = self.since
        if self.until:
            clauses.append(f"{p}timestamp < :until")
            args["until"] = self.until
        if self.district:
            clauses.append(f"{p}district = :district")
            args["district"] = self.district
        return " AND ".join(clauses), args


# ---------------------------------------------------------------- presentation


class Presenter:
    """Masks employer names below the warning threshold in query texts, their tokens and filters.

    An employer is shown only once it has an employer warning (K distinct visitors); every
    other name the recogniser finds becomes ``[用人单位]``.
    """

    def __init__(self, conn: Conn, recogniser: Recogniser):
        self.allowed = set(conn.column("SELECT subject FROM warnings WHERE kind = 'employer'"))
        self.recogniser = recogniser

    def text(self, text: str) -> str:
        return self.recogniser.mask(text, self.allowed)

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
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


def settled_seq(database: Database) -> int | None:
    """The sequence number up to which the feed may read: every record at or below it is committed.

    On PostgreSQL, app servers append concurrently: a record may take ``seq`` 10 and commit after
    the one with 11, and a reader resuming "after 11" would never see it. ``LOCK TABLE … SHARE``
    waits for the appends in flight (their INSERT holds ROW EXCLUSIVE until it commits) and
    holds new ones back for the instant ``MAX(seq)`` takes. SQLite commits in ``seq`` order
    (one writer at a time): None, no bound.

    The wait is short (:data:`SETTLE_WAIT`): appends queue behind it, and searches must not wait
    for the feed. A transaction holding the table longer (a purge) makes it 0: nothing new this
    time, and the reader asks again with the same cursor.
    """
    if not database.is_postgresql:
        return None
    try:
        with database.transaction(lock=False) as conn:
            conn.execute(f"SET LOCAL lock_timeout = '{SETTLE_WAIT}'")
            conn.execute("LOCK TABLE queries IN SHARE MODE")
            return conn.scalar("SELECT MAX(seq) FROM queries") or 0
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        return 0


def feed(
    conn: Conn, after: int, flt: LogFilter, limit: int, presenter: Presenter, upto: int | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(seq, UBI query document)`` after sequence number ``after``, in log order, at most ``limit``.

    ``seq`` only grows, and with ``upto`` from :func:`settled_seq` no record at or below the
    last one returned can still appear, so "after the last seq I saw" resumes exactly:
    nothing skipped, nothing repeated.
    """
    where, args = flt.where()
    bound = "" if upto is None else " AND seq <= :upto"
    rows = conn.rows(
        f"SELECT * FROM queries WHERE seq > :after{bound} AND {where} ORDER BY seq LIMIT :limit",
        {**args, "after": after, "upto": upto, "limit": limit},
    )
    for row in rows:
        yield row["seq"], ubi_query(presenter.record(row))


# ---------------------------------------------------------------- aggregates


def _grouped(conn: Conn, sql: str, args: dict[str, Any], presenter: Presenter, limit: int) -> list[dict[str, Any]]:
    """Rows of (user_query, count, visitors[, extra]) merged after masking, biggest first."""
    merged: dict[str, Counter] = defaultdict(Counter)
    for row in conn.rows(sql, {**args, "limit": limit * 5}):
        counts = {k: int(v or 0) for k, v in row.items() if k != "user_query"}
        merged[presenter.text(row["user_query"])].update(counts)
    items = [{"query": q, **dict(c)} for q, c in merged.items()]
    items.sort(key=lambda d: (-d["count"], d["query"]))
    return items[:limit]


def stats(conn: Conn, flt: LogFilter, presenter: Presenter, top: int = 20) -> dict[str, Any]:
    """Aggregates for ``/api/logs/stats``, the dashboard and the CSV export."""
    where, args = flt.where()
    qwhere, qargs = flt.where("q")
    t = conn.row(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT client_id) AS visitors,"
        f" SUM(CASE WHEN total = 0 AND failed = 0 THEN 1 ELSE 0 END) AS zero, SUM(failed) AS failed,"
        f" AVG(took_ms) AS took FROM queries WHERE {where}",
        args,
    )
    n, zero, failed = int(t["n"] or 0), int(t["zero"] or 0), int(t["failed"] or 0)
    clicked = int(
        conn.scalar(
            f"SELECT COUNT(DISTINCT q.query_id) FROM queries q JOIN events e ON e.query_id = q.query_id WHERE {qwhere}",
            qargs,
        )
    )
    answered = n - zero - failed
    # ties at the LIMIT go to the query asked first (MIN(seq)): the same rows on either database
    top_queries = _grouped(
        conn,
        f"SELECT user_query, COUNT(*) AS count, COUNT(DISTINCT client_id) AS visitors,"
        f" SUM(CASE WHEN total = 0 THEN 1 ELSE 0 END) AS zero FROM queries WHERE {where} AND user_query != ''"
        f" GROUP BY user_query ORDER BY count DESC, MIN(seq) LIMIT :limit",
        args,
        presenter,
        top,
    )
    zero_queries = _grouped(
        conn,
        f"SELECT user_query, COUNT(*) AS count, COUNT(DISTINCT client_id) AS visitors FROM queries"
        f" WHERE {where} AND total = 0 AND failed = 0 AND user_query != '' GROUP BY user_query"
        f" ORDER BY count DESC, MIN(seq) LIMIT :limit",
        args,
        presenter,
        top,
    )
    unclicked = _grouped(
        conn,
        f"SELECT q.user_query, COUNT(*) AS count, COUNT(DISTINCT q.client_id) AS visitors FROM queries q"
        f" WHERE {qwhere} AND q.total > 0 AND q.user_query != ''"
        f" AND NOT EXISTS (SELECT 1 FROM events e WHERE e.query_id = q.query_id)"
        f" GROUP BY q.user_query ORDER BY count DESC, MIN(q.seq) LIMIT :limit",
        qargs,
        presenter,
        top,
    )
    return {
        "since": flt.since,
        "until": flt.until,
        "district": flt.district,
        "queries": n,
        "visitors": int(t["visitors"] or 0),
        "zero_results": zero,
        "failed": failed,
        "avg_took_ms": round(float(t["took"]), 2) if t["took"] is not None else None,
        "clicked_queries": clicked,
        "click_through_rate": round(clicked / answered, 4) if answered > 0 else None,
        "top_queries": top_queries,
        "zero_result_queries": zero_queries,
        "unclicked_queries": unclicked,
        **_topics(conn, qwhere, qargs),
    }


def _topics(conn: Conn, qwhere: str, qargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Topics per Beijing-time week (starting on Monday) and per district, and queries per district.

    Counted per UTC hour in SQL (portable: no date functions), then by week in Python: Beijing is
    UTC+8 all year, so an hour never straddles two Beijing days. A query can have several topics
    (or none), so the topic counts do not add up to the number of queries; ``queries_by_district``
    counts each query once.
    """
    by_week: dict[str, Counter] = defaultdict(Counter)
    by_district: dict[str, Counter] = defaultdict(Counter)
    queries_by_district: Counter = Counter()
    for r in conn.rows(
        f"SELECT substr(q.timestamp, 1, 13) AS hour, q.topics AS topics, COALESCE(q.district, '') AS district,"
        f" COUNT(*) AS n FROM queries q WHERE {qwhere} GROUP BY 1, 2, 3",
        qargs,
    ):
        n, district = int(r["n"]), r["district"]
        queries_by_district[district] += n
        week = _monday_of(r["hour"])
        for topic in json.loads(r["topics"]):
            by_week[week][topic] += n
            by_district[district][topic] += n

    def named(district: str) -> str:
        return district or "未选择"

    return {
        "topics_by_week": {w: dict(sorted(by_week[w].items())) for w in sorted(by_week)},
        "topics_by_district": {
            named(d): dict(sorted(by_district[d].items(), key=lambda kv: (-kv[1], kv[0]))) for d in sorted(by_district)
        },
        "queries_by_district": {named(d): queries_by_district[d] for d in sorted(queries_by_district)},
    }


def _monday_of(hour: str) -> str:
    """``2026-11-29T21`` (a UTC hour) → the Monday of its Beijing-time week, ``2026-11-30``."""
    day = datetime.fromisoformat(hour + ":00:00+00:00").astimezone(SHANGHAI).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def districts(conn: Conn) -> list[str]:
    """Districts seen in the log, for the dashboard's filter (sorted here: the same order on either database)."""
    return sorted(conn.column("SELECT DISTINCT district FROM queries WHERE district IS NOT NULL"))


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
    database: Database, flt: LogFilter, presenter: Presenter, topic_names: Mapping[str, str]
) -> Iterator[str]:
    """The filtered log as CSV text, a line at a time, in log order: redacted, masked, no visitor ids.

    Starts with a byte-order mark so Excel reads it as UTF-8; topics are shown by name. Rows
    are read :data:`CSV_PAGE` at a time, each page on a connection of its own.
    """
    where, args = flt.where("q")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    yield "\ufeff" + buf.getvalue()
    after = 0
    while True:
        with database.connect() as conn:
            rows = conn.rows(
                f"SELECT q.*, EXISTS (SELECT 1 FROM events e WHERE e.query_id = q.query_id) AS clicked"
                f" FROM queries q WHERE q.seq > :after AND {where} ORDER BY q.seq LIMIT :page",
                {**args, "after": after, "page": CSV_PAGE},
            )
        for row in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow(
                [
                    local_stamp(row["timestamp"]),
                    _csv_safe(presenter.text(row["user_query"])),
                    "、".join(topic_names.get(t, t) for t in json.loads(row["topics"])),
                    row["district"] or "",
                    "" if row["total"] is None else row["total"],
                    int(row["clicked"]),
                    row["took_ms"],
                    row["failed"],
                    row["source"],
                    row["engine"],
                ]
            )
            yield buf.getvalue()
        if len(rows) < CSV_PAGE:
            return
        after = rows[-1]["seq"]


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ is prefixed with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
