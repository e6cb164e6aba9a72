"""工伤 disability benefits by grade: 一次性伤残补助金 and 伤残津贴 (工伤保险条例第三十五条至第三十七条).

本人工资 is the average monthly contribution wage of the 12 months before the injury; with the
average wage of the 统筹地区 it is kept between 60 % and 300 % of it (第六十四条第二款). Not
computed: the one-off medical and employment subsidies of 五至十级 on leaving (their amounts are
set by each province), nursing allowances, and benefits on death.
"""

from __future__ import annotations

from decimal import Decimal

from search_api.calc.base import Result, cents, yuan
from search_api.calc.local_wages import LocalWage

SUBSIDY_MONTHS = {1: 27, 2: 25, 3: 23, 4: 21, 5: 18, 6: 16, 7: 13, 8: 11, 9: 9, 10: 7}
ALLOWANCE_PERCENT = {1: 90, 2: 85, 3: 80, 4: 75, 5: 70, 6: 60}
FLOOR, CEILING = Decimal("0.6"), Decimal(3)


def _article(grade: int) -> str:
    return f"work-injury-insurance-regulations.{35 if grade <= 4 else 36 if grade <= 6 else 37}"


def _own_wage(wage: Decimal, local: LocalWage | None, steps: list[str], notes: list[str]) -> Decimal:
    if local is None:
        steps.append(f"本人工资（受伤前 12 个月平均月缴费工资）：{yuan(wage)}。")
        notes.append(
            "没有填写统筹地区职工平均工资，未按第六十四条核对：本人工资高于它的 300% 按 300% 算，低于 60% 按 60% 算。"
        )
        return wage
    low, high = cents(local.monthly_avg_wage * FLOOR), cents(local.monthly_avg_wage * CEILING)
    if wage > high:
        steps.append(f"本人工资 {yuan(wage)} 高于 {local.describe()} 的 300%（{yuan(high)}），按 {yuan(high)} 计算。")
        return high
    if wage < low:
        steps.append(f"本人工资 {yuan(wage)} 低于 {local.describe()} 的 60%（{yuan(low)}），按 {yuan(low)} 计算。")
        return low
    steps.append(
        f"本人工资 {yuan(wage)}，在 {local.describe()} 的 60%（{yuan(low)}）至 300%（{yuan(high)}）之间，照实计算。"
    )
    return wage


def work_injury(
    grade: int, monthly_wage: Decimal, local: LocalWage | None = None, minimum_wage: Decimal | None = None
) -> Result:
    """一次性伤残补助金 for ``grade`` (1..10) and, for 一至六级, the monthly 伤残津贴."""
    steps: list[str] = []
    notes: list[str] = []
    wage = _own_wage(monthly_wage, local, steps, notes)
    months = SUBSIDY_MONTHS[grade]
    amount = cents(wage * months)
    steps.append(
        f"一次性伤残补助金：{grade} 级伤残为 {months} 个月的本人工资，"
        f"{yuan(wage)} × {months} = {yuan(amount)}（由工伤保险基金支付）。"
    )
    allowance = None
    percent = ALLOWANCE_PERCENT.get(grade)
    if percent is not None:
        allowance = cents(wage * percent / 100)
        payer = "工伤保险基金按月支付" if grade <= 4 else "用人单位难以安排工作时按月发给"
        steps.append(
            f"伤残津贴（{payer}）：本人工资的 {percent}%，{yuan(wage)} × {percent}% = {yuan(allowance)} / 月。"
        )
        if minimum_wage is not None and allowance < minimum_wage:
            steps.append(f"伤残津贴低于当地最低工资标准 {yuan(minimum_wage)}，补足到 {yuan(minimum_wage)} / 月。")
            allowance = minimum_wage
    if grade <= 4:
        notes.append(
            "一至四级：保留劳动关系，退出工作岗位；达到退休年龄办理退休后停发伤残津贴，享受基本养老保险待遇，低于伤残津贴的由工伤保险基金补足差额。"
        )
    elif grade <= 6:
        notes.append(
            "五、六级：保留劳动关系，由用人单位安排适当工作；本人提出解除或终止劳动关系的，还有一次性工伤医疗补助金和一次性伤残就业补助金，标准由省级人民政府规定，本计算器未计算。"
        )
    else:
        notes.append(
            "七至十级：没有伤残津贴；劳动合同期满终止或本人提出解除的，还有一次性工伤医疗补助金和一次性伤残就业补助金，标准由省级人民政府规定，本计算器未计算。"
        )
    notes.append("伤残等级由劳动能力鉴定委员会鉴定；先要申请工伤认定（见“期限提醒”）。")
    inputs = [("伤残等级", f"{grade} 级"), ("本人工资", yuan(monthly_wage))]
    if local is not None:
        inputs.append(("统筹地区职工月平均工资", local.describe()))
    if minimum_wage is not None:
        inputs.append(("当地最低工资标准", yuan(minimum_wage)))
    return Result(
        name="work-injury",
        title="工伤伤残待遇",
        summary=[f"一次性伤残补助金：{yuan(amount)}"]
        + ([f"伤残津贴：{yuan(allowance)} / 月"] if allowance is not None else []),
        inputs=inputs,
        formula="一次性伤残补助金 = 本人工资 × 按等级的月数（一级27 … 十级7）；"
        "伤残津贴 = 本人工资 × 按等级的比例（一级90% … 六级60%）",
        steps=steps,
        articles=[_article(grade), "work-injury-insurance-regulations.64"],
        notes=notes,
        amount=amount,
        details={
            "grade": grade,
            "months": months,
            "own_wage_used": float(wage),
            "monthly_allowance": float(allowance) if allowance is not None else None,
        },
    )
