"""The calculators' inputs: one description per field, read from a query string the same way for
the JSON API and the forms, and the same description turned into OpenAPI parameters.

A refusal names the field (its Chinese label and its parameter name) and says what is wanted.
Empty values count as absent, since a form sends every field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from search_api.calc.base import InvalidInput

EARLIEST = dt.date(1950, 1, 1)
LATEST = dt.date(2100, 12, 31)
MAX_MONEY = Decimal(10_000_000)
MAX_TEXT = 50
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


@dataclass(frozen=True)
class Field:
    """One input. ``kind``: date, date_or_none, money, number, int, text, choice."""

    name: str
    label: str
    kind: str
    required: bool = False
    hint: str = ""  # shown under the form field
    low: Decimal | int = 0  # inclusive lower bound for number and int (money is always > 0)
    high: Decimal | int = 0  # inclusive upper bound for number and int
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for choice

    def where(self) -> str:
        """How a message names the field: 月工资（monthly_wage）."""
        return f"{self.label.split('（')[0]}（{self.name}）"

    def parse(self, raw: str | None) -> Any:
        """The typed value of ``raw`` (None when empty and optional); InvalidInput otherwise."""
        text = (raw or "").strip()
        if not text:
            if self.required:
                raise InvalidInput(self.name, f"请填写{self.where()}")
            return None
        return getattr(self, f"_{self.kind}")(text)

    def _date(self, text: str) -> dt.date:
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            y, m, d = (int(p) for p in text.split("-"))
            day = dt.date(y, m, d)
        except ValueError:
            raise InvalidInput(self.name, f"{self.where()}不是有效的日期，请写成 年-月-日，例如 2020-03-01") from None
        if not EARLIEST <= day <= LATEST:
            raise InvalidInput(self.name, f"{self.where()}须在 {EARLIEST.year} 年到 {LATEST.year} 年之间")
        return day

    def _date_or_none(self, text: str) -> dt.date | None:
        return None if text.lower() == "none" else self._date(text)

    def _decimal(self, text: str) -> Decimal:
        try:
            value = Decimal(text.replace(",", "").replace("，", ""))
        except InvalidOperation:
            raise InvalidInput(self.name, f"{self.where()}须是数字") from None
        if not value.is_finite():
            raise InvalidInput(self.name, f"{self.where()}须是数字")
        return value

    def _money(self, text: str) -> Decimal:
        value = self._decimal(text)
        if value <= 0:
            raise InvalidInput(self.name, f"{self.where()}须大于 0（单位：元）")
        if value > MAX_MONEY:
            raise InvalidInput(self.name, f"{self.where()}过大，请检查（单位：元）")
        return value

    def _number(self, text: str) -> Decimal:
        value = self._decimal(text)
        if not self.low <= value <= self.high:
            raise InvalidInput(self.name, f"{self.where()}须在 {self.low} 到 {self.high} 之间")
        return value

    def _int(self, text: str) -> int:
        value = self._decimal(text)
        if value != value.to_integral_value():
            raise InvalidInput(self.name, f"{self.where()}须是整数")
        if not self.low <= value <= self.high:
            raise InvalidInput(self.name, f"{self.where()}须是 {self.low} 到 {self.high} 之间的整数")
        return int(value)

    def _text(self, text: str) -> str:
        if len(text) > MAX_TEXT:
            raise InvalidInput(self.name, f"{self.where()}太长了（最多 {MAX_TEXT} 个字）")
        return text

    def _choice(self, text: str) -> str:
        if text not in {value for value, _ in self.choices}:
            allowed = "、".join(f"{value}（{label}）" for value, label in self.choices)
            raise InvalidInput(self.name, f"{self.where()}须是以下之一：{allowed}")
        return text

    def openapi(self) -> dict[str, Any]:
        """This field as an OpenAPI query parameter."""
        schema: dict[str, Any]
        if self.kind == "date":
            schema = {"type": "string", "format": "date"}
        elif self.kind == "date_or_none":
            schema = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "enum": ["none"]}]}
        elif self.kind == "money":
            schema = {"type": "number", "exclusiveMinimum": 0, "maximum": int(MAX_MONEY)}
        elif self.kind == "number":
            schema = {"type": "number", "minimum": float(self.low), "maximum": float(self.high)}
        elif self.kind == "int":
            schema = {"type": "integer", "minimum": int(self.low), "maximum": int(self.high)}
        elif self.kind == "text":
            schema = {"type": "string", "maxLength": MAX_TEXT}
        else:
            schema = {"type": "string", "enum": [value for value, _ in self.choices]}
        description = f"{self.label}。{self.hint}".rstrip("。") + "。"
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": description,
            "schema": schema,
        }


def parse_all(fields: tuple[Field, ...], params: Mapping[str, str]) -> dict[str, Any]:
    """Every field's value from ``params``; one InvalidInput listing every refused field, in form order."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        try:
            values[f.name] = f.parse(params.get(f.name))
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        first = next(iter(errors))
        raise InvalidInput(first, errors[first], errors)
    return values
