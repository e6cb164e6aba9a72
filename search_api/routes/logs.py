"""The monitoring feed (``/api/logs``), its aggregates, and the no-JS click redirect (``/go``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security
from fastapi.responses import RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from search_api import db
from search_api.accounts.tokens import TokenInfo, check_token
from search_api.deps import client_ip, get_engine, get_querylog, get_settings, user_agent
from search_api.errors import BadRequest
from search_api.monitoring import stats as qs
from search_api.monitoring.employer_list import recogniser_for
from search_api.web.openapi import errors
from search_api.web.schemas import LogRecord, LogStats

router = APIRouter()

DOC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,199}$")


# Reads the header and names the scheme in the OpenAPI description; ``require_scope`` decides.
SCOPED_TOKEN = HTTPBearer(
    scheme_name="scopedToken",
    description="只读令牌（lkbr_…），由 `labourkb token create NAME --scope logs:read` 创建，供监测系统读取查询日志",
    auto_error=False,
)


def require_scope(scope: str) -> Callable[..., TokenInfo]:
    """Dependency: a read-only token with ``scope`` in ``Authorization: Bearer …``, else 401."""

    def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(SCOPED_TOKEN)] = None
    ) -> TokenInfo:
        raw = credentials.credentials.strip() if credentials else ""
        info = check_token(get_settings(request), raw, scope)
        if info is None:
            raise HTTPException(
                401,
                f"需要具有 {scope} 权限的 API 令牌（Authorization: Bearer …）",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return info

    return dependency


require_logs_reader = require_scope("logs:read")


def _filter(since: str | None, until: str | None, district: str | None) -> qs.LogFilter:
    return qs.LogFilter(qs.parse_when(since), qs.parse_when(until, end=True), district or None)


# ``since``/``until``: what ``stats.parse_when`` accepts (empty: no bound; anything else is a 400).
WHEN = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}, {"maxLength": 0}]}
FEED_ANSWER = {
    200: {
        "description": "NDJSON: one record per line, oldest first",
        "content": {"application/x-ndjson": {"schema": {"type": "array", "items": LogRecord.model_json_schema()}}},
        "headers": {
            "X-Next-Cursor": {"description": "The cursor after the whole response.", "schema": {"type": "string"}}
        },
    },
    **errors(400, 401),
}


@router.get("/api/logs", tags=["monitoring"], response_class=StreamingResponse, responses=FEED_ANSWER)
def log_feed(
    request: Request,
    cursor: str | None = Query(
        None,
        description="Opaque cursor from a previous response (any other value is a 400); omit to start at the oldest.",
    ),
    since: str | None = Query(
        None,
        description="Only records at or after this time (YYYY-MM-DD or ISO 8601, UTC).",
        json_schema_extra=WHEN,
    ),
    until: str | None = Query(
        None,
        description="Only records before this time; a bare date includes that whole day.",
        json_schema_extra=WHEN,
    ),
    district: str | None = Query(None, description="Only records from this district."),
    limit: int = Query(1000, ge=1, le=10_000, description="Most records in this response."),
    _token: TokenInfo = Depends(require_logs_reader),
):
    """Query-log records as NDJSON (one UBI-shaped JSON object per line), oldest first.

    Each line carries ``cursor``: pass the cursor of the last line you processed to
    resume exactly after it, even if the stream broke off. The ``X-Next-Cursor`` header
    holds the cursor after the whole response. Needs a token with scope ``logs:read``.
    Employer names below the warning threshold are masked.
    """
    settings = get_settings(request)
    after = qs.decode_cursor(cursor)
    flt = _filter(since, until, district)
    database = db.log_database(settings)
    upto = qs.settled_seq(database)
    with database.connect() as conn:
        presenter = qs.Presenter(conn, recogniser_for(settings))
        page = list(qs.feed(conn, after, flt, limit, presenter, upto))
    next_cursor = qs.encode_cursor(page[-1][0] if page else after)

    def lines():
        for seq, rec in page:
            rec["cursor"] = qs.encode_cursor(seq)
            yield json.dumps(rec, ensure_ascii=False) + "\n"

    return StreamingResponse(
        lines(), media_type="application/x-ndjson", headers={"X-Next-Cursor": next_cursor, "Cache-Control": "no-store"}
    )


@router.get(
    "/api/logs/stats",
    tags=["monitoring"],
    response_model=None,
    responses={200: {"model": LogStats}, **errors(400, 401)},
)
def log_stats(
    request: Request,
    since: str | None = Query(
        None, description="Start of the period (YYYY-MM-DD or ISO 8601, UTC).", json_schema_extra=WHEN
    ),
    until: str | None = Query(
        None, description="End of the period (exclusive; a bare date includes that day).", json_schema_extra=WHEN
    ),
    district: str | None = Query(None, description="Only this district."),
    _token: TokenInfo = Depends(require_logs_reader),
) -> dict[str, Any]:
    """Aggregates: counts, zero-result and unclicked queries, click-through, topics per week and district."""
    settings = get_settings(request)
    flt = _filter(since, until, district)
    with db.log_database(settings).connect() as conn:
        return qs.stats(conn, flt, qs.Presenter(conn, recogniser_for(settings)))


@router.get("/go", include_in_schema=False)
def click_redirect(request: Request, id: str = "", qid: str = "", pos: str = ""):
    """Log a click on result ``id`` at rank ``pos`` of query ``qid``, then 303 to the document.

    Works without JavaScript. Only an existing document is a target (an unknown id is a 404,
    so the link is neither an open redirect nor a way to write arbitrary text into the log),
    and a click is stored only for a query id this site issued (signed, see
    ``QueryLog.new_query_id``); anything else redirects without storing a thing.
    """
    if not DOC_ID_RE.match(id):
        raise BadRequest("无效的文档编号")
    if get_engine(request).get(id) is None:
        raise HTTPException(status_code=404, detail="找不到这个文档")
    querylog = get_querylog(request)
    if querylog is not None and querylog.issued(qid):
        position = int(pos) if pos.isdigit() and 0 < int(pos) <= 10_000 else None
        querylog.log_click(
            query_id=qid,
            doc_id=id,
            position=position,
            client_ip=client_ip(request),
            user_agent=user_agent(request),
        )
    return RedirectResponse(f"/doc/{quote(id, safe='')}", status_code=303)
