"""Who is asking: the logged-in user, role checks and bearer-token users, as FastAPI dependencies.

* Pages: ``current_user`` (None when logged out), ``require_role(...)`` / ``LoggedIn`` /
  ``AdminUser`` (not logged in → 303 to the login page, keeping a form posted after the
  session expired; another role → 403).
* The case API (``/api/cases…``): ``api_user`` / ``ApiUser``, from a personal token
  (``Authorization: Bearer lkb_…``) only, never from cookies, so it needs no CSRF token.

Everything reads the one ``Store`` that ``create_app`` puts at ``app.state.store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from search_api.accounts.forms import stash_expired_form
from search_api.accounts.sessions import session_info
from search_api.accounts.store import Store
from search_api.accounts.users import ROLES, User
from search_api.errors import Forbidden

# Last path segments of POST-only routes.
ACTION_SEGMENTS = {"submit", "review", "withdraw", "revoke", "logout"}


def get_store(request: Request) -> Store:
    """The app's store (``app.state.store``, built by ``create_app``)."""
    return request.app.state.store


def current_user(request: Request) -> User | None:
    """The logged-in user of this browser session, or None. Usable as a FastAPI dependency."""
    if hasattr(request.state, "user"):
        return request.state.user
    info = session_info(request)
    user = None
    if info.state == "valid" and info.user_id is not None:
        user = get_store(request).users.get(info.user_id)
        if user is not None and not user.active:
            user = None
    request.state.user = user
    return user


# Reads the header and names the scheme in the OpenAPI description; ``api_user`` decides.
PERSONAL_TOKEN = HTTPBearer(
    scheme_name="personalToken",
    description="个人 API 令牌（lkb_…）：律师、审核人和管理员在 /account/tokens 创建，以本人身份使用 /api/cases…",
    auto_error=False,
)


def api_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(PERSONAL_TOKEN)] = None
) -> User:
    """Dependency for ``/api/cases…``: the user of a valid ``Authorization: Bearer`` token, else 401."""
    token = credentials.credentials.strip() if credentials else ""
    user = get_store(request).tokens.user_for(token) if token else None
    if user is None:
        raise HTTPException(
            401, "需要有效的 API 令牌（Authorization: Bearer …）", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


def api_role(*roles: str) -> Callable[..., User]:
    """Like ``require_role`` but for bearer-token API routes (401 / 403 as JSON)."""

    def dependency(user: Annotated[User, Depends(api_user)]) -> User:
        if roles and user.role not in roles:
            raise Forbidden("无权执行此操作")
        return user

    return dependency


def safe_next(path: str | None) -> str:
    """Only same-site paths are followed after login (no open redirects)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/lawyer/"
    return path


def login_url(next_path: str, restore: str | None = None) -> str:
    query = {"next": next_path}
    if restore:
        query["restore"] = restore
    return "/login?" + urlencode(query)


def require_role(*roles: str) -> Callable[..., Any]:
    """Dependency factory: the logged-in user if their role is one of ``roles`` (any role when empty).

    Not logged in → 303 to ``/login?next=…``. When a form was posted after the session
    expired, the form is stashed first and the login page carries a ``restore`` token.
    Logged in with another role → 403.
    """

    async def dependency(request: Request) -> User:
        user = current_user(request)
        if user is None:
            next_path = request.url.path
            restore = None
            if request.method == "POST":
                restore = await stash_expired_form(request)
                # Actions (…/submit, …/revoke) have no page of their own: come back to their parent.
                if next_path.rsplit("/", 1)[-1] in ACTION_SEGMENTS:
                    next_path = next_path.rsplit("/", 1)[0]
            elif request.url.query:
                next_path += "?" + request.url.query
            raise HTTPException(303, "请先登录", headers={"Location": login_url(next_path, restore)})
        if roles and user.role not in roles:
            raise Forbidden("无权访问此页面")
        return user

    return dependency


require_login = require_role(*ROLES)

# Annotated dependencies for route signatures.
LoggedIn = Annotated[User, Depends(require_login)]
AdminUser = Annotated[User, Depends(require_role("admin"))]
ApiUser = Annotated[User, Depends(api_user)]
