"""期限提醒: the last day to act, from the date the period starts, with the caveats each article states.

A period counted in years, months or days starts the day after the event and ends on the
corresponding day (one year from 2024-03-10 ends on 2025-03-10; from 2024-02-29, on 2025-02-28,
the end of the month). The helper gives that last day; it does not move a last day that falls on
a holiday, and says so, since nobody should wait for the last day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from search_api.calc.base import Result, cn_date


@dataclass(frozen=True)
class Deadline:
    """One kind of deadline: what starts it, how long it runs, what to do by then, and the caveats."""

    kind: str
    title: str
    event: str  # what the date is, as the form asks for it
    period: relativedelta
    period_text: str
    action: str  # 请在 … 前<action>
    articles: tuple[str, ...]
    caveats: tuple[str, ...]


ARBITRATION_CAVEATS = (
    "时效中断：你向公司主张权利（例如书面要求付钱）、向有关部门请求权利救济（例如向劳动监察投诉、申请调解），"
    "或者公司同意履行的，时效中断，从中断时起重新计算一年。留好书面证据。",
    "时效中止：因为不可抗力或者其他正当理由不能申请的，时效中止；从中止的原因消除之日起继续计算。",
)
KINDS: dict[str, Deadline] = {
    d.kind: d
    for d in (
        Deadline(
            "arbitration",
            "申请劳动仲裁（一般劳动争议）",
            "知道或者应当知道权利被侵害的日期（例如被辞退的日期）",
            relativedelta(years=1),
            "一年",
            "申请劳动仲裁",
            ("labor-dispute-mediation-arbitration-law.27",),
            (
                *ARBITRATION_CAVEATS,
                "劳动关系存续期间因拖欠工资发生争议的，不受一年的限制；"
                "劳动关系终止的，自终止之日起一年内提出（选“追讨拖欠工资”）。",
            ),
        ),
        Deadline(
            "unpaid-wages",
            "追讨拖欠的劳动报酬（已离职）",
            "劳动关系终止的日期（离职日期）",
            relativedelta(years=1),
            "一年",
            "申请劳动仲裁",
            ("labor-dispute-mediation-arbitration-law.27",),
            (
                "还在职的，因拖欠劳动报酬申请仲裁不受一年时效的限制；离职后自劳动关系终止之日起一年内提出。",
                *ARBITRATION_CAVEATS,
            ),
        ),
        Deadline(
            "work-injury",
            "工伤认定申请",
            "事故伤害发生的日期（职业病为被诊断、鉴定的日期）",
            relativedelta(years=1),
            "一年",
            "由本人、近亲属或者工会组织直接申请工伤认定",
            ("work-injury-insurance-regulations.17", "work-injury-insurance-administrative-cases-provisions.7"),
            (
                "公司应当在 30 日内提出工伤认定申请；公司没有提出的，"
                "本人、近亲属或者工会组织可以在一年内直接向社会保险行政部门申请。",
                "公司在 30 日内没有申请的，这期间发生的工伤待遇等费用由公司负担。",
                "不是因为本人或近亲属自身原因（例如不可抗力、人身自由受到限制）耽误的时间，不计算在申请期限内。",
            ),
        ),
        Deadline(
            "lawsuit",
            "不服仲裁裁决向法院起诉",
            "收到仲裁裁决书的日期",
            relativedelta(days=15),
            "十五日",
            "向人民法院起诉",
            (
                "labor-dispute-mediation-arbitration-law.48",
                "labor-dispute-mediation-arbitration-law.50",
                "labor-dispute-mediation-arbitration-law.47",
                "labor-dispute-mediation-arbitration-law.49",
            ),
            (
                "期满不起诉的，裁决书发生法律效力。",
                "小额追索劳动报酬、工伤医疗费、经济补偿或者赔偿金，以及执行国家劳动标准的争议，裁决书写明是终局裁决的，"
                "只有劳动者可以在十五日内起诉；公司只能在三十日内向中级人民法院申请撤销（第四十七条、第四十九条）。",
            ),
        ),
        Deadline(
            "inspection",
            "向劳动保障监察投诉",
            "违法行为发生的日期（行为连续或继续的，为行为终了的日期）",
            relativedelta(years=2),
            "两年",
            "向劳动保障监察机构投诉、举报",
            ("labor-security-supervision-regulations.20",),
            (
                "违法行为在两年内未被发现、也未被举报或投诉的，劳动保障行政部门不再查处；拖欠工资等连续状态的，从行为终了之日起算。",
                "投诉和申请仲裁是两条路：要拿回钱，还要注意一年的仲裁时效。",
            ),
        ),
    )
}
KIND_CHOICES = tuple((d.kind, d.title) for d in KINDS.values())


def deadline(kind: str, event: dt.date, today: dt.date | None = None) -> Result:
    """The last day for ``kind`` counted from ``event``, how many days are left, and the caveats."""
    today = today or dt.date.today()
    d = KINDS[kind]
    last = event + d.period
    left = (last - today).days
    steps = [
        f"{d.event}：{cn_date(event)}。",
        f"期限为{d.period_text}，从次日起算，最后一天是 {cn_date(last)}。",
    ]
    if kind == "work-injury":
        steps.insert(1, f"公司应在 30 日内申请，即 {cn_date(event + relativedelta(days=30))} 前。")
    if left > 0:
        steps.append(
            f"今天是 {cn_date(today)}，还剩 {left} 天。请最迟在 {last.isoformat()}（含当天）{d.action}，越早越好。"
        )
    elif left == 0:
        steps.append(f"今天（{cn_date(today)}）就是最后一天，请立即{d.action}。")
    else:
        steps.append(
            f"按这个日期计算，期限已于 {cn_date(last)} 届满（{-left} 天前）。"
            "如果有下面所说的中断、中止等情形，可能还没有过期，请尽快咨询工会（12351）或法律援助（12348）。"
        )
    return Result(
        name="deadline",
        title=f"期限提醒：{d.title}",
        summary=[
            f"请最迟在 {last.isoformat()}（含当天）{d.action}"
            if left >= 0
            else f"期限已于 {last.isoformat()} 届满，请尽快咨询"
        ],
        inputs=[("期限类型", d.title), (d.event, cn_date(event))],
        formula=f"最后一天 = {d.event} + {d.period_text}",
        steps=steps,
        articles=list(d.articles),
        notes=[*d.caveats, "最后一天如果是节假日，法律上可能顺延，但不要等到最后一天。"],
        date=last,
        details={"kind": kind, "days_left": left, "expired": left < 0},
    )
