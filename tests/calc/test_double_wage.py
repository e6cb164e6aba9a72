"""二倍工资, worked by hand from 劳动合同法第八十二条 and 实施条例第六条、第七条 (21.75 days for a partial month)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from search_api.calc import InvalidInput
from search_api.calc.double_wage import double_wage


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_it_starts_the_day_after_the_first_month_and_ends_the_day_before_signing():
    # 2023-03-15 → 满一个月的次日 2023-04-15; signed 2023-07-15 → up to 2023-07-14: exactly 3 months
    r = double_wage(d("2023-03-15"), d("2023-07-15"), D(6000))
    assert (r.details["period_start"], r.details["period_end"]) == ("2023-04-15", "2023-07-14")
    assert r.details["months"] == 3 and r.details["extra_days"] == 0
    assert r.amount == D(18000)
    assert r.articles == ["labor-contract-law.82", "labor-contract-law-implementing-regulations.6"]


def test_signed_within_the_first_month_owes_nothing():
    for signed in ("2023-03-20", "2023-04-01", "2022-12-01"):  # in the month, on 满一个月的次日, before starting
        r = double_wage(d("2023-03-01"), d(signed), D(6000))
        assert r.amount == D(0) and r.details["months"] == 0, signed


def test_a_partial_month_is_paid_by_the_day_at_monthly_wage_over_21_75():
    # 2023-03-01, signed 2023-06-15: 2023-04-01..2023-05-31 = 2 months; 2023-06-01..06-14 = 14 days,
    # of them 10 Monday-to-Friday days (Thu 1, Fri 2, 5–9, 12–14); 6,000 ÷ 21.75 = 275.86;
    # 2 × 6,000 + 10 × 275.86 = 14,758.60
    r = double_wage(d("2023-03-01"), d("2023-06-15"), D(6000))
    assert (r.details["months"], r.details["extra_days"], r.details["extra_paid_days"]) == (2, 14, 10)
    assert r.amount == D("14758.60")
    assert "monthly-working-days-and-wage-conversion-notice" in r.articles
    assert "275.86 元" in "\n".join(r.steps)


def test_one_day_into_the_second_month():
    # 2023-05-01 (Monday): 满一个月的次日 2023-06-01 (Thursday); signed 2023-06-02 → one paid day
    r = double_wage(d("2023-05-01"), d("2023-06-02"), D(6000))
    assert r.amount == D("275.86") and r.details["period_end"] == "2023-06-01"


def test_never_signed_stops_at_eleven_months_and_deems_an_open_ended_contract():
    # 指导案例179号: work from 2016-04-08 to 2017-05-08, nothing signed; the judgment's period is
    # 2016-05-08 to 2017-04-07 — eleven months. At 10,000 a month: 110,000.
    r = double_wage(d("2016-04-08"), None, D(10000), end=d("2017-05-08"))
    assert (r.details["period_start"], r.details["period_end"]) == ("2016-05-08", "2017-04-07")
    assert r.details["months"] == 11 and r.amount == D(110000)
    assert "labor-contract-law.14" in r.articles and "labor-contract-law-implementing-regulations.7" in r.articles
    assert any("2017年4月7日" in n and "无固定期限" in n for n in r.notes)


def test_signing_late_in_the_second_year_still_pays_only_eleven_months():
    r = double_wage(d("2020-01-01"), d("2021-09-01"), D(5000))
    assert r.details["months"] == 11 and r.amount == D(55000)


def test_still_employed_without_a_contract_counts_to_today():
    # from 2024-01-10: 2024-02-10..2024-06-09 = 4 months; 2024-06-10..06-15 = 6 days, 5 weekdays
    # (Mon 10 – Fri 14); 4 × 6,000 + 5 × 275.86 = 25,379.30
    r = double_wage(d("2024-01-10"), None, D(6000), today=d("2024-06-15"))
    assert (r.details["months"], r.details["extra_paid_days"]) == (4, 5)
    assert r.amount == D("25379.30")
    assert any("至今" in s for s in r.steps)


def test_leaving_before_signing_stops_at_the_last_day():
    r = double_wage(d("2023-03-01"), None, D(6000), end=d("2023-05-31"))
    assert r.details["period_end"] == "2023-05-31" and r.amount == D(12000)


def test_left_before_the_second_month():
    assert double_wage(d("2023-03-01"), None, D(6000), end=d("2023-03-25")).amount == D(0)


def test_end_before_start_is_refused():
    with pytest.raises(InvalidInput) as e:
        double_wage(d("2023-03-01"), None, D(6000), end=d("2023-02-01"))
    assert "end" in e.value.errors


def test_the_amount_is_the_extra_wage_and_the_total_is_stated():
    r = double_wage(d("2023-03-15"), d("2023-07-15"), D(6000))
    assert r.details["total_with_normal_wage"] == 36000.0
    assert any("另付的一倍" in n for n in r.notes)
