"""Working days in mainland China, for the call-back deadline of a help request.

A working day is Monday to Friday, unless the day is a public holiday, plus the make-up
working days (调休) the State Council announces each year for 全国年节及纪念日放假办法. The
announced schedule comes from the ``chinesecalendar`` package (it is updated each year
after the announcement). For a year the package does not know yet, only the fixed-date
statutory holidays are certain (元旦 1 day, 劳动节 2 days, 国庆节 3 days): those are used and
the lunar ones (春节, 清明, 端午, 中秋) are missing until a union configures them.

A union configures a schedule (a year not yet in the package, or a local change) with a
YAML file, ``LABOURKB_HOLIDAYS_FILE``; its days override everything else::

    holidays: [2027-01-01, 2027-02-05, ...]   # days off
    workdays: [2027-02-14, ...]               # make-up working days on a weekend
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import chinese_calendar
import yaml

from search_api.errors import Invalid

# Fixed-date holidays of 全国年节及纪念日放假办法 (2024 revision): certain for any year.
FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


class HolidaysFileError(Invalid):
    """A holidays file that cannot be used; the message names the file and the entry."""


class WorkCalendar:
    """Which days are working days; ``extra_holidays`` / ``extra_workdays`` override the rest."""

    def __init__(self, extra_holidays: Iterable[dt.date] = (), extra_workdays: Iterable[dt.date] = ()):
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)

    @classmethod
    def from_file(cls, path: Path | None) -> WorkCalendar:
        """The calendar with the schedule in ``path`` (None: the package's schedule only)."""
        if path is None:
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except ValueError as e:  # YAML itself reads 2031-13-01 as a date and fails
            raise HolidaysFileError(f"{path}: 有一个日期不是日期（{e}）") from None
        except (OSError, yaml.YAMLError) as e:
            raise HolidaysFileError(f"{path}: 无法读取放假安排文件（{e}）") from None
        if not isinstance(data, dict) or set(data) - {"holidays", "workdays"}:
            raise HolidaysFileError(f"{path}: 只能有 holidays 和 workdays 两个列表")
        days = {key: _dates(path, key, data.get(key) or []) for key in ("holidays", "workdays")}
        both = days["holidays"] & days["workdays"]
        if both:
            raise HolidaysFileError(f"{path}: {min(both)} 既是放假日又是调休上班日")
        return cls(days["holidays"], days["workdays"])

    def is_workday(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:  # a year the package does not know yet
            return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS

    def knows(self, year: int) -> bool:
        """Whether the announced schedule of ``year`` is known (package or file)."""
        if any(d.year == year for d in self.extra_holidays | self.extra_workdays):
            return True
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (``day`` itself does not count; n ≥ 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        while n:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` ≤ ``start``)."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_workday(day)
        return count


def _dates(path: Path, key: str, values: object) -> set[dt.date]:
    if not isinstance(values, list):
        raise HolidaysFileError(f"{path}: {key} 须为日期列表")
    out = set()
    for value in values:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            out.add(value)
            continue
        try:
            out.add(dt.date.fromisoformat(str(value)))
        except ValueError:
            raise HolidaysFileError(f"{path}: {key} 中的 {value!r} 不是日期（格式 2027-01-01）") from None
    return out
