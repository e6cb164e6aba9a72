"""Geometry of the staff pages' bar charts, drawn as inline SVG by ``review/_charts.html``.

No JavaScript: everything a reader needs is in the SVG itself — a y axis with round tick
values, gridlines, the value above each bar, and x labels that stay readable (rotated when
there are many, every n-th one when there are too many to print). Category charts whose
labels are words (districts, topics) lie on their side, so a long Chinese name is one line.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

FONT = 12  # px, at the chart's natural size; the SVG scales down on a phone
LABEL_CHARS = 8  # longer category labels are cut with an ellipsis (the full one is in <title>)


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """Round tick values from 0 to at least ``top``: 0, 5, 10 … or 0, 20, 40 …"""
    if top <= 0:
        return [0, 1]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return list(range(0, step * math.ceil(top / step) + 1, step))


def column_chart(labels: list[str], values: list[int], width: int = 480, height: int = 160) -> dict[str, Any]:
    """Vertical bars (a time series): y axis with ticks, x labels thinned and rotated as needed."""
    ticks = nice_ticks(max(values, default=0))
    left, right, top_pad = 40, 8, 14
    n = max(len(values), 1)
    plot_w = width - left - right
    slot = plot_w / n
    rotate = n > 6 or any(len(label) > 5 for label in labels)
    every = max(1, math.ceil(n / 12))  # at most 12 labels under the axis
    bottom = 50 if rotate else 22
    plot_h = height - bottom - top_pad
    scale = plot_h / ticks[-1]
    base = top_pad + plot_h
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = round(value * scale, 1)
        x = round(left + i * slot + slot * 0.15, 1)
        bars.append(
            {
                "x": x,
                "y": round(base - h, 1),
                "w": round(max(slot * 0.7, 1), 1),
                "h": h,
                "cx": round(left + (i + 0.5) * slot, 1),
                "label": label,
                "show_label": i % every == 0,
                "value": value,
            }
        )
    return {
        "kind": "column",
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "base": base,
        "rotate": rotate,
        "font": FONT,
        "ticks": [{"value": t, "y": round(base - t * scale, 1)} for t in ticks],
        "bars": bars,
    }


def bar_chart(labels: list[str], values: list[int], width: int = 480) -> dict[str, Any]:
    """Horizontal bars (categories): the label on the left, the value after the bar, x axis ticks."""
    ticks = nice_ticks(max(values, default=0))
    left, right, row, top_pad = 8 + FONT * LABEL_CHARS, 36, 22, 6
    plot_w = width - left - right
    scale = plot_w / ticks[-1]
    height = top_pad + row * max(len(values), 1) + 20
    base = height - 20
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top_pad + i * row
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        bars.append(
            {
                "x": left,
                "y": y + 3,
                "w": round(value * scale, 1),
                "h": row - 6,
                "cy": y + row / 2 + FONT / 2 - 2,
                "label": label,
                "short": short,
                "value": value,
            }
        )
    return {
        "kind": "bar",
        "width": width,
        "height": height,
        "left": left,
        "base": base,
        "top": top_pad,
        "font": FONT,
        "ticks": [{"value": t, "x": round(left + t * scale, 1)} for t in ticks],
        "bars": bars,
    }


def mondays(first: date, last: date) -> list[date]:
    """The Monday of every week that touches ``[first, last]``, in order (one bar per week)."""
    monday = first - timedelta(days=first.weekday())
    out = []
    while monday <= last:
        out.append(monday)
        monday += timedelta(weeks=1)
    return out


def iso_week(monday: date) -> str:
    """``2026-W48`` for the week starting on ``monday``."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"
