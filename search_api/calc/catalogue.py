"""Each calculator once: its name (the URL part), title, inputs, and how raw query values become a result.

The JSON API, the forms and the OpenAPI description are all built from this list, so a field
is described, parsed and refused the same way everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ingest.normalise import normalise
from search_api.calc.base import InvalidInput, Result
from search_api.calc.deadlines import KIND_CHOICES, deadline
from search_api.calc.double_wage import double_wage
from search_api.calc.fields import Field, parse_all
from search_api.calc.hours import annual_leave, overtime
from search_api.calc.injury import work_injury
from search_api.calc.local_wages import LocalWage
from search_api.calc.severance import severance, unlawful_termination


@dataclass(frozen=True)
class Context:
    """What a calculation may need beyond its inputs: the configured local wages and today's date."""

    local_wages: Mapping[str, LocalWage]
    today: dt.date


@dataclass(frozen=True)
class Calculator:
    name: str
    title: str
    summary: str  # one line for the index page and the API description
    fields: tuple[Field, ...]
    compute: Callable[[dict[str, Any], Context], Result]
    uses_local_wage: bool = False

    def run(self, params: Mapping[str, str], context: Context) -> Result:
        """Parse ``params`` (raw query values) and compute; InvalidInput names any refused field."""
        return self.compute(parse_all(self.fields, params), context)


WAGE_HINT = "解除或终止前 12 个月的平均应得工资（税前），包括奖金、津贴和补贴；不满 12 个月按实际月数平均"
LOCAL_FIELDS = (
    Field(
        "local_avg_wage",
        "当地上年度职工月平均工资（元）",
        "money",
        hint="市人民政府公布；只有月工资高于它的三倍时才影响结果，不知道可以留空",
    ),
    Field("district", "所在区（用工会配置的平均工资）", "text", hint="填了平均工资就不用选"),
    Field("minimum_wage", "当地最低工资标准（元/月）", "money", hint="月工资低于它时按它计算，可以留空"),
)
DATES = (
    Field("start", "入职日期（用工之日）", "date", required=True, hint="例如 2020-03-01"),
    Field("end", "解除或终止日期", "date", required=True, hint="最后一天在职的日期，例如 2024-06-30"),
    Field("monthly_wage", "月工资（元）", "money", required=True, hint=WAGE_HINT),
)


def local_wage(values: dict[str, Any], context: Context, name: str = "local_avg_wage") -> LocalWage | None:
    """The typed figure wins; otherwise the configured district's; otherwise none."""
    if values.get(name) is not None:
        return LocalWage(values[name])
    district = values.get("district")
    if not district:
        return None
    # the traditional-character view converts the form's option values too: match 市南區 to 市南区
    found = context.local_wages.get(district) or next(
        (w for name, w in context.local_wages.items() if normalise(name) == normalise(district)), None
    )
    if found is None:
        known = "、".join(context.local_wages) or "没有配置任何区"
        raise InvalidInput(
            "district", f"所在区（district）没有配置平均工资：{district}（已配置：{known}），请直接填写平均工资"
        )
    return found


def _severance(values: dict[str, Any], context: Context) -> Result:
    return severance(
        values["start"], values["end"], values["monthly_wage"], local_wage(values, context), values["minimum_wage"]
    )


def _unlawful(values: dict[str, Any], context: Context) -> Result:
    return unlawful_termination(
        values["start"], values["end"], values["monthly_wage"], local_wage(values, context), values["minimum_wage"]
    )


def _double_wage(values: dict[str, Any], context: Context) -> Result:
    return double_wage(values["start"], values["signed"], values["monthly_wage"], values["end"], context.today)


def _overtime(values: dict[str, Any], context: Context) -> Result:
    hours = {k: values[k] or Decimal(0) for k in ("workday_hours", "restday_hours", "holiday_hours")}
    return overtime(values["monthly_wage"], **hours)


def _annual_leave(values: dict[str, Any], context: Context) -> Result:
    return annual_leave(values["service_years"], values["unused_days"], values["monthly_wage"])


def _work_injury(values: dict[str, Any], context: Context) -> Result:
    return work_injury(values["grade"], values["monthly_wage"], local_wage(values, context), values["minimum_wage"])


