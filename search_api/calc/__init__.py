"""What a worker is owed and by when: calculators computed from the articles, citing each one.

Pure functions, no web. Each returns a ``Result``: the answer (``amount`` in yuan, ``days`` or
``date``), the steps in plain Chinese with every number used, the articles applied as document
ids (``labor-contract-law.47``), notes, and a disclaimer. ``catalogue.CALCULATORS`` describes
each calculator's inputs once for the JSON API (``/api/calc/<name>``) and the forms (``/calc/<name>``).

Implemented:

- ``severance`` 经济补偿, 劳动合同法第四十七条: a month's wage per full year, six months or more
  counts as a year, under six months half a month; above three times the local average monthly
  wage, the wage is capped at three times it and the years at twelve; the monthly wage as
  实施条例第二十七条 defines it (the minimum wage when the average is below it). Service before
  2008-01-01 (第九十七条第三款) is reported but not computed: whether and how it is paid depends
  on the rules of that time, which the corpus does not hold.
- ``unlawful_termination`` 赔偿金, 第八十七条: twice the 第四十七条 standard, years counted from
  用工之日 including before 2008 (实施条例第二十五条).
- ``double_wage`` 二倍工资, 第八十二条第一款 and 实施条例第六条、第七条: from the day after the first
  month to the day before signing, at most eleven months; a partial month by the 21.75-day notice.
- ``overtime`` 加班费, 劳动法第四十四条 at 150 / 200 / 300 %, hourly wage = monthly ÷ 21.75 ÷ 8.
- ``annual_leave`` 年休假 days by total years worked (条例第三条) and pay for unused days
  (实施办法第十条、第十一条): 300 % including the normal wage, the extra 200 % stated apart.
- ``work_injury`` 一次性伤残补助金 and 伤残津贴 by grade (工伤保险条例第三十五至三十七条), 本人工资
  bounded by 60–300 % of the area's average wage when given (第六十四条).
- ``deadline`` 期限提醒: 仲裁时效 one year (调解仲裁法第二十七条, with 中断/中止 and the unpaid-wage
  rule), 工伤认定 30 days / one year (工伤保险条例第十七条), 不服裁决起诉 15 days (第四十八条、第五十条),
  劳动保障监察 two years (劳动保障监察条例第二十条).

Not implemented (each result says so where it matters): pre-2008 severance under the old rules;
pro-rated leave for a part year (实施办法第五条、第十二条, stated in the notes); 第八十二条第二款
(no open-ended contract where one was due); the provinces' one-off medical and employment
subsidies for work injuries; moving a last day that falls on a holiday.
"""

from search_api.calc.base import DISCLAIMER, InvalidInput, Result
from search_api.calc.catalogue import CALCULATORS, Calculator, Context
from search_api.calc.local_wages import LocalWage, LocalWagesError, load_local_wages

__all__ = [
    "CALCULATORS",
    "DISCLAIMER",
    "Calculator",
    "Context",
    "InvalidInput",
    "LocalWage",
    "LocalWagesError",
    "Result",
    "load_local_wages",
]
