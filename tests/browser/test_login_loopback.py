"""With Secure cookies on (the default), a login over plain HTTP to 127.0.0.1 works in Chromium.

Browsers treat loopback as a secure context and keep Secure cookies there, which is why the login
page shows its "use HTTPS" notice only for other hosts (``accounts.forms.cookies_need_https``)
and ``make serve`` needs no TLS.
"""

from __future__ import annotations

from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.fixtures.cases import PASSWORD, make_app


def test_login_over_http_on_loopback_with_secure_cookies(browser, tmp_path):
    app = make_app(make_settings(tmp_path / "data", cookie_secure=True), engine_docs=False)
    app.state.store.users.create("lawyer1", PASSWORD, "lawyer")
    with serve(app) as url:
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.goto(url + "/login")
        assert "LABOURKB_COOKIE_SECURE" not in page.content()
        page.fill("#username", "lawyer1")
        page.fill("#password", PASSWORD)
        page.click("form[action='/login'] button")
        page.wait_for_url("**/lawyer/")
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["labourkb_session"]["secure"] and cookies["labourkb_session"]["httpOnly"]
        context.close()