def _deadline(values: dict[str, Any], context: Context) -> Result:
    return deadline(values["kind"], values["date"], context.today)


def _hours(name: str, label: str) -> Field:
    return Field(name, label, "number", hint="可以是一个月的，也可以是一段时间的合计；没有填 0", low=0, high=10000)


CALCULATORS: dict[str, Calculator] = {
    c.name: c
    for c in (
        Calculator(
            "severance",
            "经济补偿",
            "被辞退、协商解除、合同到期不续签等情形的经济补偿（劳动合同法第四十七条）",
            (*DATES, *LOCAL_FIELDS),
            _severance,
            uses_local_wage=True,
        ),
        Calculator(
            "unlawful-termination",
            "违法解除赔偿金",
            "公司违法解除或终止劳动合同的赔偿金，经济补偿的二倍（劳动合同法第八十七条）",
            (*DATES, *LOCAL_FIELDS),
            _unlawful,
            uses_local_wage=True,
        ),
        Calculator(
            "double-wage",
            "未签合同二倍工资",
            "入职超过一个月没签书面劳动合同的二倍工资，最多 11 个月（劳动合同法第八十二条）",
            (
                Field("start", "入职日期（用工之日）", "date", required=True, hint="例如 2023-03-01"),
                Field("signed", "签订书面合同的日期", "date_or_none", required=True, hint="没有签就填 none"),
                Field("monthly_wage", "月工资（元）", "money", required=True, hint="应得的月工资（税前）"),
                Field("end", "离职日期", "date", hint="已经离职的填写；还在职的留空"),
            ),
            _double_wage,
        ),
        Calculator(
            "overtime",
            "加班费",
            "工作日、休息日、法定休假日加班的加班费（劳动法第四十四条）",
            (
                Field("monthly_wage", "月工资（元）", "money", required=True, hint="劳动合同约定的本人月工资（税前）"),
                _hours("workday_hours", "工作日延长的小时数"),
                _hours("restday_hours", "休息日加班且没有补休的小时数"),
                _hours("holiday_hours", "法定休假日加班的小时数"),
            ),
            _overtime,
        ),
        Calculator(
            "annual-leave",
            "年休假",
            "带薪年休假天数，以及应休未休的工资报酬（职工带薪年休假条例第三条）",
            (
                Field(
                    "service_years",
                    "累计工作年限（年）",
                    "number",
                    required=True,
                    hint="在所有单位工作时间的合计，例如 6 或 9.5",
                    low=0,
                    high=70,
                ),
                Field("unused_days", "今年应休未休的天数", "int", hint="不算工资可以留空", low=0, high=365),
                Field(
                    "monthly_wage",
                    "月工资（元）",
                    "money",
                    hint="前 12 个月剔除加班工资后的月平均工资；填了未休天数才需要",
                ),
            ),
            _annual_leave,
        ),
        Calculator(
            "work-injury",
            "工伤伤残待遇",
            "按伤残等级的一次性伤残补助金和伤残津贴（工伤保险条例第三十五条至第三十七条）",
            (
                Field(
                    "grade",
                    "伤残等级（1—10 级）",
                    "int",
                    required=True,
                    hint="劳动能力鉴定结论上的等级",
                    low=1,
                    high=10,
                ),
                Field("monthly_wage", "本人工资（元/月）", "money", required=True, hint="受伤前 12 个月平均月缴费工资"),
                Field(
                    "local_avg_wage",
                    "统筹地区职工月平均工资（元）",
                    "money",
                    hint="本人工资高于它的 300% 或低于 60% 时影响结果，不知道可以留空",
                ),
                *LOCAL_FIELDS[1:],
            ),
            _work_injury,
            uses_local_wage=True,
        ),
        Calculator(
            "deadline",
            "期限提醒",
            "申请劳动仲裁、工伤认定、不服裁决起诉、劳动监察投诉的最后期限",
            (
                Field("kind", "要办的事", "choice", required=True, choices=KIND_CHOICES),
                Field("date", "起算日期", "date", required=True, hint="例如被辞退的日期、受伤的日期、收到裁决书的日期"),
            ),
            _deadline,
        ),
    )
}
