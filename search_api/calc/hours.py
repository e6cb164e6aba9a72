"""加班费 (劳动法第四十四条) and 年休假 (职工带薪年休假条例第三条, 企业职工带薪年休假实施办法第十条、第十一条).

Both turn a monthly wage into a daily or hourly one as the 21.75-day notice does: daily wage =
monthly wage ÷ 21.75, hourly wage = monthly wage ÷ (21.75 × 8).
"""

from __future__ import annotations

from decimal import Decimal

from search_api.calc.base import HOURS_PER_DAY, PAID_DAYS_PER_MONTH, WAGE_NOTICE, Result, cents, num, yuan

# (parameter, label, rate, article text) in the order of 劳动法第四十四条
OVERTIME_KINDS = (
    ("workday_hours", "工作日延长工作时间", Decimal("1.5"), "第四十四条第一项：不低于工资的 150%"),
    ("restday_hours", "休息日工作且未安排补休", Decimal(2), "第四十四条第二项：不低于工资的 200%"),
    ("holiday_hours", "法定休假日工作", Decimal(3), "第四十四条第三项：不低于工资的 300%"),
)
# 职工带薪年休假条例第三条: (years of service at least, days)
LEAVE_DAYS = ((20, 15), (10, 10), (1, 5))


def overtime(
    monthly_wage: Decimal, workday_hours=Decimal(0), restday_hours=Decimal(0), holiday_hours=Decimal(0)
) -> Result:
    """Overtime pay for the hours given, at the minimum rates of 劳动法第四十四条."""
    hours = {"workday_hours": workday_hours, "restday_hours": restday_hours, "holiday_hours": holiday_hours}
    hourly = cents(monthly_wage / (PAID_DAYS_PER_MONTH * HOURS_PER_DAY))
    steps = [f"小时工资 = 月工资 {yuan(monthly_wage)} ÷ (21.75 天 × 8 小时) = {yuan(hourly)}（保留两位小数）。"]
    parts: dict[str, float] = {}
    amount = Decimal(0)
    for name, label, rate, rule in OVERTIME_KINDS:
        h = hours[name] or Decimal(0)
        part = cents(hourly * rate * h)
        parts[name] = float(part)
        amount += part
        if h:
            steps.append(f"{label} {num(h)} 小时 × {yuan(hourly)} × {num(rate * 100)}% = {yuan(part)}（{rule}）。")
    if not amount:
        steps.append("没有填写加班小时数，加班费为 0。")
    steps.append(f"加班费合计：{yuan(amount)}。")
    return Result(
        name="overtime",
        title="加班费",
        summary=[f"加班费：{yuan(amount)}"],
        inputs=[("月工资", yuan(monthly_wage))]
        + [(label, f"{num(hours[name] or 0)} 小时") for name, label, _, _ in OVERTIME_KINDS],
        formula="加班费 = 小时工资 ×（工作日加班小时 × 150% + 休息日加班小时 × 200% + 法定休假日加班小时 × 300%），"
        "小时工资 = 月工资 ÷ 21.75 ÷ 8",
        steps=steps,
        articles=["labor-law.44", "wage-payment-interim-provisions.13", WAGE_NOTICE],
        notes=[
            "这些比例是法律规定的最低标准，合同或公司规定更高的按更高的算。",
            "休息日加班公司安排了补休的，可以不付 200% 的加班费。",
            "计算基数一般是劳动合同约定的本人工资（工资支付暂行规定第十三条），不能低于当地最低工资标准；约定不明的各地做法不一。",
            "经批准实行不定时工作制的不适用；综合计算工时制下超过法定标准的部分按工作日延长工作时间计算。",
            "延长工作时间一般每日不超过一小时，特殊原因每日不超过三小时、每月不超过三十六小时（劳动法第四十一条）。",
        ],
        amount=amount,
        details={"hourly_wage": float(hourly), "parts": parts},
    )


def annual_leave(service_years: Decimal, unused_days: int | None = None, monthly_wage: Decimal | None = None) -> Result:
    """Leave days for the years worked in all (条例第三条); pay for unused days at 300% (实施办法第十条)."""
    years = Decimal(service_years)
    days = next((d for least, d in LEAVE_DAYS if years >= least), 0)
    steps = [
        f"累计工作年限 {num(years)} 年："
        + (
            f"年休假 {days} 天（已满 1 年不满 10 年 5 天，满 10 年不满 20 年 10 天，满 20 年 15 天）。"
            if days
            else "不满 1 年，没有年休假。"
        )
    ]
    notes = [
        "累计工作年限包括在不同单位的工作时间（实施办法第四条）；连续工作满 12 个月以上才享受（实施办法第三条）。",
        "新进单位的当年、以及年中离职的，年休假按当年在本单位的日历天数折算，不足 1 天的不算"
        "（实施办法第五条、第十二条）；本计算器按全年计算。",
        "国家法定休假日、休息日不计入年休假（条例第三条第二款）。",
    ]
    articles = ["paid-annual-leave-regulations.3", "enterprise-paid-annual-leave-implementing-measures.4"]
    details: dict = {"leave_days": days}
    amount = None
    summary = [f"每年带薪年休假：{days} 天"]
    inputs = [("累计工作年限", f"{num(years)} 年")]
    if unused_days is not None and monthly_wage is None:
        inputs.append(("应休未休天数", f"{unused_days} 天"))
        notes.append("要计算未休年休假的工资报酬，请同时填写月工资。")
    elif unused_days is not None and monthly_wage is not None:
        inputs += [("应休未休天数", f"{unused_days} 天"), ("月工资", yuan(monthly_wage))]
        counted = min(unused_days, days)
        if counted < unused_days:
            steps.append(
                f"未休 {unused_days} 天超过法定的 {days} 天，按法定的 {counted} 天计算；"
                "合同或公司规定更多的，按其约定。"
            )
        daily = cents(monthly_wage / PAID_DAYS_PER_MONTH)
        total = daily * 3 * counted
        normal = daily * counted
        amount = total - normal
        steps += [
            f"日工资 = 月工资 {yuan(monthly_wage)} ÷ 21.75 = {yuan(daily)}（保留两位小数，实施办法第十一条）。",
            f"未休年休假工资报酬 = {yuan(daily)} × 300% × {counted} 天 = {yuan(total)}，"
            f"其中包含已发的正常工资 {yuan(normal)}。",
            f"公司还应另付 200%：{yuan(total)} − {yuan(normal)} = {yuan(amount)}。",
        ]
        notes += [
            "月工资指支付前 12 个月剔除加班工资后的月平均工资，不满 12 个月按实际月份平均（实施办法第十一条）。",
            "你因本人原因书面提出不休年休假的，公司可以只付正常工资，没有另付的 200%（实施办法第十条第二款）。",
        ]
        articles += [
            "enterprise-paid-annual-leave-implementing-measures.10",
            "enterprise-paid-annual-leave-implementing-measures.11",
            WAGE_NOTICE,
        ]
        summary.append(f"未休 {counted} 天，公司应另付（200%）：{yuan(amount)}")
        details.update(counted_days=counted, daily_wage=float(daily), total_300=float(total), normal_100=float(normal))
    return Result(
        name="annual-leave",
        title="带薪年休假",
        summary=summary,
        inputs=inputs,
        formula="年休假天数按累计工作年限：满1年不满10年5天，满10年不满20年10天，满20年15天；"
        "未休的另付 日工资 × 200% × 未休天数（连同已发的正常工资共 300%），日工资 = 月工资 ÷ 21.75",
        steps=steps,
        articles=articles,
        notes=notes,
        amount=amount,
        days=days,
        details=details,
    )
