"""The JSON bodies of the help-request API (``/api/help-requests``, ``/api/help``), as OpenAPI shows them.

Like ``search_api.web.schemas``: descriptions only, nothing is filtered when a response leaves.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from search_api.help.fields import CALL_TIMES, DISPUTE_CHOICES, LIMITS, MIN_DESCRIPTION_CHARS, TOPICS
from search_api.help.service import MAX_ANSWER_CHARS, MAX_NOTE_CHARS, STATE_LABELS

HelpState = Literal["new", "contacted", "accepted", "referred", "closed"]


class HelpCreated(BaseModel):
    reference: str = Field(description="求助编号，例如 崂山-2026-000123")
    ticket: str = Field(description="The secret of the status link: keep it; it is shown only once.")
    status_url: str = Field(description="/help/<ticket>: the worker's private status page.")
    contact_due: str = Field(description="The day (Asia/Shanghai) by whose end district staff call back.")


class HelpEvent(BaseModel):
    at: str
    action: str
    to_state: str | None
    outcome: str
    note: str


class HelpAnswer(BaseModel):
    body: str = Field(description="The lawyer's answer (Markdown).")
    citations: list[dict[str, Any]]
    lawyer: str
    updated_at: str


class HelpStatus(BaseModel):
    """A request as its worker sees it; the phone number masked."""

    model_config = ConfigDict(extra="allow")

    reference: str
    district: str
    topic: str
    state: HelpState
    status: str = Field(description="The state in plain words.")
    outcome: str
    created_at: str
    contact_due: str
    fields: dict[str, str] = Field(description="What the worker wrote; ``phone`` masked (138****5678).")
    materials: list[str] = Field(description="What to prepare for this kind of problem.")
    answer: HelpAnswer | None
    events: list[HelpEvent]
    status_url: str = ""


class HelpDeskItem(HelpStatus):
    """A request as district staff see it (the phone still masked: revealing it is its own call)."""

    id: int
    overdue: bool
    lawyer: str
    first_contact_at: str | None
    closed_at: str | None


class HelpQueue(BaseModel):
    requests: list[HelpDeskItem]


class RevealedPhone(BaseModel):
    phone: str = Field(description="The worker's number, for the call. Every reveal is in the audit log.")


def _choice(values: dict[str, str], description: str) -> dict[str, Any]:
    return {"enum": list(values), "description": description + "：" + "；".join(f"{k} {v}" for k, v in values.items())}


def _text(field: str, required: bool = False, least: int = 1) -> dict[str, Any]:
    label, limit = LIMITS[field]
    out = {"type": "string", "maxLength": limit, "description": label + ("（必填）" if required else "")}
    if required:
        out["minLength"] = least
    return out


HELP_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["district", "topic", "is_dispute", "description", "name", "phone", "consent"],
                    "properties": {
                        "district": {"type": "string", "description": "One of LABOURKB_DISTRICTS."},
                        "topic": _choice(TOPICS, "问题类别"),
                        "is_dispute": _choice(DISPUTE_CHOICES, "是否与用人单位之间的纠纷"),
                        "description": _text("description", True, MIN_DESCRIPTION_CHARS),
                        "wants": _text("wants"),
                        "employer": _text("employer"),
                        "name": _text("name", True),
                        "phone": {
                            "type": "string",
                            "minLength": 7,
                            "maxLength": LIMITS["phone"][1],
                            "description": "Mainland mobile (11 digits, +86 allowed) or landline with area code.",
                        },
                        "call_time": _choice(CALL_TIMES, "方便接电话的时间"),
                        "question": _text("question"),
                        "consent": {"const": True, "description": "Must be true: agreed to the privacy notice."},
                        "publish_consent": {
                            "type": "boolean",
                            "description": "May an anonymised question and answer be published (default false).",
                        },
                    },
                }
            }
        },
    }
}


class HelpFeedEvent(BaseModel):
    """One line of ``/api/help/events``: a request's event, without personal data unless the token allows."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(description="The feed's cursor: pass the last one as ``after``.")
    at: str
    action: str
    from_state: str | None
    to_state: str | None
    outcome: str
    reference: str
    district: str
    topic: str
    is_dispute: str
    contact_due: str
    personal: dict[str, Any] | None = Field(None, description="Only for a help:personal token.")


EVENTS_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "NDJSON: one event per line, oldest first",
        "content": {"application/x-ndjson": {"schema": {"type": "array", "items": HelpFeedEvent.model_json_schema()}}},
    }
}


def _body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


STATE_BODY = _body(
    ["state", "note"],
    {
        "state": {"enum": list(STATE_LABELS), "description": "contacted, accepted, referred or closed"},
        "outcome": {
            "type": "string",
            "description": "referred: arbitration, inspectorate, legal_aid; closed: resolved, not_dispute, withdrawn,"
            " unreachable",
        },
        "note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE_CHARS, "description": "说明（必填）"},
    },
)
ASSIGN_BODY = _body(
    ["lawyer_id"],
    {
        "lawyer_id": {"type": "integer", "description": "A lawyer on the district's rota."},
        "note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
    },
)
ANSWER_BODY = _body(
    ["body"], {"body": {"type": "string", "minLength": 10, "maxLength": MAX_ANSWER_CHARS, "description": "Markdown"}}
)
