"""Logins, server-side sessions, CSRF, lockout, and role checks as FastAPI dependencies.

* Sessions live in the store; the cookie carries only a random token
  (HttpOnly, SameSite=Lax, Secure unless ``settings.cookie_secure`` is off).
* Every form carries a CSRF token: the session's own token when logged in, else a
  random token in a short cookie compared with the hidden field (login form).
* After ``LOCK_AFTER`` failed logins an account is locked with doubling back-off.
* A form posted after the session expired is stashed server-side and offered again
  after the next login, so nothing typed is lost.
* Tools use per-user API tokens (``Authorization: Bearer lkb_…``); API routes accept
  only those, never cookies, so they need no CSRF token.

Other modules use ``current_user``, ``require_role(...)``, ``api_user`` and
``check_csrf``; the app puts a ``Store`` at ``app.state.store`` (made lazily from
``app.state.settings`` when absent).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes, urlencode

from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request, Response

from search_api.accounts.store import PASSWORD_HASHER, ROLES, Store, User
from search_api.settings import Settings, get_settings

SESSION_COOKIE = "labourkb_session"
CSRF_COOKIE = "labourkb_csrf"
CSRF_FIELD = "csrf_token"
SESSION_TTL = 8 * 3600
LOCK_AFTER = 5
LOCK_BASE_SECONDS = 60.0
LOCK_MAX_SECONDS = 3600.0
MAX_FORM_BYTES = 5 * 1024 * 1024
# Last path segments of POST-only routes.
ACTION_SEGMENTS = {"submit", "review", "withdraw", "revoke", "logout"}

# Verified against when the user name is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = PASSWORD_HASHER.hash(secrets.token_hex(16))


class LoginError(Exception):
    """Login refused; ``message`` is the Chinese text to show."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ---- wiring -------------------------------------------------------------------


def app_settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def get_store(request: Request) -> Store:
    """The app's store (``app.state.store``), opened on first use."""
    store = getattr(request.app.state, "store", None)
    if store is None:
        store = Store(app_settings(request).store_path)
        request.app.state.store = store
    return store


# ---- passwords and login ------------------------------------------------------


def verify_password(pw_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(store: Store, username: str, password: str) -> User:
    """Check a user name and password, applying lockout. Raises ``LoginError``."""
    found = store.user_with_hash(username)
    if found is None:
        verify_password(_DUMMY_HASH, password or "")
        raise LoginError("用户名或密码错误")
    user, pw_hash = found
    now = time.time()
    if user.locked_until > now:
        minutes = max(1, round((user.locked_until - now) / 60))
        raise LoginError(f"登录失败次数过多，账户已暂时锁定，请约 {minutes} 分钟后再试")
    if not verify_password(pw_hash, password or "") or not user.active:
        locked_until = store.record_login_failure(user.id, LOCK_AFTER, LOCK_BASE_SECONDS, LOCK_MAX_SECONDS)
        if locked_until:
            raise LoginError("登录失败次数过多，账户已暂时锁定，请稍后再试")
        raise LoginError("用户名或密码错误")
    store.record_login_success(user.id)
    if PASSWORD_HASHER.check_needs_rehash(pw_hash):
        store.set_password_hash(user.id, PASSWORD_HASHER.hash(password))
    return user


def start_session(request: Request, response: Response, user: User) -> str:
    """Create a session for ``user`` and set its cookie. Returns the new CSRF token."""
    token, csrf = get_store(request).create_session(user.id, SESSION_TTL)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=app_settings(request).cookie_secure,
        path="/",
    )
    return csrf


