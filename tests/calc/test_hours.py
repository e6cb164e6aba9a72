"""加班费 (劳动法第四十四条) and 年休假 (条例第三条, 实施办法第十条、第十一条), worked by hand at 21.75 days."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from search_api.calc.hours import annual_leave, overtime


def test_overtime_at_150_200_300_percent():
    # 8,700 ÷ (21.75 × 8) = 50.00 an hour; 10 h × 1.5 = 750; 8 h × 2 = 800; 8 h × 3 = 1,200
    r = overtime(D(8700), D(10), D(8), D(8))
    assert r.details["hourly_wage"] == 50.0
    assert r.details["parts"] == {"workday_hours": 750.0, "restday_hours": 800.0, "holiday_hours": 1200.0}
    assert r.amount == D(2750)
    assert r.articles == [
        "labor-law.44",
        "wage-payment-interim-provisions.13",
        "monthly-working-days-and-wage-conversion-notice",
    ]


def test_overtime_steps_reproduce_by_hand_with_the_rounded_hourly_wage():
    # 6,000 ÷ 174 = 34.4827… → 34.48; 10 h × 34.48 × 1.5 = 517.20
    r = overtime(D(6000), workday_hours=D(10))
    assert r.amount == D("517.20")
    assert "10 小时 × 34.48 元 × 150% = 517.20 元" in "\n".join(r.steps)


def test_no_hours_is_zero():
    assert overtime(D(6000)).amount == D(0)


@pytest.mark.parametrize(
    ("years", "days"),
    [(0, 0), ("0.99", 0), (1, 5), ("9.99", 5), (10, 10), ("19.5", 10), (20, 15), (35, 15)],
)
def test_leave_days_by_years_worked_in_all(years, days):
    r = annual_leave(D(years))
    assert r.days == days and r.amount is None
    assert r.articles[0] == "paid-annual-leave-regulations.3"


def test_unused_leave_is_300_percent_with_the_extra_200_stated_apart():
    # 8,700 ÷ 21.75 = 400 a day; 4 days: 300 % = 4,800, of which 1,600 was paid as normal wage; extra 3,200
    r = annual_leave(D(12), 4, D(8700))
    assert r.days == 10 and r.amount == D(3200)
    assert (r.details["total_300"], r.details["normal_100"]) == (4800.0, 1600.0)
    assert "enterprise-paid-annual-leave-implementing-measures.10" in r.articles
    assert r.summary[-1] == "未休 4 天，公司应另付（200%）：3,200.00 元"


def test_unused_days_above_the_statutory_days_are_counted_at_the_statutory_days():
    r = annual_leave(D(5), 12, D(8700))
    assert r.details["counted_days"] == 5 and r.amount == D(4000)


def test_unused_days_without_a_wage_give_the_days_and_ask_for_the_wage():
    r = annual_leave(D(5), 3)
    assert r.days == 5 and r.amount is None
    assert any("月工资" in n for n in r.notes)
