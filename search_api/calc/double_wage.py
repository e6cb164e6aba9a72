"""未订立书面劳动合同的二倍工资 (劳动合同法第八十二条第一款, 实施条例第六条、第七条).

The extra wage runs from the day after the first month of work is complete (``start`` + 1 month)
to the day before the contract was signed, and never past the day before the first anniversary,
from which an open-ended contract is deemed signed (第十四条第三款): at most eleven months. It
also stops when the worker left (``end``) and, while nothing is signed, today. The judgment in
指导案例179号 counts the same way: work from 2016-04-08, double wage 2016-05-08 to 2017-04-07.

Whole months are paid at the monthly wage; the days of a last, partial month at the daily wage
(monthly wage ÷ 21.75) for each Monday-to-Friday day, as the 21.75-day notice converts a monthly
wage. Not implemented: 第八十二条第二款 (no open-ended contract where one was due).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from search_api.calc.base import (
    PAID_DAYS_PER_MONTH,
    WAGE_NOTICE,
    Result,
    cents,
    cn_date,
    num,
    paid_days,
    require,
    span,
    yuan,
)

ONE_DAY = dt.timedelta(days=1)


def double_wage(
    start: dt.date,
    signed: dt.date | None,
    monthly_wage: Decimal,
    end: dt.date | None = None,
    today: dt.date | None = None,
) -> Result:
    """The extra (second) wage owed for the months without a written contract."""
    today = today or dt.date.today()
    if end is not None:
        require(end >= start, "end", "离职日期（end）不能早于入职日期（start）")
    first = start + relativedelta(months=1)  # 用工之日起满一个月的次日
    anniversary = start + relativedelta(years=1)  # the day after 满一年的前一日
    candidates = [(anniversary, "anniversary")]
    if signed is not None:
        candidates.append((max(signed, first), "signed"))
    if end is not None:
        candidates.append((end + ONE_DAY, "left"))
    if signed is None and end is None:
        candidates.append((today + ONE_DAY, "today"))
    stop, why = min(candidates)
    steps = [f"入职（用工之日）：{cn_date(start)}；满一个月的次日 {cn_date(first)} 起算二倍工资（实施条例第六条）。"]
    notes = [
        "这里算的是公司在已发的正常工资之外还应当另付的一倍工资（二倍工资差额）。",
        "申请仲裁要注意时效：一年，从知道或者应当知道权利被侵害之日起计算；二倍工资的时效从哪天起算各地做法不一，请尽早申请。",
    ]
    articles = ["labor-contract-law.82", "labor-contract-law-implementing-regulations.6"]
    steps.append(_stop_step(why, stop, today))
    if why == "anniversary":
        deemed = anniversary - ONE_DAY
        notes.append(
            f"用工满一年仍未订立书面合同的，自 {cn_date(deemed)} 起视为已与你订立无固定期限劳动合同，公司应当立即补订；"
            "这之后不再有二倍工资（实施条例第七条，劳动合同法第十四条第三款）。"
        )
        articles += ["labor-contract-law-implementing-regulations.7", "labor-contract-law.14"]
    if stop <= first:
        steps.append("在用工之日起一个月内订立了书面合同（或劳动关系不满一个月），没有二倍工资。")
        months, days, workdays, amount = 0, 0, 0, Decimal(0)
    else:
        period = relativedelta(stop, first)
        months = period.years * 12 + period.months
        tail = first + relativedelta(months=months)
        workdays = paid_days(tail, stop)
        days = (stop - tail).days
        monthly_part = monthly_wage * months
        daily = cents(monthly_wage / PAID_DAYS_PER_MONTH)
        daily_part = daily * workdays
        amount = cents(monthly_part) + daily_part
        steps.append(
            f"二倍工资期间：{cn_date(first)} 至 {cn_date(stop - ONE_DAY)}，共 {span(period)}（最多 11 个月）。"
        )
        steps.append(f"整月部分：{yuan(monthly_wage)} × {months} 个月 = {yuan(monthly_part)}。")
        if days:
            steps.append(
                f"不足一个月的 {days} 天（{cn_date(tail)} 起）中有 {workdays} 个计薪日（周一至周五）："
                f"日工资 {yuan(monthly_wage)} ÷ {num(PAID_DAYS_PER_MONTH)} = {yuan(daily)}（保留两位小数），"
                f"× {workdays} 天 = {yuan(daily_part)}。"
            )
            articles.append(WAGE_NOTICE)
        steps.append(f"二倍工资差额（另付的一倍）合计：{yuan(amount)}。")
    return Result(
        name="double-wage",
        title="未签书面劳动合同的二倍工资",
        summary=[f"二倍工资差额（公司另付的一倍）：{yuan(amount)}"],
        inputs=[
            ("入职日期", cn_date(start)),
            ("签订书面合同日期", cn_date(signed) if signed else "没有签"),
            ("月工资", yuan(monthly_wage)),
            *([("离职日期", cn_date(end))] if end else []),
        ],
        formula="二倍工资差额 = 月工资 × 整月数 + 日工资（月工资 ÷ 21.75）× 零头的计薪日数；"
        "期间从入职满一个月的次日到签合同的前一日，最多 11 个月",
        steps=steps,
        articles=articles,
        notes=notes,
        amount=amount,
        details={
            "months": months,
            "extra_days": days,
            "extra_paid_days": workdays,
            "period_start": first.isoformat() if amount else None,
            "period_end": (stop - ONE_DAY).isoformat() if amount else None,
            "total_with_normal_wage": float(amount * 2),
        },
    )


def _stop_step(why: str, stop: dt.date, today: dt.date) -> str:
    if why == "signed":
        return "签订书面合同后不再有二倍工资，算到签订的前一日（实施条例第六条第二款）。"
    if why == "left":
        return f"离职：{cn_date(stop - ONE_DAY)}，二倍工资算到离职当日。"
    if why == "today":
        return f"至今（{cn_date(today)}）仍未签订，算到今天；以后每多一个月还会增加，最多到满一年。"
    return f"满一年的前一日（{cn_date(stop - ONE_DAY)}）为止，最多 11 个月（实施条例第七条）。"
