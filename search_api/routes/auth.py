"""Account pages: login, logout, admin user creation, personal API tokens."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from search_api.accounts.auth import AdminUser, LoggedIn, current_user, get_store, safe_next
from search_api.accounts.forms import (
    CSRF_COOKIE,
    HTTPS_NEEDED,
    FormData,
    check_csrf,
    cookies_need_https,
    handle_form,
    read_form,
)
from search_api.accounts.sessions import end_session, start_session
from search_api.accounts.throttle import client_network, login_gate
from search_api.accounts.users import ROLES, LoginError, User
from search_api.deps import client_ip, request_scheme
from search_api.errors import AppError, Invalid, NotFound
from search_api.web.templating import ROLE_LABELS, render_staff, see_other

router = APIRouter(include_in_schema=False)
log = logging.getLogger("labourkb")

SMALL_FORM_BYTES = 64 * 1024
# where each role's work is, after a login that was not for a given page
LANDING = {"staff": "/desk", "reviewer": "/review", "admin": "/review", "lawyer": "/lawyer/"}

# ---- login / logout --------------------------------------------------------------


def _login_page(
    request: Request, form: dict[str, str], error: str = "", status_code: int = 200, retry_after: int = 0
) -> Response:
    ctx = {
        # only a safe page is carried; none, and each role lands where its work is (see login_submit)
        "next": form.get("next") if form.get("next") and safe_next(form.get("next")) == form.get("next") else "",
        "restore": form.get("restore", ""),
        "error": error,
        "username": form.get("username", ""),
        "https_needed": HTTPS_NEEDED if cookies_need_https(request, request_scheme(request)) else "",
    }
    response = render_staff(request, "account/login.html", ctx, status_code=status_code)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "", restore: str = ""):
    """The login form. ``restore`` carries a form stashed when the session expired."""
    if current_user(request) is not None:
        return see_other(safe_next(next))
    return _login_page(request, {"next": next, "restore": restore})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request):
    """Check the password and start a fresh session.

    Too many attempts from this client, or from everyone, are refused at once (429) without
    hashing; the password check itself runs off the event loop (``accounts.throttle``).
    """
    gate = login_gate(request.app)
    address = client_ip(request)
    refusal = gate.admit(address)
    if refusal is not None:
        await gate.hold(refusal)
        return _login_page(request, {}, refusal.message, 429, retry_after=refusal.retry_after)
    form = await read_form(request, max_bytes=SMALL_FORM_BYTES)
    if cookies_need_https(request, request_scheme(request)) and not request.cookies.get(CSRF_COOKIE):
        return _login_page(request, form, HTTPS_NEEDED, 400)
    check_csrf(request, form)
    store = get_store(request)
    username, password, network = form.get("username", ""), form.get("password", ""), client_network(address)

    def check() -> User:
        try:
            store.maybe_purge()
        except Exception:  # cleaning up is never a reason to refuse a login
            log.warning("purging stale sessions failed", exc_info=True)
        return store.users.authenticate(username, password, network)

    try:
        user = await gate.run(check)
    except LoginError as refused:
        return _login_page(request, form, refused.message, refused.status)
    # each role lands where its work is, unless the login was for a given page
    next_path = safe_next(form.get("next")) if form.get("next") else LANDING.get(user.role, "/lawyer/")
    if form.get("restore"):
        next_path += ("&" if "?" in next_path else "?") + urlencode({"restore": form["restore"]})
    response = see_other(next_path)
    # A new session token on every login: a token planted before login is worthless.
    end_session(request, response)
    start_session(request, response, user.id)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request):
    """End the session (CSRF-checked, so other sites cannot log people out)."""
    form = await read_form(request, max_bytes=SMALL_FORM_BYTES)
    if current_user(request) is not None:
        check_csrf(request, form)
    response = see_other("/")
    end_session(request, response)
    return response


# ---- admin: accounts ----------------------------------------------------------------


def _users_page(request: Request, status_code: int = 200, **ctx: Any) -> Response:
    ctx = {"users": get_store(request).users.list(), "roles": ROLES, "error": "", "notice": "", "values": {}, **ctx}
    return render_staff(request, "account/users.html", ctx, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: AdminUser):
    """Accounts list and the form to create one (admins only)."""
    return _users_page(request)


def _user_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "") for name in ("username", "role", "display_name")}
    # one checkbox per district (``district:崂山区``): a form field name holds one value only
    values["districts"] = [key.split(":", 1)[1] for key in form if key.startswith("district:")]
    return values


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(request: Request, user: AdminUser):
    """Create an account: a lawyer (optionally on district rotas), reviewer, admin or district staff."""

    def save(form: FormData) -> Response:
        values = _user_values(form)
        known = request.app.state.settings.district_list
        unknown = [d for d in values["districts"] if d not in known]
        if unknown:
            raise Invalid(f"没有这个区：{'、'.join(unknown)}", {"districts": "请从列表中选择"})
        created = get_store(request).users.create(
            values["username"], form.get("password", ""), values["role"], values["display_name"], values["districts"]
        )
        return _users_page(request, notice=f"已创建账户 {created.username}（{ROLE_LABELS[created.role]}）")

    def again(form: FormData, refusal: AppError) -> Response:
        return _users_page(request, refusal.status, error=refusal.message, values=_user_values(form))

    return await handle_form(request, save, again, max_bytes=SMALL_FORM_BYTES)


# ---- personal API tokens ----------------------------------------------------------------


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, user: LoggedIn):
    """The user's API tokens (for import tools)."""
    tokens = get_store(request).tokens.list(user.id)
    return render_staff(request, "account/tokens.html", {"tokens": tokens, "new_token": ""})


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(request: Request, user: LoggedIn):
    """Issue a token; its value is shown this once only."""
    form = await read_form(request, max_bytes=SMALL_FORM_BYTES)
    check_csrf(request, form)
    tokens = get_store(request).tokens
    token = tokens.create(user.id, form.get("name", ""))
    return render_staff(request, "account/tokens.html", {"tokens": tokens.list(user.id), "new_token": token})


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int, user: LoggedIn):
    form = await read_form(request, max_bytes=SMALL_FORM_BYTES)
    check_csrf(request, form)
    if not get_store(request).tokens.revoke(user.id, token_id):
        raise NotFound("令牌不存在")
    return see_other("/account/tokens")