def end_session(request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        get_store(request).delete_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


# ---- who is asking ------------------------------------------------------------


@dataclass
class SessionInfo:
    state: str  # "valid" | "expired" | "none"
    user_id: int | None = None
    csrf: str = ""


def session_info(request: Request) -> SessionInfo:
    """Look the session cookie up once per request (cached on ``request.state``)."""
    cached = getattr(request.state, "session_info", None)
    if cached is not None:
        return cached
    info = SessionInfo("none")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store = get_store(request)
        row = store.get_session(token)
        if row is not None:
            now = time.time()
            if row["expires_at"] > now:
                info = SessionInfo("valid", row["user_id"], row["csrf_token"])
                # Sliding expiry: an active user is not logged out mid-work.
                if row["expires_at"] - now < SESSION_TTL / 2:
                    store.extend_session(token, now + SESSION_TTL)
            else:
                info = SessionInfo("expired", row["user_id"], row["csrf_token"])
    request.state.session_info = info
    return info


def current_user(request: Request) -> User | None:
    """The logged-in user of this browser session, or None. Usable as a FastAPI dependency."""
    if hasattr(request.state, "user"):
        return request.state.user
    info = session_info(request)
    user = None
    if info.state == "valid" and info.user_id is not None:
        user = get_store(request).get_user(info.user_id)
        if user is not None and not user.active:
            user = None
    request.state.user = user
    return user


def api_user(request: Request) -> User:
    """Dependency for ``/api/cases…``: the user of a valid ``Authorization: Bearer`` token, else 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = (
        get_store(request).user_for_api_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    )
    if user is None:
        raise HTTPException(
            401, "需要有效的 API 令牌（Authorization: Bearer …）", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


def api_role(*roles: str) -> Callable[[Request], User]:
    """Like ``require_role`` but for bearer-token API routes (401 / 403 as JSON)."""

    def dependency(request: Request) -> User:
        user = api_user(request)
        if roles and user.role not in roles:
            raise HTTPException(403, "无权执行此操作")
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
                restore = await _stash_expired_form(request)
                # Actions (…/submit, …/revoke) have no page of their own: come back to their parent.
                if next_path.rsplit("/", 1)[-1] in ACTION_SEGMENTS:
                    next_path = next_path.rsplit("/", 1)[0]
            elif request.url.query:
                next_path += "?" + request.url.query
            raise HTTPException(303, "请先登录", headers={"Location": login_url(next_path, restore)})
        if roles and user.role not in roles:
            raise HTTPException(403, "无权访问此页面")
        return user

    return dependency


require_login = require_role(*ROLES)

# Annotated dependencies for route signatures.
LoggedIn = Annotated[User, Depends(require_login)]
AdminUser = Annotated[User, Depends(require_role("admin"))]
ApiUser = Annotated[User, Depends(api_user)]


async def _stash_expired_form(request: Request) -> str | None:
    """Keep the form of a user whose session expired, if the post really came from them."""
    info = session_info(request)
    if info.state != "expired" or info.user_id is None:
        return None
    try:
        form = await read_form(request)
    except HTTPException:
        return None
    # The stale session's CSRF token proves the form came from that user's page.
    if not hmac.compare_digest(form.get(CSRF_FIELD, ""), info.csrf):
        return None
    data = {k: v for k, v in form.items() if k != CSRF_FIELD}
    return get_store(request).stash_form(info.user_id, request.url.path, data)


# ---- forms and CSRF -------------------------------------------------------------


class FormData(dict):
    """Posted fields (str → str). ``bad_utf8`` lists fields whose bytes were not valid UTF-8
    (their text is kept with U+FFFD so the user sees what arrived)."""

    bad_utf8: list[str]


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> FormData:
    """Read an urlencoded form with a size cap, decoding each field strictly as UTF-8.

    Raises 413 when the body exceeds ``max_bytes``, 415 for other content types.
    Parsed once per request (cached), so a dependency and the route can both read it.
    """
    cached = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", ""):
        raise HTTPException(415, "仅支持普通表单提交（application/x-www-form-urlencoded）")
    body = await read_body(request, max_bytes)
    form = FormData()
    form.bad_utf8 = []
    for key, value in _parse_urlencoded(body):
        name = key.decode("utf-8", "replace")
        try:
            form[name] = value.decode("utf-8")
        except UnicodeDecodeError:
            form[name] = value.decode("utf-8", "replace")
            form.bad_utf8.append(name)
    request.state.form = form
    return form


def _parse_urlencoded(body: bytes) -> list[tuple[bytes, bytes]]:
    # urllib's parse_qsl decodes as it goes; we need the raw bytes to detect bad UTF-8 per field.
    pairs = []
    for part in body.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        pairs.append((unquote_to_bytes(key.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))))
    return pairs


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing (413) anything over ``max_bytes`` without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"提交内容过大（上限 {max_bytes // (1024 * 1024)} MB）")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"提交内容过大（上限 {max_bytes // (1024 * 1024)} MB）")
        chunks.append(chunk)
    return b"".join(chunks)


def csrf_token(request: Request) -> str:
    """The token to put in a form's hidden ``csrf_token`` field."""
    info = session_info(request)
    if info.state == "valid":
        return info.csrf
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = token
    return token


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the anonymous CSRF cookie if ``csrf_token`` had to create one."""
    token = getattr(request.state, "new_csrf_cookie", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="lax", secure=app_settings(request).cookie_secure, path="/"
        )


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """403 unless the posted ``csrf_token`` matches this session's (or the anonymous cookie's)."""
    sent = form.get(CSRF_FIELD, "")
    info = session_info(request)
    expected = info.csrf if info.state == "valid" else request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "表单已失效或来源不明（CSRF 校验失败），请刷新页面后重试")
