"""Every error the app shows a user, defined once.

A module raises one of these with a Chinese ``message`` (and, for forms, per-field
``errors``); the edge maps it once: ``search_api.web.errors`` to a JSON body for the API or
``error.html`` for pages, ``search_api.cli`` to a ``click.ClickException``. Nothing below the
edge builds responses or catches these to rephrase them.
"""

from __future__ import annotations


class AppError(Exception):
    """A refused request. ``status`` is the HTTP status the edge answers with."""

    status = 400
    message = "请求有误"

    def __init__(self, message: str = "", errors: dict[str, str] | None = None, detail: str = ""):
        self.message = message or type(self).message
        self.errors = errors or {}  # field -> Chinese message, for a form's fields
        self.detail = detail
        super().__init__(self.message)


class BadRequest(AppError):
    status = 400


class NotAuthorised(AppError):
    status = 401
    message = "请先登录"


class Forbidden(AppError):
    status = 403
    message = "没有权限访问此页面"


class NotFound(AppError):
    status = 404
    message = "找不到这个页面"


class Conflict(AppError):
    status = 409
    message = "操作与当前状态冲突"


class Invalid(AppError):
    """Form or JSON fields that fail validation; ``errors`` says which and why."""

    status = 422
    message = "请检查标出的字段"


class TooMany(AppError):
    """Too many requests from one client network; the message says when to try again."""

    status = 429
    message = "请求过于频繁，请稍后再试"


class Unavailable(AppError):
    status = 503
    message = "服务暂时不可用，请稍后再试"
