"""Account pages: login, logout, admin user creation, personal API tokens.

Also holds ``render``, the template helper every account and lawyer page uses: it
adds the user and CSRF token to the context, sends the anonymous CSRF cookie
when one was created, and marks the response ``no-store`` (forms carry tokens).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from search_api.accounts.auth import (
    CSRF_COOKIE,
    AdminUser,
    LoggedIn,
    LoginError,
    authenticate,
    check_csrf,
    current_user,
    end_session,
    get_store,
    read_form,
    safe_next,
    start_session,
)
from search_api.accounts.store import ROLES, StoreError
from search_api.web.templating import ROLE_LABELS, render_staff, see_other

router = APIRouter(include_in_schema=False)

# ---- login / logout --------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "", restore: str = ""):
    """The login form. ``restore`` carries a form stashed when the session expired."""
    if current_user(request) is not None:
        return see_other(safe_next(next))
    return render_staff(request, "account/login.html", {"next": safe_next(next), "restore": restore, "error": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request):
    """Check the password (with lockout) and start a fresh session."""
    form = await read_form(request, max_bytes=64 * 1024)
    check_csrf(request, form)
    next_path = safe_next(form.get("next"))
    restore = form.get("restore", "")
    try:
        user = authenticate(get_store(request), form.get("username", ""), form.get("password", ""))
    except LoginError as e:
        ctx = {"next": next_path, "restore": restore, "error": e.message, "username": form.get("username", "")}
        return render_staff(request, "account/login.html", ctx, status_code=400)
    if restore:
        next_path += ("&" if "?" in next_path else "?") + urlencode({"restore": restore})
    response = see_other(next_path)
    # A new session token on every login: a token planted before login is worthless.
    end_session(request, response)
    start_session(request, response, user)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request):
    """End the session (CSRF-checked, so other sites cannot log people out)."""
    form = await read_form(request, max_bytes=64 * 1024)
    if current_user(request) is not None:
        check_csrf(request, form)
    response = see_other("/")
    end_session(request, response)
    return response


# ---- admin: accounts ----------------------------------------------------------------


def _users_page(
    request: Request, error: str = "", notice: str = "", values: dict | None = None, status_code: int = 200
):
    ctx = {
        "users": get_store(request).list_users(),
        "roles": ROLES,
        "error": error,
        "notice": notice,
        "values": values or {},
    }
    return render_staff(request, "account/users.html", ctx, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: AdminUser):
    """Accounts list and the form to create one (admins only)."""
    return _users_page(request)


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(request: Request, user: AdminUser):
    """Create a lawyer, reviewer or admin account."""
    form = await read_form(request, max_bytes=64 * 1024)
    check_csrf(request, form)
    values = {
        "username": form.get("username", ""),
        "role": form.get("role", ""),
        "display_name": form.get("display_name", ""),
    }
    try:
        created = get_store(request).create_user(
            values["username"], form.get("password", ""), values["role"], values["display_name"]
        )
    except StoreError as e:
        return _users_page(request, error=e.message, values=values, status_code=422)
    return _users_page(request, notice=f"已创建账户 {created.username}（{ROLE_LABELS[created.role]}）")


# ---- personal API tokens ----------------------------------------------------------------


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, user: LoggedIn):
    """The user's API tokens (for import tools)."""
    return render_staff(
        request, "account/tokens.html", {"tokens": get_store(request).list_api_tokens(user.id), "new_token": ""}
    )


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(request: Request, user: LoggedIn):
    """Issue a token; its value is shown this once only."""
    form = await read_form(request, max_bytes=64 * 1024)
    check_csrf(request, form)
    store = get_store(request)
    token = store.create_api_token(user.id, form.get("name", ""))
    return render_staff(request, "account/tokens.html", {"tokens": store.list_api_tokens(user.id), "new_token": token})


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int, user: LoggedIn):
    form = await read_form(request, max_bytes=64 * 1024)
    check_csrf(request, form)
    if not get_store(request).revoke_api_token(user.id, token_id):
        raise HTTPException(404, "令牌不存在")
    return see_other("/account/tokens")
