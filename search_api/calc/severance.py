"""经济补偿 (劳动合同法第四十七条) and 违法解除的赔偿金 (第八十七条, 实施条例第二十五条).

The service counted runs from ``start`` (用工之日) to ``end`` (the day the contract was ended),
both days included. For severance, service before 2008-01-01 is left to the rules of its time
(第九十七条第三款) and not computed here; the result says how much of it there was. The damages
of 第八十七条 count from ``start`` whatever the year (实施条例第二十五条).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from search_api.calc.base import Result, cents, cn_date, length, num, require, span, yuan
from search_api.calc.local_wages import LocalWage

LAW_START = dt.date(2008, 1, 1)  # 劳动合同法第九十八条
CAP_TIMES = 3
CAP_YEARS = 12


def months_for(first: dt.date, last: dt.date, steps: list[str]) -> Decimal:
    """第四十七条第一款: a month per full year; six months or more → a year; under six → half a month."""
    service = length(first, last)
    full = Decimal(service.years)
    remainder = span(relativedelta(months=service.months, days=service.days))
    if service.months >= 6:
        extra, why = Decimal(1), f"剩余 {remainder}，满六个月，按一年计算"
    elif service.months or service.days:
        extra, why = Decimal("0.5"), f"剩余 {remainder}，不满六个月，按半个月计算"
    else:
        extra, why = Decimal(0), "没有零头"
    steps.append(
        f"工作年限：{cn_date(first)} 至 {cn_date(last)}（两头都算），共 {span(service)}。"
        f"满 {service.years} 年计 {service.years} 个月；{why}；合计 {num(full + extra)} 个月工资。"
    )
    return full + extra


def _monthly_wage(wage: Decimal, minimum: Decimal | None, steps: list[str]) -> Decimal:
    if minimum is not None and wage < minimum:
        steps.append(
            f"月工资 {yuan(wage)} 低于当地最低工资标准 {yuan(minimum)}，按最低工资标准计算（实施条例第二十七条）。"
        )
        return minimum
    steps.append(f"月工资（解除或终止前 12 个月的平均应得工资）：{yuan(wage)}。")
    return wage


def _apply_cap(
    wage: Decimal, months: Decimal, local: LocalWage | None, end: dt.date, steps: list[str], notes: list[str]
) -> tuple[Decimal, Decimal, bool]:
    """第四十七条第二款: above three times the local average, the wage is capped and the years at twelve."""
    if local is None:
        steps.append("没有填写当地上年度职工月平均工资，未核对三倍封顶。")
        notes.append(
            "如果你的月工资高于当地上年度职工月平均工资的三倍，经济补偿按平均工资的三倍计算、最多算十二年，"
            "实际金额会比这里低。填写当地平均工资即可核对。"
        )
        return wage, months, False
    cap = local.monthly_avg_wage * CAP_TIMES
    if local.year is not None and local.year != end.year - 1:
        notes.append(
            f"所用平均工资是 {local.year} 年度的；合同在 {end.year} 年解除或终止，"
            f"条文说的是“上年度”，应当用 {end.year - 1} 年度的数字。"
        )
    if wage <= cap:
        steps.append(f"三倍封顶线：{local.describe()} × 3 = {yuan(cap)}；月工资未超过，不封顶。")
        return wage, months, False
    capped_months = min(months, Decimal(CAP_YEARS))
    steps.append(
        f"三倍封顶线：{local.describe()} × 3 = {yuan(cap)}；月工资高于它，按 {yuan(cap)} 计算，"
        f"年限最多 {CAP_YEARS} 年：{num(months)} 个月 → {num(capped_months)} 个月。"
    )
    return cap, capped_months, True


@dataclass
class _Standard:
    """The 第四十七条 standard both results build on: the wage and months used, and how they were found."""

    wage: Decimal
    months: Decimal
    capped: bool
    steps: list[str]
    notes: list[str]
    inputs: list[tuple[str, str]]


def _standard(
    start: dt.date,
    end: dt.date,
    monthly_wage: Decimal,
    local: LocalWage | None,
    minimum_wage: Decimal | None,
    counted_from: dt.date,
    steps: list[str],
    notes: list[str],
) -> _Standard:
    months = months_for(counted_from, end, steps)
    wage = _monthly_wage(monthly_wage, minimum_wage, steps)
    wage, months, capped = _apply_cap(wage, months, local, end, steps, notes)
    inputs = [("入职日期", cn_date(start)), ("解除或终止日期", cn_date(end)), ("月工资", yuan(monthly_wage))]
    if local is not None:
        inputs.append(("当地上年度职工月平均工资", local.describe()))
    if minimum_wage is not None:
        inputs.append(("当地最低工资标准", yuan(minimum_wage)))
    return _Standard(wage, months, capped, steps, notes, inputs)


def severance(
    start: dt.date,
    end: dt.date,
    monthly_wage: Decimal,
    local: LocalWage | None = None,
    minimum_wage: Decimal | None = None,
) -> Result:
    """经济补偿 under 第四十七条 for service from 2008-01-01 on; earlier service is reported, not computed."""
    require(start <= end, "end", "解除或终止日期（end）不能早于入职日期（start）")
    require(
        end >= LAW_START,
        "end",
        "解除或终止日期（end）在 2008 年 1 月 1 日劳动合同法施行之前，应按当时的规定计算，本计算器不适用",
    )
    steps: list[str] = []
    notes = [
        "只有劳动合同法第四十六条列出的情形才有经济补偿，例如：公司提出并协商一致解除、公司有过错你被迫辞职、"
        "公司依第四十条或裁员解除、合同到期公司不续签（公司降低条件你不续签也算）。你自己主动辞职一般没有。",
        "公司违法解除的，可以要求赔偿金（经济补偿的二倍），两者不能同时拿，见“违法解除赔偿金”计算器。",
    ]
    articles = ["labor-contract-law.46", "labor-contract-law.47", "labor-contract-law-implementing-regulations.27"]
    before = None
    if start < LAW_START:
        before = length(start, LAW_START - dt.timedelta(days=1))
        steps.append(
            f"{cn_date(start)} 至 2007年12月31日 的 {span(before)} 在劳动合同法施行之前，"
            "经济补偿年限自 2008年1月1日 起计算（劳动合同法第九十七条第三款）。"
        )
        notes.append(
            f"2008 年以前的 {span(before)}：如果按当时的规定公司也应当支付经济补偿（例如公司提出协商解除），"
            "这一段按当时的规定另行计算，本计算器没有计算这一部分，实际可得可能更多。可以咨询工会或法律援助。"
        )
        articles.append("labor-contract-law.97")
    counted_from = max(start, LAW_START)
    std = _standard(start, end, monthly_wage, local, minimum_wage, counted_from, steps, notes)
    amount = cents(std.wage * std.months)
    steps.append(f"经济补偿 = {yuan(std.wage)} × {num(std.months)} 个月 = {yuan(amount)}。")
    notes.append(
        "月工资包括计时或计件工资以及奖金、津贴和补贴等货币性收入，按应得工资（税前）计算；"
        "工作不满 12 个月的，按实际工作月数平均。"
    )
    return Result(
        name="severance",
        title="经济补偿",
        summary=[f"经济补偿：{yuan(amount)}（{num(std.months)} 个月 × {yuan(std.wage)}）"],
        inputs=std.inputs,
        formula="经济补偿 = 月工资 × 工作年限折算的月数（每满一年一个月；六个月以上按一年；不满六个月半个月）",
        steps=steps,
        articles=articles,
        notes=notes,
        amount=amount,
        details={
            "months": float(std.months),
            "monthly_wage_used": float(std.wage),
            "capped": std.capped,
            "end": end.isoformat(),
            "counted_from": counted_from.isoformat(),
            "before_2008": span(before) if before else None,
        },
    )


def unlawful_termination(
    start: dt.date,
    end: dt.date,
    monthly_wage: Decimal,
    local: LocalWage | None = None,
    minimum_wage: Decimal | None = None,
) -> Result:
    """赔偿金 = twice the 第四十七条 standard, the years counted from 用工之日 (实施条例第二十五条)."""
    require(start <= end, "end", "解除或终止日期（end）不能早于入职日期（start）")
    steps: list[str] = []
    if start < LAW_START:
        steps.append("赔偿金的计算年限自用工之日起计算（实施条例第二十五条），2008 年以前的工作年限也计算在内。")
    notes = [
        "赔偿金适用于公司违法解除或者终止劳动合同、你不要求继续履行（或者已经不能继续履行）的情形"
        "（劳动合同法第四十八条）；你也可以要求恢复劳动关系、继续履行合同。",
        "拿了赔偿金就不再同时拿经济补偿（实施条例第二十五条）。",
    ]
    std = _standard(start, end, monthly_wage, local, minimum_wage, start, steps, notes)
    standard = cents(std.wage * std.months)
    amount = cents(std.wage * std.months * 2)
    steps.append(f"经济补偿标准 = {yuan(std.wage)} × {num(std.months)} 个月 = {yuan(standard)}。")
    steps.append(f"赔偿金 = 经济补偿标准的二倍 = {yuan(std.wage)} × {num(std.months)} 个月 × 2 = {yuan(amount)}。")
    return Result(
        name="unlawful-termination",
        title="违法解除劳动合同赔偿金",
        summary=[f"赔偿金：{yuan(amount)}（{num(std.months)} 个月 × {yuan(std.wage)} × 2）"],
        inputs=std.inputs,
        formula="赔偿金 = 经济补偿标准 × 2（经济补偿标准 = 月工资 × 工作年限折算的月数，年限自用工之日起算）",
        steps=steps,
        articles=[
            "labor-contract-law.87",
            "labor-contract-law.48",
            "labor-contract-law.47",
            "labor-contract-law-implementing-regulations.25",
            "labor-contract-law-implementing-regulations.27",
        ],
        notes=notes,
        amount=amount,
        details={
            "months": float(std.months),
            "monthly_wage_used": float(std.wage),
            "capped": std.capped,
            "standard": float(standard),
            "end": end.isoformat(),
        },
    )
