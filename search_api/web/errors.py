"""Map failures to responses once, at the edge: JSON for the API, a Chinese page for the site."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from search_api.engines.base import EngineUnavailable, QueryError
from search_api.errors import AppError
from search_api.web.templating import render

log = logging.getLogger("labourkb")

MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限访问此页面",
    404: "找不到这个页面",
    405: "不支持的请求方式",
    422: "请求参数有误",
    500: "服务器出错了，请稍后再试",
    503: "搜索服务暂时不可用，请稍后再试",
}


# A parameter whose refusal deserves its own sentence rather than the generic one.
FIELD_MESSAGES = {
    "q": "请输入要搜索的问题或关键词（参数 q 不能为空）",
    "page": "页码无效（最多翻到第 200 页）",
    "size": "每页条数须在 1 到 50 之间",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/openapi.json")


def error_response(request: Request, status: int, message: str, detail: str = "") -> HTMLResponse | JSONResponse:
    if wants_json(request):
        body = {"error": message, "status": status}
        if detail:
            body["detail"] = detail
        return JSONResponse(body, status_code=status)
    return render(request, "error.html", {"status": status, "message": message, "detail": detail}, status)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path. Starlette's own 405 names only the methods
    of the first route that matched the path, so ``GET /api/cases`` hid ``POST /api/cases``.
    (Mounted apps, such as the static files, answer their own 405s.)"""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [m for m in METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]


STORE_UNAVAILABLE = (
    "账号、案例和求助记录所在的数据库暂时无法访问，请稍后再试；搜索法条和案例不受影响。"
    "如需马上找人帮忙，请拨打职工服务热线 12351"
)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(EngineUnavailable)
    async def _unavailable(request: Request, exc: EngineUnavailable):
        log.warning("engine unavailable: %s", exc.detail)
        return error_response(request, 503, exc.message)

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    async def _store_unavailable(request: Request, exc: sa_exc.DBAPIError):
        # the app store (SQLite file or PostgreSQL) cannot be reached: say so, keep the traceback out
        log.warning("app store unavailable on %s: %s", request.url.path, type(exc.orig).__name__)
        return error_response(request, 503, STORE_UNAVAILABLE)

    @app.exception_handler(QueryError)
    async def _bad_query(request: Request, exc: QueryError):
        return error_response(request, 400, exc.message, exc.detail)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        if wants_json(request):
            body = {"error": exc.message, "status": exc.status}
            if exc.errors:
                body["errors"] = exc.errors
            if exc.detail:
                body["detail"] = exc.detail
            return JSONResponse(body, status_code=exc.status)
        # A page that does not show its form again lists the field messages under the message.
        return error_response(request, exc.status, exc.message, exc.detail or "；".join(exc.errors.values()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = (
            exc.detail
            if isinstance(exc.detail, str) and exc.detail and exc.status_code != 404
            else MESSAGES.get(exc.status_code, "出错了")
        )
        if exc.status_code == 405:
            message = MESSAGES[405]
        response = error_response(request, exc.status_code, message)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        if exc.status_code == 405 and (methods := allowed_methods(request)):
            response.headers["Allow"] = ", ".join(methods)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        locations = [tuple(str(p) for p in e.get("loc", ())) for e in exc.errors()]
        names = [loc[-1] for loc in locations if loc]
        message = next((FIELD_MESSAGES[n] for n in names if n in FIELD_MESSAGES), "请求参数有误")
        return error_response(request, 400, message, ", ".join(".".join(loc) for loc in locations))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, MESSAGES[500])
