"""What every calculator shares: the result record, refusals that name the field, money and dates.

Amounts are ``Decimal`` throughout and rounded to the fen (ROUND_HALF_UP) once, at the end of
each part; a step shows the numbers it used. Dates are counted the way the articles word them:
``用工之日`` is the first day of the first month, so a period of N months that starts on
``start`` ends on the day before ``start + N months`` (python-dateutil's ``relativedelta``
clamps 1-31 + 1 month to the end of February, as the statutes' month ends do).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from search_api.errors import BadRequest

CENT = Decimal("0.01")
# 月计薪天数 = (365 - 104) ÷ 12 (劳社部发[2008]3号): statutory holidays are paid days, so the
# later change in their number does not move it.
PAID_DAYS_PER_MONTH = Decimal("21.75")
HOURS_PER_DAY = 8
WAGE_NOTICE = "monthly-working-days-and-wage-conversion-notice"
DISCLAIMER = (
    "本结果按你填写的数字和法律条文的一般规定计算，只供参考，不是法律意见，也不代表仲裁或法院的认定。"
    "实际金额取决于证据、当地标准和具体情况；需要帮助可拨打工会职工服务热线 12351。"
)


class InvalidInput(BadRequest):
    """Inputs a calculator cannot use; ``errors`` maps each parameter name to a Chinese message,
    and the message is the first of them."""

    def __init__(self, name: str, message: str, more: dict[str, str] | None = None):
        super().__init__(message, errors={name: message, **(more or {})})


@dataclass
class Result:
    """One calculation: the answer (``amount``, ``days`` or ``date``), how it was reached, and on what."""

    name: str  # the calculator, e.g. "severance"
    title: str  # 经济补偿
    summary: list[str]  # the answer in a line or two of plain Chinese, figures included
    inputs: list[tuple[str, str]]  # (label, value as shown) in form order
    formula: str
    steps: list[str]
    articles: list[str]  # document ids, <law file stem>.<article number> or a whole document's stem
    notes: list[str] = field(default_factory=list)
    amount: Decimal | None = None
    days: int | None = None
    date: dt.date | None = None
    details: dict[str, Any] = field(default_factory=dict)  # further figures, JSON-ready
    disclaimer: str = DISCLAIMER

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"calculator": self.name, "title": self.title, "summary": self.summary}
        if self.amount is not None:
            out["amount"] = float(self.amount)
        if self.days is not None:
            out["days"] = self.days
        if self.date is not None:
            out["date"] = self.date.isoformat()
        out.update(
            inputs=[{"label": label, "value": value} for label, value in self.inputs],
            formula=self.formula,
            steps=self.steps,
            articles=self.articles,
            notes=self.notes,
            details=self.details,
            disclaimer=self.disclaimer,
        )
        return out


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def yuan(value: Decimal) -> str:
    """12345.6 → ``12,345.60 元``."""
    return f"{cents(value):,.2f} 元"


def num(value: Decimal | int | float) -> str:
    """A count as written in a step: 1.5, 12, 0.5 (no trailing zeros)."""
    d = Decimal(str(value)).normalize()
    return f"{d:f}"


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def span(delta: relativedelta) -> str:
    """relativedelta(years=1, months=3, days=20) → 1年3个月20天 (zero parts left out)."""
    parts = [(delta.years, "年"), (delta.months, "个月"), (delta.days, "天")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0天"


def length(first: dt.date, last: dt.date) -> relativedelta:
    """Whole years, months and days from ``first`` to ``last``, both days included."""
    return relativedelta(last + dt.timedelta(days=1), first)


def paid_days(first: dt.date, stop: dt.date) -> int:
    """Monday-to-Friday days in [first, stop): the days 21.75 counts (weekends are the 104 rest days)."""
    total = (stop - first).days
    if total <= 0:
        return 0
    weeks, rest = divmod(total, 7)
    start_weekday = first.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (start_weekday + i) % 7 < 5)


def require(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise InvalidInput(name, message)
