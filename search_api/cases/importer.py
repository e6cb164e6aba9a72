"""Bulk import of lawyers' cases from JSON Lines (``POST /api/cases/import``).

Each line goes through ``CaseService.create`` (and ``submit`` when asked), so an imported
case obeys the same rules as one typed into the form. A bad line is reported, never fatal.
"""

from __future__ import annotations

import json
from typing import Any

from search_api.accounts.users import User
from search_api.cases.index import unresolved_warnings
from search_api.cases.workflow import CaseService
from search_api.errors import AppError

MAX_IMPORT_LINES = 2000


def import_jsonl(service: CaseService, user: User, body: bytes, submit: bool = False) -> dict[str, Any]:
    """Create one case per JSON Lines line; returns a per-line report. A bad line never stops the rest.

    Each line is an object with the case fields (``keywords`` a list or a 、-separated
    string). With ``submit`` each saved case is also sent for review.
    """
    report: list[dict[str, Any]] = []
    for number, raw_line in enumerate(body.splitlines(), start=1):
        if not raw_line.strip():
            continue
        entry: dict[str, Any] = {"line": number, "ok": False}
        report.append(entry)
        if len(report) > MAX_IMPORT_LINES:
            entry["errors"] = {"line": f"一次最多导入 {MAX_IMPORT_LINES} 行，其余未处理"}
            break
        try:
            obj = json.loads(raw_line.decode("utf-8"))
        except UnicodeDecodeError:
            entry["errors"] = {"line": "此行不是有效的 UTF-8 编码"}
            continue
        except json.JSONDecodeError as e:
            entry["errors"] = {"line": f"此行不是有效的 JSON（第 {e.colno} 列）"}
            continue
        if not isinstance(obj, dict):
            entry["errors"] = {"line": "每行须为一个 JSON 对象"}
            continue
        try:
            record = service.create(user, obj, complete=True)
            if submit:
                record = service.submit(user, record.id)
        except AppError as e:  # this line's refusal goes into the report
            entry["errors"] = e.errors or {"line": e.message}
            continue
        entry.update(ok=True, id=record.id, state=record.state, warnings=unresolved_warnings(record.current.citations))
    ok = sum(1 for e in report if e["ok"])
    return {"total": len(report), "ok": ok, "failed": len(report) - ok, "lines": report}
