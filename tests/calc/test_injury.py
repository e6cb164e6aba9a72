"""工伤伤残待遇 by grade, worked by hand from 工伤保险条例第三十五条至第三十七条 and 第六十四条."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from search_api.calc import LocalWage
from search_api.calc.injury import work_injury


@pytest.mark.parametrize(
    ("grade", "months", "percent", "article"),
    [
        (1, 27, 90, 35),
        (2, 25, 85, 35),
        (3, 23, 80, 35),
        (4, 21, 75, 35),
        (5, 18, 70, 36),
        (6, 16, 60, 36),
        (7, 13, None, 37),
        (8, 11, None, 37),
        (9, 9, None, 37),
        (10, 7, None, 37),
    ],
)
def test_subsidy_months_and_allowance_by_grade(grade, months, percent, article):
    r = work_injury(grade, D(5000))
    assert r.amount == D(5000 * months)
    expected = float(5000 * percent / 100) if percent else None
    assert r.details["monthly_allowance"] == expected
    assert r.articles == [f"work-injury-insurance-regulations.{article}", "work-injury-insurance-regulations.64"]


def test_own_wage_is_held_between_60_and_300_percent_of_the_area_average():
    avg = LocalWage(D(8000))
    # 30,000 > 300 % of 8,000 = 24,000 → 24,000 × 13 (grade 7)
    assert work_injury(7, D(30000), avg).amount == D(312000)
    # 3,000 < 60 % of 8,000 = 4,800 → 4,800 × 9 (grade 9)
    assert work_injury(9, D(3000), avg).amount == D(43200)
    # in between: as it is
    assert work_injury(10, D(6000), avg).amount == D(42000)


def test_allowance_below_the_minimum_wage_is_made_up():
    # grade 4: 2,000 × 75 % = 1,500 < 2,200 → 2,200
    r = work_injury(4, D(2000), minimum_wage=D(2200))
    assert r.details["monthly_allowance"] == 2200.0
    assert r.summary == ["一次性伤残补助金：42,000.00 元", "伤残津贴：2,200.00 元 / 月"]
