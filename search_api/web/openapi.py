"""The OpenAPI description says what the API really answers, errors included.

Errors are mapped once at the edge (``web.errors``): every refusal is a JSON body
``{"error": <Chinese message>, "status": <code>, "errors"?: {field: message}, "detail"?: …}`` and
a request that fails validation is a 400, not FastAPI's default 422. This module documents that,
once, for every operation: the error schema, the status codes each part of the API can answer,
and no 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "中文说明，可直接展示给用户"},
        "status": {"type": "integer"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}, "description": "字段 → 说明"},
        "detail": {"type": "string"},
    },
}
DESCRIPTIONS = {
    400: "请求有误（参数缺失或无效）",
    401: "需要有效的 API 令牌",
    403: "令牌无权执行此操作",
    404: "找不到",
    409: "与当前状态冲突（例如版本已过期）",
    413: "提交内容过大",
    415: "不支持的内容类型",
    429: "请求过于频繁",
    503: "搜索服务暂时不可用",
}
# What each part of the API can answer besides success (longest prefix wins).
ERRORS_BY_PREFIX: dict[str, tuple[int, ...]] = {
    "/api/search": (400, 503),
    "/api/documents": (400, 404, 503),
    "/healthz": (503,),
    "/api/cases": (400, 401, 403, 404, 409, 413, 415, 503),
    "/api/logs": (400, 401, 403),
    "/api/calc": (400,),  # calculators: a refused input names its field (search_api.calc.fields)
}
DEFAULT_ERRORS = (400,)


def _errors_for(path: str) -> tuple[int, ...]:
    best = max((p for p in ERRORS_BY_PREFIX if path.startswith(p)), key=len, default=None)
    return ERRORS_BY_PREFIX[best] if best else DEFAULT_ERRORS


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents the errors as they are answered."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for code in _errors_for(path):
                    responses.setdefault(str(code), {"description": DESCRIPTIONS[code], "content": ref})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
