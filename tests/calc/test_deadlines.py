"""期限提醒: last days counted from the articles, and the caveats they state."""

from __future__ import annotations

import datetime as dt

import pytest

from search_api.calc.deadlines import KINDS, deadline


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("kind", "event", "last"),
    [
        ("arbitration", "2024-03-10", "2025-03-10"),  # one year (调解仲裁法第二十七条)
        ("arbitration", "2024-02-29", "2025-02-28"),  # no 29 February: the end of the month
        ("unpaid-wages", "2024-06-30", "2025-06-30"),
        ("work-injury", "2024-05-06", "2025-05-06"),  # the worker's one year (工伤保险条例第十七条第二款)
        ("lawsuit", "2024-12-20", "2025-01-04"),  # fifteen days (第四十八条、第五十条)
        ("inspection", "2022-01-15", "2024-01-15"),  # two years (劳动保障监察条例第二十条)
    ],
)
def test_last_day(kind, event, last):
    r = deadline(kind, d(event), today=d("2024-01-01"))
    assert r.date == d(last)
    assert r.articles == list(KINDS[kind].articles)


def test_arbitration_states_interruption_and_suspension():
    r = deadline("arbitration", d("2024-03-10"), today=d("2024-03-20"))
    notes = "\n".join(r.notes)
    assert "中断" in notes and "重新计算" in notes and "中止" in notes and "继续计算" in notes
    assert r.articles == ["labor-dispute-mediation-arbitration-law.27"]
    assert r.summary == ["请最迟在 2025-03-10（含当天）申请劳动仲裁"]
    assert r.details == {"kind": "arbitration", "days_left": 355, "expired": False}


def test_work_injury_gives_the_employer_30_days_and_the_worker_a_year():
    r = deadline("work-injury", d("2024-05-06"), today=d("2024-05-07"))
    steps = "\n".join(r.steps)
    assert "2024年6月5日" in steps and "2025年5月6日" in steps
    assert any("不计算在申请期限内" in n for n in r.notes)


def test_a_past_deadline_says_so_and_points_to_the_caveats():
    r = deadline("lawsuit", d("2024-01-01"), today=d("2024-02-01"))
    assert r.details["expired"] is True and r.details["days_left"] == -16
    assert "届满" in r.summary[0] and any("12351" in s for s in r.steps)


def test_today_is_the_last_day():
    r = deadline("lawsuit", d("2024-01-01"), today=d("2024-01-16"))
    assert r.details["days_left"] == 0 and "立即" in r.steps[-1]
