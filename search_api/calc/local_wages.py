"""The local average wage (本地区上年度职工月平均工资), per district, as the union configures it.

劳动合同法第四十七条 caps the severance wage at three times the average monthly wage of the
previous year that the city government publishes; 工伤保险条例第六十四条 bounds 本人工资 by the
average wage of the 统筹地区. The union keeps those figures in a small YAML (or JSON) file named by
``LABOURKB_LOCAL_WAGES_FILE``; docs/local-wages.example.yaml shows the format::

    wages:
      - district: 示例区          # the district a worker picks (names as in LABOURKB_DISTRICTS)
        year: 2024               # the year the figure is FOR (the "上年度"), not the year published
        monthly_avg_wage: 10000  # yuan per month, > 0
        source: 示例——不是官方数据  # optional: who published it, where, when

Every entry needs district, year and monthly_avg_wage; a district appears once. The file is read
and checked when the app starts: any mistake stops the start with the file name and line. No file
(the default) means no figures: the forms ask the worker to type the average wage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from search_api.calc.base import yuan
from search_api.errors import AppError

KEYS = {"district", "year", "monthly_avg_wage", "source"}
REQUIRED = ("district", "year", "monthly_avg_wage")


class LocalWagesError(AppError):
    """The configuration file cannot be used; the message names the file and the line."""

    status = 500


@dataclass(frozen=True)
class LocalWage:
    """One figure: ``district`` and ``year`` are None when the worker typed the figure."""

    monthly_avg_wage: Decimal
    year: int | None = None
    district: str | None = None
    source: str = ""

    def describe(self) -> str:
        if self.district is None:
            return f"{yuan(self.monthly_avg_wage)}（你填写的）"
        text = f"{self.district} {self.year} 年度职工月平均工资 {yuan(self.monthly_avg_wage)}（工会配置"
        return text + (f"，来源：{self.source}）" if self.source else "）")


def load_local_wages(path: Path | None) -> dict[str, LocalWage]:
    """district → figure from the file at ``path`` (empty when ``path`` is None)."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LocalWagesError(f"{path}: 无法读取本地平均工资配置文件：{exc}") from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return {}
        return _entries(path, loader, root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise LocalWagesError(f"{where}: 不是有效的 YAML：{getattr(exc, 'problem', exc)}") from exc
    finally:
        loader.dispose()


def _fail(path: Path, node: yaml.Node, message: str) -> LocalWagesError:
    return LocalWagesError(f"{path}:{node.start_mark.line + 1}: {message}")


def _entries(path: Path, loader: yaml.SafeLoader, root: yaml.Node) -> dict[str, LocalWage]:
    items = None
    if isinstance(root, yaml.MappingNode):
        items = next((v for k, v in root.value if k.value == "wages"), None)
    if not isinstance(items, yaml.SequenceNode):
        raise _fail(path, root, "文件须以 wages: 开头，下面每一项是一个区的数据（见 docs/local-wages.example.yaml）")
    out: dict[str, LocalWage] = {}
    for item in items.value:
        if not isinstance(item, yaml.MappingNode):
            raise _fail(path, item, "每一项须包含 district、year、monthly_avg_wage")
        nodes = {k.value: (k, v) for k, v in item.value}
        unknown = sorted(set(nodes) - KEYS)
        if unknown:
            raise _fail(path, nodes[unknown[0]][0], f"不认识的字段 {unknown[0]}（可用：{'、'.join(sorted(KEYS))}）")
        missing = [k for k in REQUIRED if k not in nodes]
        if missing:
            raise _fail(path, item, f"缺少字段 {missing[0]}")
        values = {k: loader.construct_object(v, deep=True) for k, (_, v) in nodes.items()}
        entry = _entry(path, nodes, values)
        if entry.district in out:
            raise _fail(path, nodes["district"][1], f"区 {entry.district} 出现了两次")
        out[entry.district] = entry
    return out


def _entry(path: Path, nodes: dict, values: dict) -> LocalWage:
    district = values["district"]
    if not isinstance(district, str) or not district.strip():
        raise _fail(path, nodes["district"][1], "district 须是区名（文字）")
    year = values["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= dt.date.today().year:
        raise _fail(path, nodes["year"][1], f"year 须是数据所属的年度，2000 到 {dt.date.today().year} 之间，例如 2024")
    try:
        wage = Decimal(str(values["monthly_avg_wage"]))
    except InvalidOperation:
        wage = Decimal(0)
    if isinstance(values["monthly_avg_wage"], bool) or not wage.is_finite() or not 0 < wage < 1_000_000:
        raise _fail(path, nodes["monthly_avg_wage"][1], "monthly_avg_wage 须是大于 0 的月平均工资（元），例如 10000")
    source = values.get("source") or ""
    if not isinstance(source, str):
        raise _fail(path, nodes["source"][1], "source 须是文字")
    return LocalWage(wage, year, district.strip(), source.strip())
