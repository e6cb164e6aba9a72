"""Browser fixtures: the real server on 127.0.0.1 and Debian's Chromium driven by Playwright.

Chromium comes from the system package (``apt-get install chromium``; scripts/test.sh does
it), never from ``playwright install``. Without it the browser tests skip, unless
LABOURKB_REQUIRE_BROWSER is set (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO_ROOT, make_settings

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 900}}


def _unavailable(reason: str) -> None:
    if os.environ.get("LABOURKB_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests required (LABOURKB_REQUIRE_BROWSER) but {reason}")
    pytest.skip(reason)


def _chromium() -> str:
    for candidate in (os.environ.get("LABOURKB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    _unavailable("Chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app):
    """Serve ``app`` with uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, corpus_index):
    """The site served over the ingested real corpus; yields its base URL."""
    from search_api.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("browser-data"), sqlite_path=corpus_index)
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A page plus what it did: every request URL, requests that tried to leave, dialogs."""

    def __init__(self, page, base: str):
        self.page = page
        self.base = base
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.dialogs: list[str] = []

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def open_page(browser, live_server):
    """Factory: a fresh context at a named viewport; checks afterwards that nothing left 127.0.0.1."""
    contexts = []
    watched: list[Watched] = []

    def make(viewport: str = "phone", javascript: bool = True) -> Watched:
        context = browser.new_context(
            viewport=VIEWPORTS[viewport],
            java_script_enabled=javascript,
            locale="zh-CN",
            is_mobile=viewport == "phone",
            has_touch=viewport == "phone",
        )
        contexts.append(context)
        page = context.new_page()
        w = Watched(page, live_server)

        def guard(route):
            url = route.request.url
            if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "about:")):
                route.continue_()
            else:
                w.blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        page.on("request", lambda r: w.requests.append(r.url))
        page.on("dialog", lambda d: (w.dialogs.append(d.message), d.dismiss()))
        watched.append(w)
        return w

    yield make
    for w in watched:
        outside = [u for u in w.requests if urlsplit(u).hostname not in ("127.0.0.1", None)]
        assert not w.blocked and not outside, f"requests left 127.0.0.1: {w.blocked or outside}"
    for c in contexts:
        c.close()
