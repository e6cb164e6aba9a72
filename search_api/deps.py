"""FastAPI dependencies: everything a route needs comes from ``app.state`` set up by ``create_app``."""

from __future__ import annotations

from fastapi import Request

from search_api.engines.base import SearchEngine
from search_api.search.service import SearchService
from search_api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> SearchEngine:
    return request.app.state.engine


def get_service(request: Request) -> SearchService:
    return request.app.state.service


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def logged_search(request: Request, q: str, *, source: str, district: str | None = None, **kwargs):
    """Search through the service and write the query-log record, failures included.

    The record is queued before an engine error propagates, so an Elasticsearch
    outage loses no log record.
    """
    service = get_service(request)
    querylog = getattr(request.app.state, "querylog", None)
    filters = kwargs.get("filters") or {}
    try:
        response = service.search(q, **kwargs)
    except Exception:
        if querylog is not None and q.strip():
            a = service.analyse(q)
            querylog.log_search(
                q=q,
                tokens=a.tokens,
                filters=filters,
                engine=service.engine.name,
                total=None,
                failed=True,
                source=source,
                district=district,
                client_ip=client_ip(request),
                user_agent=request.headers.get("user-agent"),
            )
        raise
    if querylog is not None and response.query:
        response.query_id = querylog.log_search(
            q=q,
            tokens=response.tokens,
            filters=filters,
            engine=service.engine.name,
            total=response.total,
            top_ids=[h["id"] for h in response.hits],
            took_ms=response.took_ms,
            failed=False,
            source=source,
            district=district,
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    return response
