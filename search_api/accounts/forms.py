"""Staff forms: reading a posted form safely, CSRF tokens, and showing a refused form again.

* ``read_form`` caps the body size and decodes each field strictly as UTF-8 (fields that
  were not valid UTF-8 are listed in ``FormData.bad_utf8``, so the form can say which).
* Every form carries a CSRF token: the session's own token when logged in, else a random
  token in a short cookie compared with the hidden field (the login form).
* ``handle_form`` is the one place a route turns a refusal (``Invalid``, a login error …)
  into its form shown again with everything that was typed; other refusals go to the edge.
* A form posted after the session expired is stashed (``stash_expired_form``) and offered
  again after the next login.
* Over plain HTTP with ``LABOURKB_COOKIE_SECURE`` on, the browser drops the Secure cookies,
  so no form could pass its CSRF check: ``cookies_need_https`` (with the scheme from
  ``deps.request_scheme``, which believes only trusted proxies) tells the login page to say
  so (``HTTPS_NEEDED``) instead of failing with a CSRF error; a loopback host needs no HTTPS.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from fastapi import HTTPException, Request, Response

from search_api.accounts.sessions import session_info
from search_api.errors import AppError, Forbidden, Invalid

CSRF_COOKIE = "labourkb_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 5 * 1024 * 1024
HTTPS_NEEDED = (
    "此页面是通过普通 HTTP 打开的，但本站的登录 Cookie 只能通过 HTTPS 传送，浏览器不会保存它，"
    "所以在这里无法登录。请改用 https:// 开头的地址访问本站；如果本站只在受信任的局域网内用 HTTP 提供，"
    "请管理员设置环境变量 LABOURKB_COOKIE_SECURE=false 后重启服务。"
)


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


# ---- CSRF ------------------------------------------------------------------------------


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
        secure = request.app.state.settings.cookie_secure
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def cookies_need_https(request: Request, scheme: str) -> bool:
    """True when this request came over plain HTTP (``scheme``, as ``deps.request_scheme``
    decides it behind trusted proxies) but cookies are sent only over HTTPS.

    Browsers keep Secure cookies for a loopback host (``localhost``, ``127.x``, ``[::1]``):
    there plain HTTP works, as with ``make serve``, and no notice is due.
    """
    if not request.app.state.settings.cookie_secure or scheme != "http":
        return False
    return not _is_loopback(request.url.hostname or "")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """403 unless the posted ``csrf_token`` matches this session's (or the anonymous cookie's)."""
    sent = form.get(CSRF_FIELD, "")
    info = session_info(request)
    expected = info.csrf if info.state == "valid" else request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("表单已失效或来源不明（CSRF 校验失败），请刷新页面后重试")


# ---- posting a form ----------------------------------------------------------------------


async def handle_form(
    request: Request,
    save: Callable[[FormData], Response],
    redisplay: Callable[[FormData, AppError], Response],
    *,
    refusals: tuple[type[AppError], ...] = (Invalid,),
    max_bytes: int = MAX_FORM_BYTES,
) -> Response:
    """Read the posted form (CSRF-checked) and ``save`` it.

    When ``save`` is refused with one of ``refusals``, the answer is ``redisplay``: the
    page's form again with everything typed and the refusal's messages. Any other error
    goes to the edge (``search_api.web.errors``) like everywhere else.
    """
    form = await read_form(request, max_bytes)
    check_csrf(request, form)
    try:
        return save(form)
    except refusals as refusal:
        return redisplay(form, refusal)


async def stash_expired_form(request: Request) -> str | None:
    """Keep the form of a user whose session expired, if the post really came from them.

    Returns the token that restores it after login (None when nothing was kept).
    """
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
    return request.app.state.store.sessions.stash_form(info.user_id, request.url.path, data)
