"""Markup a reader never sees as article text, removed before the article is looked for.

General rules about how pages are built, not about any site: junk elements (scripts,
form controls, navigation landmarks, struck-through text) and whatever an inline style or
a page's own ``<style>`` rule makes invisible (``display:none``, off-screen offsets, tiny
fonts, zero-size boxes). Injected link farms usually hide themselves one of these ways.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

# Tags whose content is never article text. Not "form": ASP.NET pages, common on
# government sites, wrap the whole body in one.
_JUNK_TAGS = frozenset(
    (
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "svg",
        "canvas",
        "button",
        "input",
        "select",
        "textarea",
        "nav",
        "header",
        "footer",
        "aside",
        "menu",
        "marquee",
        "s",
        "strike",
        "del",
        "head",
    )
)
_JUNK_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}


def remove_invisible_and_junk(soup: BeautifulSoup) -> None:
    """Detach junk elements and every element the page's styles make invisible (in place)."""
    doomed: list[Tag] = []
    for selector in _hidden_selectors_from_css(soup):
        doomed.extend(_safe_select(soup, selector))
    for el in soup.find_all(True):
        if (
            el.name in _JUNK_TAGS
            or el.has_attr("hidden")
            or el.get("aria-hidden") == "true"
            or str(el.get("role", "")).lower() in _JUNK_ROLES
            or _hidden_by_style(el)
        ):
            doomed.append(el)
    # extract(), not decompose(): detaching an element nested in one already detached is
    # harmless, and bs4's Tag.decomposed check costs a subtree search per call.
    for el in doomed:
        el.extract()


def _safe_select(soup: BeautifulSoup, selector: str) -> list[Tag]:
    try:
        return soup.select(selector)
    except Exception:  # a selector soupsieve rejects is simply not applied
        return []


_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SIMPLE_SELECTOR = re.compile(r"^[a-zA-Z]*(?:[.#][\w-]+)+$")


def _hidden_selectors_from_css(soup: BeautifulSoup) -> list[str]:
    """Simple selectors (``.x``, ``#y``, ``div.x``) that a page's own CSS hides.

    Injected link farms often hide themselves with a class defined in a ``<style>`` block.
    Compound or descendant selectors are ignored: applying only part of one could hide
    the article.
    """
    selectors = []
    for style in soup.find_all("style"):
        css = re.sub(r"/\*.*?\*/", "", style.get_text(), flags=re.S)
        # Rules inside @media (print, narrow screens) do not hide text on every screen.
        css = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css)
        for sel_text, body in _CSS_RULE.findall(css):
            if not _style_hides(body):
                continue
            for sel in sel_text.split(","):
                sel = sel.strip()
                if _SIMPLE_SELECTOR.match(sel):
                    selectors.append(sel)
    return selectors


def _hidden_by_style(el: Tag) -> bool:
    style = str(el.get("style", ""))
    if not style:
        return False
    if _style_hides(style, check_font=False):
        return True
    if not _style_hides(style):
        return False
    # "font-size:0" on a wrapper is also a layout trick to close gaps between inline
    # blocks; the children then set their own size and are visible.
    return not any("font-size" in str(d.get("style", "")).lower() for d in el.find_all(True))


_LENGTH = re.compile(r"^(-?\d*\.?\d+)\s*([a-z%]*)")


def _style_hides(style: str, check_font: bool = True) -> bool:
    """True when an inline style makes the element invisible to a reader."""
    if not style:
        return False
    decl: dict[str, str] = {}
    for part in style.lower().split(";"):
        if ":" in part:
            key, _, value = part.partition(":")
            decl[key.strip()] = value.replace("!important", "").strip()
    if decl.get("display") == "none" or decl.get("visibility") in ("hidden", "collapse"):
        return True
    opacity = _number(decl.get("opacity", ""))
    if opacity is not None and opacity[0] <= 0.05:
        return True
    size = _number(decl.get("font-size", "")) if check_font else None
    if size is not None:
        value, unit = size
        limits = {"px": 3, "pt": 2, "": 3, "em": 0.2, "rem": 0.2, "%": 20}
        if value <= limits.get(unit, 0):
            return True
    for key in ("left", "top", "margin-left", "margin-top", "text-indent", "right"):
        offset = _number(decl.get(key, ""))
        if offset is not None and offset[0] <= -300 and offset[1] in ("px", "", "pt"):
            return True
        if offset is not None and offset[0] <= -50 and offset[1] in ("em", "rem"):
            return True
    if decl.get("overflow") == "hidden":
        for key in ("height", "width", "max-height", "max-width"):
            box = _number(decl.get(key, ""))
            if box is not None and box[0] <= 1:
                return True
    return False


def _number(value: str) -> tuple[float, str] | None:
    match = _LENGTH.match(value.strip())
    if not match:
        return None
    return float(match.group(1)), match.group(2)
