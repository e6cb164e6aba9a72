"""The OpenAPI description says what the API really answers, errors and tokens included.

Errors are mapped once at the edge (``web.errors``): every refusal is the JSON body
``schemas.Error``, and a request that fails FastAPI's validation is a 400, not FastAPI's
default 422 (a 422 is the case API's own answer to fields that break the case rules). Each
route declares the refusals it can answer with ``errors(…)``; ``install`` drops FastAPI's
generated 422 and documents the 400 on every operation that reads parameters or a body.
``tests/routes/test_openapi_conformance.py`` runs schemathesis over the result.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from search_api.web.schemas import Error

DESCRIPTIONS = {
    400: "请求有误（参数缺失或无效）",
    401: "需要有效的 API 令牌",
    403: "令牌无权执行此操作",
    404: "找不到",
    409: "与当前状态冲突（例如版本已过期）",
    413: "提交内容过大",
    429: "提交过于频繁（同一网络每小时有上限），请稍后再试",
    422: "字段不符合规则（errors 逐项说明），例如案例缺少标题、裁判日期晚于今天，求助的电话号码无效",
    503: "搜索服务暂时不可用",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each refusal it can answer, with the one error body."""
    return {code: {"description": DESCRIPTIONS[code], "model": Error} for code in codes}


def _validation_answer(operation: dict[str, Any]) -> None:
    # FastAPI documents its validation error as a 422 with its own body; ours is a 400 Error,
    # and any operation that reads parameters or a body can answer it.
    responses = operation.setdefault("responses", {})
    default = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if default.get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("400", {"description": DESCRIPTIONS[400], **_error_content()})


def _error_content() -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter is absent or a value, never JSON null: drop the null branch."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents the errors as they are answered."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                _validation_answer(operation)
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query" and "schema" in parameter:
                        parameter["schema"] = _without_null(parameter["schema"])
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components.setdefault("Error", Error.model_json_schema(ref_template="#/components/schemas/{model}"))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
