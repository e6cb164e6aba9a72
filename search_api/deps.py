"""FastAPI dependencies: everything a route needs comes from ``app.state`` set up by ``create_app``."""

from __future__ import annotations

from fastapi import Request

from search_api.engines.base import SearchEngine
from search_api.monitoring.querylog import QueryLog
from search_api.search.service import SearchService
from search_api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> SearchEngine:
    return request.app.state.engine


def get_service(request: Request) -> SearchService:
    return request.app.state.service


def get_querylog(request: Request) -> QueryLog | None:
    """The app's query log; None when ``querylog_enabled`` is off."""
    return getattr(request.app.state, "querylog", None)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")
