"""Call-back deadlines in working days: weekends, public holidays and make-up working days."""

from __future__ import annotations

import datetime as dt

import pytest

from search_api.help.calendar import HolidaysFileError, WorkCalendar

D = dt.date


@pytest.mark.parametrize(
    ("submitted", "due", "why"),
    [
        (D(2026, 11, 25), D(2026, 11, 27), "Wednesday: Thursday and Friday"),
        (D(2026, 11, 27), D(2026, 12, 1), "Friday: the weekend does not count"),
        (D(2026, 11, 28), D(2026, 12, 1), "Saturday: Monday and Tuesday"),
        (D(2026, 9, 30), D(2026, 10, 9), "before 国庆节 (Oct 1-7): Oct 8 and 9"),
        (D(2026, 10, 8), D(2026, 10, 10), "Oct 10 2026 is a Saturday worked in exchange (调休)"),
        (
            D(2026, 2, 13),
            D(2026, 2, 24),
            "Friday before 春节: Feb 14 (a Saturday worked), then Feb 24 after the holiday",
        ),
        (D(2026, 12, 31), D(2027, 1, 5), "across New Year into a year the package does not know"),
    ],
)
def test_two_working_days(submitted, due, why):
    assert WorkCalendar().add_workdays(submitted, 2) == due, why


def test_the_statutory_fixed_holidays_hold_in_a_year_without_a_schedule():
    cal = WorkCalendar()
    assert not cal.knows(2031)
    assert not cal.is_workday(D(2031, 10, 2))  # a Thursday, 国庆节
    assert not cal.is_workday(D(2031, 5, 1))  # a Thursday, 劳动节
    assert cal.is_workday(D(2031, 10, 6))  # a Monday after the fixed three days
    assert cal.add_workdays(D(2031, 9, 30), 1) == D(2031, 10, 6)


def test_a_configured_schedule_overrides(tmp_path):
    path = tmp_path / "holidays.yaml"
    path.write_text("holidays: [2031-10-06, 2031-10-07]\nworkdays: [2031-10-11]\n", encoding="utf-8")
    cal = WorkCalendar.from_file(path)
    assert cal.knows(2031)
    assert cal.add_workdays(D(2031, 9, 30), 1) == D(2031, 10, 8)
    assert cal.is_workday(D(2031, 10, 11))  # a Saturday worked in exchange
    assert cal.workdays_between(D(2031, 9, 30), D(2031, 10, 11)) == 4  # Oct 8, 9, 10, 11


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("holidays: [2031-13-01]\n", "不是日期"),
        ("holidays: 2031-10-01\n", "日期列表"),
        ("holiday: [2031-10-01]\n", "holidays 和 workdays"),
        ("holidays: [2031-10-01]\nworkdays: [2031-10-01]\n", "既是放假日又是调休上班日"),
        ("holidays: [\n", "无法读取"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(tmp_path, text, words):
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidaysFileError) as refused:
        WorkCalendar.from_file(path)
    assert words in refused.value.message and str(path) in refused.value.message
