"""Jinja2 environment and the one ``render`` every page goes through.

Public pages may be shown in traditional characters (``?script=trad`` or the remembered
cookie): the whole page is converted after rendering. Staff pages (``private=True``) get
the logged-in user and the form's CSRF token, and are never cached.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from ingest.normalise import to_traditional
from search_api.accounts.auth import current_user
from search_api.accounts.forms import csrf_token, set_csrf_cookie
from search_api.db import parse_iso
from search_api.search.nextsteps import COMMON_TROUBLES, HOTLINES
from search_api.search.present import KIND_LABELS, doc_url
from search_api.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SCRIPT_COOKIE = "script"
ROLE_LABELS = {"lawyer": "律师", "reviewer": "审核人", "admin": "管理员", "staff": "区县工作人员"}

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def linked_text(text: str, citations: Iterable[dict[str, Any]] = (), self_id: str = "") -> Markup:
    """Escape ``text`` and turn each resolved citation in it into a link to its article.

    Citations carry the text as written (``raw``) but no position, so they are matched in
    order of appearance: the n-th occurrence of a raw string takes the n-th citation
    with that string, which keeps 第四十条 of two different laws apart.
    """
    pending: dict[str, list[str]] = {}
    for c in citations:
        raw, target = c.get("raw") or "", c.get("target")
        if raw and target and target != self_id:
            pending.setdefault(raw, []).append(target)
    if not pending:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(r) for r in sorted(pending, key=len, reverse=True)))
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        targets = pending[m.group(0)]
        target = targets.pop(0) if len(targets) > 1 else targets[0]
        out.append(escape(text[last : m.start()]))
        out.append(Markup('<a class="cite" href="{}">{}</a>').format(doc_url(target), m.group(0)))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


_TAG = re.compile(r"(<[^>]*>)")


def linked_html(html: str, citations: Iterable[dict[str, Any]] = ()) -> Markup:
    """Sanitised HTML (``render_markdown``) with each resolved citation in its text linked to its
    article, as ``linked_text`` does for plain text; text already inside a link is left alone."""
    cites = list(citations)
    out, in_link = [], False
    for part in _TAG.split(str(html)):
        if part.startswith("<"):
            in_link = part.startswith("<a ") or (in_link and not part.startswith("</a"))
            out.append(part)
        elif part and not in_link:
            # the text is already escaped HTML: unescape-free matching works because citations hold no <>&"
            out.append(str(linked_text(Markup(part).unescape(), cites)))
        else:
            out.append(part)
    return Markup("".join(out))


def paragraphs(text: str, citations: Iterable[dict[str, Any]] = (), self_id: str = "") -> list[Markup]:
    """Split a document text on blank lines; each paragraph escaped, with citations linked."""
    cites = list(citations)
    return [linked_text(p.strip(), cites, self_id) for p in _PARAGRAPH_BREAK.split(text or "") if p.strip()]


SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(stamp: str | None) -> str:
    """A stored UTC timestamp as the union reads it: ``2026-11-30 09:05`` in Asia/Shanghai."""
    if not stamp:
        return ""
    return parse_iso(stamp).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


class SiteEnvironment(jinja2.Environment):
    """Jinja's environment, reading ``x.name`` on a plain dict as ``x["name"]`` first.

    Jinja tries ``getattr`` first, and the pages' hits, facets and links are dicts: every ``h.title``
    raised and caught an AttributeError before the key was read — the largest single cost of
    rendering a result page (docs/benchmarks.md, session 19). A key shadows a dict method of the same
    name (``g.items``); templates spell such keys ``g['items']`` anyway, as Jinja's docs advise."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def site_templates() -> Jinja2Templates:
    """The site's templates (autoescaped, as Starlette's default environment is)."""
    return Jinja2Templates(env=SiteEnvironment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True))


def configure(templates: Jinja2Templates, settings: Settings, static_url: Callable[[str], str]) -> Jinja2Templates:
    """The site's Jinja globals and filters; ``static_url(name)`` links a static file (hashed name)."""
    env = templates.env
    # the templates are the package's files: they change with an upgrade, which restarts the server
    # (checking each one's mtime on every render was 5 % of a result page)
    env.auto_reload = False
    env.globals["static_url"] = static_url
    env.globals["kind_labels"] = KIND_LABELS
    env.globals["settings"] = settings
    env.globals["common_troubles"] = COMMON_TROUBLES
    env.globals["hotlines"] = HOTLINES
    env.filters["traditional"] = to_traditional
    env.filters["paragraphs"] = paragraphs
    env.filters["linked"] = linked_text
    env.filters["local_time"] = local_time
    return templates


def script_of(request: Request) -> str:
    """'trad' or 'simp': the ?script= parameter wins over the remembered cookie."""
    choice = request.query_params.get("script") or request.cookies.get(SCRIPT_COOKIE)
    return "trad" if choice == "trad" else "simp"


def _switch_url(request: Request, script: str) -> str:
    limit = request.app.state.settings.max_query_chars
    params = [(k, v[:limit] if k == "q" else v) for k, v in request.query_params.multi_items() if k != "script"]
    params.append(("script", "simp" if script == "trad" else "trad"))
    return f"{request.url.path}?{urlencode(params)}"


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200, *, private: bool = False
) -> HTMLResponse:
    """Render ``template`` (autoescaped) with the page's common context.

    ``private``: a staff page: adds ``user``, ``csrf_token`` and ``role_labels``, marks the
    response ``no-store`` (forms carry tokens) and sends the anonymous CSRF cookie when one
    was created. Otherwise the 繁/简 choice applies to the whole page.
    """
    script = "simp" if private else script_of(request)
    ctx: dict[str, Any] = {"request": request, "q": "", "script": script}
    if private:
        ctx.update(user=current_user(request), csrf_token=csrf_token(request), role_labels=ROLE_LABELS)
    else:
        ctx["switch_url"] = _switch_url(request, script)
    ctx.update(context)
    html = request.app.state.templates.get_template(template).render(ctx)
    if script == "trad":
        html = to_traditional(html)
    response = HTMLResponse(html, status_code=status_code)
    if private:
        response.headers["Cache-Control"] = "no-store"
        set_csrf_cookie(request, response)
    else:
        wanted = request.query_params.get("script")
        if wanted in ("trad", "simp") and request.cookies.get(SCRIPT_COOKIE) != wanted:
            response.set_cookie(SCRIPT_COOKIE, wanted, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


def render_staff(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """``render`` for a staff page (accounts, lawyers, review)."""
    return render(request, template, context, status_code, private=True)


def see_other(url: str) -> RedirectResponse:
    """303 to ``url``: where a form post goes next."""
    return RedirectResponse(url, status_code=303)
