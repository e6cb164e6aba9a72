"""Routes whose plainly valid query strings skip FastAPI's per-request parameter solving.

FastAPI validates an endpoint's parameters by walking its dependency tree on every request. For
``/api/search`` (eight query parameters, four of them lists) that walk was a fifth of a served
worker's interpreter time when the answer came from the result cache — twice the endpoint's own
work (docs/benchmarks.md, session 19). :class:`PlainQueryRoute` runs the endpoint directly when a
small parser of the route's own (``parse``) accepts the query string, and hands every other request
to FastAPI's handler unchanged: a parser only has to recognise what is certainly valid, and anything
it declines — a missing or repeated parameter, a number out of range, an unusual spelling of a
boolean — is validated, converted or refused (the API's 400) exactly as before. The declared signature still
drives the OpenAPI schema.

    router.add_api_route("/api/search", api_search, route_class_override=plain_query_route(plain_search_args))
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

Parser = Callable[[QueryParams], dict[str, Any] | None]

NOT_BLANK = re.compile(r"\S")  # Python's whitespace includes the Unicode White_Space FastAPI's pattern uses
TRUE, FALSE = ("true", "1"), ("false", "0")  # spellings pydantic reads the same way; the others go to it


class PlainQueryRoute(APIRoute):
    """An ``APIRoute`` for a synchronous endpoint taking ``request`` and the keyword arguments that
    the class's ``parse`` returns for a query string it accepts (``None``: FastAPI's handler answers).
    An endpoint with dependencies (``Depends``), a body, or a coroutine is refused when the route is
    built: the direct path would skip them."""

    parse: Parser

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = self.dependant
        if dependant.dependencies or dependant.body_params or inspect.iscoroutinefunction(self.endpoint):
            raise TypeError(f"{self.path}: a plain-query route takes a synchronous endpoint without dependencies")
        standard = super().get_route_handler()
        endpoint, route_class = self.endpoint, type(self)

        async def handler(request: Request) -> Response:
            kwargs = route_class.parse(request.query_params)
            if kwargs is None:
                return await standard(request)
            return await run_in_threadpool(endpoint, request, **kwargs)

        return handler


def plain_query_route(parse: Parser) -> type[APIRoute]:
    """A :class:`PlainQueryRoute` class reading query strings with ``parse``."""
    return type("PlainQueryRoute", (PlainQueryRoute,), {"parse": staticmethod(parse)})


def single(params: QueryParams, names: tuple[str, ...]) -> bool:
    """Whether none of ``names`` is given twice (FastAPI takes the last; the parsers leave it to FastAPI)."""
    seen: set[str] = set()
    for key, _ in params.multi_items():
        if key in names:
            if key in seen:
                return False
            seen.add(key)
    return True


def integer(raw: str | None, default: int, low: int, high: int) -> int | None:
    """``raw`` as an integer in [low, high] when written plainly in ASCII digits; ``default`` when absent."""
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:  # (int() refuses over 4,300 digits)
        return None
    value = int(raw)
    return value if low <= value <= high else None


def boolean(raw: str | None, default: bool) -> bool | None:
    if raw is None:
        return default
    return True if raw in TRUE else False if raw in FALSE else None


def text(raw: str | None) -> str | None:
    """A required text that must hold a non-blank character (``pattern=r"\\S"``)."""
    return raw if raw is not None and NOT_BLANK.search(raw) else None
