"""经济补偿 and 赔偿金, worked by hand from 劳动合同法第四十七条、第八十七条、第九十七条 and 实施条例第二十五条、第二十七条,
and against the figures of the corpus's cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from search_api.calc import InvalidInput, LocalWage
from search_api.calc.severance import severance, unlawful_termination

AVG_10000 = LocalWage(D(10000), 2023, "示例区", "示例")


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2019-03-01", "2024-02-29", 5),  # exactly five years, both days counted
        ("2019-03-01", "2024-02-28", D("5")),  # 4 years 11 months 28 days: the remainder ≥ 6 months → a year
        ("2020-01-01", "2022-06-30", 3),  # 2 years 6 months: six months or more counts as a year
        ("2020-01-01", "2022-06-29", D("2.5")),  # 2 years 5 months 29 days: under six months → half a month
        ("2024-01-01", "2024-03-31", D("0.5")),  # three months in all → half a month
        ("2024-01-01", "2024-01-01", D("0.5")),  # one day is still "不满六个月"
        ("2020-01-01", "2020-12-31", 1),  # one full year
    ],
)
def test_a_month_per_year_and_the_six_month_rule(start, end, months):
    r = severance(d(start), d(end), D(7000))
    assert r.details["months"] == float(months)
    assert r.amount == D(7000) * D(months)
    assert r.articles[:3] == [
        "labor-contract-law.46",
        "labor-contract-law.47",
        "labor-contract-law-implementing-regulations.27",
    ]


def test_worked_example_steps_show_the_numbers():
    # 2016-07-01 to 2017-10-20 is 1 year 3 months 20 days → 1.5 months; 6,000 × 1.5 = 9,000
    r = severance(d("2016-07-01"), d("2017-10-20"), D(6000))
    assert r.amount == D("9000.00")
    text = "\n".join(r.steps)
    assert "1年3个月20天" in text and "1.5 个月" in text and "6,000.00 元 × 1.5 个月 = 9,000.00 元" in text
    assert r.summary == ["经济补偿：9,000.00 元（1.5 个月 × 6,000.00 元）"]


def test_above_three_times_the_average_the_wage_is_capped_and_the_years_at_twelve():
    # 16 years 6 months → 17 months; 40,000 > 3 × 10,000 → 30,000 × 12 = 360,000
    r = severance(d("2008-01-01"), d("2024-06-30"), D(40000), AVG_10000)
    assert r.amount == D(360000)
    assert r.details["capped"] is True and r.details["months"] == 12
    assert "30,000.00 元" in "\n".join(r.steps)


def test_capped_wage_with_fewer_than_twelve_years_keeps_the_years():
    # 5 years; 35,000 > 30,000 → 30,000 × 5
    r = severance(d("2015-01-01"), d("2019-12-31"), D(35000), AVG_10000)
    assert r.amount == D(150000) and r.details["months"] == 5


def test_exactly_three_times_is_not_above_it_so_no_cap():
    # "高于……三倍的": 30,000 is not higher than 30,000; 14 years stay 14
    r = severance(d("2010-01-01"), d("2023-12-31"), D(30000), AVG_10000)
    assert r.amount == D(420000) and r.details["capped"] is False


def test_without_the_local_average_the_cap_is_not_checked_and_the_result_says_so():
    r = severance(d("2010-01-01"), d("2023-12-31"), D(90000))
    assert r.amount == D(90000 * 14) and r.details["capped"] is False
    assert any("三倍" in n for n in r.notes)


def test_an_average_for_the_wrong_year_is_pointed_out():
    r = severance(d("2015-01-01"), d("2022-05-31"), D(8000), AVG_10000)  # ended 2022: needs the 2021 figure
    assert any("2021 年度" in n for n in r.notes)
    r = severance(d("2015-01-01"), d("2024-05-31"), D(8000), AVG_10000)
    assert not any("年度的" in n for n in r.notes)


def test_service_before_2008_is_counted_from_2008_and_reported_not_computed():
    # 2005-03-01..2024-06-30: counted from 2008-01-01 → 16 years 6 months → 17 × 8,000
    r = severance(d("2005-03-01"), d("2024-06-30"), D(8000))
    assert r.amount == D(136000)
    assert r.details["counted_from"] == "2008-01-01" and r.details["before_2008"] == "2年10个月"
    assert "labor-contract-law.97" in r.articles
    assert any("2008 年以前" in n and "没有计算" in n for n in r.notes)


def test_a_termination_before_2008_is_refused_naming_the_field():
    with pytest.raises(InvalidInput) as e:
        severance(d("2001-01-01"), d("2007-12-31"), D(5000))
    assert "end" in e.value.errors and "2008" in e.value.message


def test_end_before_start_is_refused():
    with pytest.raises(InvalidInput) as e:
        severance(d("2020-01-01"), d("2019-12-31"), D(5000))
    assert list(e.value.errors) == ["end"] and "（end）" in e.value.message


def test_below_the_minimum_wage_the_minimum_is_used():
    # 实施条例第二十七条: average 1,500 < minimum 2,000 → 2,000 × 1
    r = severance(d("2022-01-01"), d("2022-12-31"), D(1500), minimum_wage=D(2000))
    assert r.amount == D(2000)


def test_unlawful_termination_is_twice_and_counts_years_before_2008():
    # 实施条例第二十五条: from 用工之日: 2005-03-01..2024-06-30 = 19 years 4 months → 19.5; × 8,000 × 2
    r = unlawful_termination(d("2005-03-01"), d("2024-06-30"), D(8000))
    assert r.amount == D(312000)
    assert r.details["standard"] == 156000.0
    assert r.articles[0] == "labor-contract-law.87"
    assert "labor-contract-law-implementing-regulations.25" in r.articles


def test_unlawful_termination_applies_the_cap_to_the_standard():
    r = unlawful_termination(d("2008-01-01"), d("2024-06-30"), D(40000), AVG_10000)
    assert r.amount == D(720000)


# -- the corpus's cases ------------------------------------------------------------------


def test_guiding_case_180_damages_of_18989_46():
    # 孙贤锋: contract from 2016-07-01, dismissed from 2017-10-20; "前12个月的平均工资为6329.82元";
    # judgment: 违法解除 "经济赔偿金18989.46元" = 6,329.82 × 1.5 × 2
    r = unlawful_termination(d("2016-07-01"), d("2017-10-20"), D("6329.82"))
    assert r.amount == D("18989.46")


@pytest.mark.parametrize(("start", "end"), [("2018-09-01", "2020-06-01"), ("2018-09-30", "2020-07-31")])
def test_typical_case_refusing_extra_workload_damages_of_14000(start, end):
    # 张某: "2018年9月入职", "月工资3500元", dismissed for refusing the third quarter's extra work;
    # award "违法解除劳动合同赔偿金14000元" = 3,500 × 2 months × 2, whatever the exact days
    assert unlawful_termination(d(start), d(end), D(3500)).amount == D(14000)


def test_typical_case_refusing_illegal_overtime_damages_of_8000():
    # 张某: "2020年6月入职", "试用期月工资为8000元", dismissed "2个月后"; award 8000 = 8,000 × 0.5 × 2
    assert unlawful_termination(d("2020-06-01"), d("2020-08-01"), D(8000)).amount == D(8000)


def test_guiding_case_179_damages_are_three_months():
    # 聂美兰: 2016-04-08..2017-05-08 (1 year 1 month 1 day → 1.5 months, × 2 = 3); the judgment's 27711.51
    # is three times a monthly average of 9,237.17 (the case does not state the average itself)
    r = unlawful_termination(d("2016-04-08"), d("2017-05-08"), D("9237.17"))
    assert r.details["months"] == 1.5 and r.amount == D("27711.51")
