"""Remove personal data before anything is logged: query text, tokens, visitor identity.

Workers type their own identity-card, phone and bank-card numbers into the search box
("身份证110101199003071234被公司扣了"). None of it may reach the query log, the
monitoring feed or an export, so every store writes ``redact(q)``, never ``q``.

The rules err on the side of removing too much: any leftover run of 11 or more digits
is replaced as well, because no legal question needs one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from typing import Any

ID_CARD = "[身份证号]"
PHONE = "[手机号]"
BANK_CARD = "[银行卡号]"
EMAIL = "[邮箱]"
NUMBER = "[数字]"

# Texts longer than this are cut before the regexes run (bounded cost on hostile input).
_HARD_CAP = 20_000

_SEP = r"[ \-]?"
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# 18-digit (last may be X) and the old 15-digit numbers, optionally grouped 6-8-4 / 6-6-3.
_ID18_RE = re.compile(rf"(?<![0-9A-Za-z])\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}[\dXx](?![0-9A-Za-z])")
_ID15_RE = re.compile(rf"(?<![0-9A-Za-z])\d{{6}}{_SEP}\d{{6}}{_SEP}\d{{3}}(?![0-9A-Za-z])")
# Mainland mobile numbers with an optional +86/0086/86 prefix and spaces or dashes anywhere.
_PHONE_RE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ \-]?)?1[3-9](?:[ \-]?\d){9}(?!\d)")
# 13–19 digits, possibly grouped by spaces or dashes (bank cards are printed 4-4-4-4-3).
_CARD_RE = re.compile(r"(?<!\d)\d(?:[ \-]?\d){12,18}(?!\d)")
_LONG_DIGITS_RE = re.compile(r"\d{11,}")
_SPACES_RE = re.compile(r"\s+")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    # A failed Luhn check can be a typo; 16+ digits are never anything but a card or worse.
    if _luhn_ok(digits) or len(digits) >= 16:
        return BANK_CARD
    return match.group(0)


def clean_text(text: str) -> str:
    """NFKC-normalise (full-width digits and @ become ASCII) and drop control characters.

    Format characters (zero-width spaces …) are removed outright so they cannot be used
    to split a number past the patterns; other control characters become spaces.
    """
    text = unicodedata.normalize("NFKC", text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cf":
            continue
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    return _SPACES_RE.sub(" ", "".join(out)).strip()


def redact(q: str | None, max_chars: int = 200) -> str:
    """Return ``q`` with personal numbers and e-mail addresses replaced by placeholders.

    Identity-card numbers → ``[身份证号]``, mobile numbers → ``[手机号]``, bank-card
    numbers → ``[银行卡号]``, e-mail addresses → ``[邮箱]``, any other run of 11+ digits →
    ``[数字]``. Control characters are stripped and the result is cut to ``max_chars``
    (after redaction, so a cut can never leave part of a number behind).

    >>> redact("我的电话是138-1234-5678，身份证110101199003071234")
    '我的电话是[手机号],身份证[身份证号]'
    """
    if not q:
        return ""
    if len(q) > _HARD_CAP:
        # Drop a trailing digit run the cut may have split, so no fragment survives.
        q = q[:_HARD_CAP].rstrip("0123456789０１２３４５６７８９ -")
    text = clean_text(q)
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _ID18_RE.sub(ID_CARD, text)
    text = _PHONE_RE.sub(PHONE, text)
    text = _ID15_RE.sub(ID_CARD, text)
    text = _CARD_RE.sub(_card, text)
    text = _LONG_DIGITS_RE.sub(NUMBER, text)
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
    return text


def redact_tokens(tokens: list[Any], *, drop_digits: bool) -> list[str]:
    """Tokens pass through the same redaction; after a redaction hit, digit tokens go entirely
    (a phone number typed as 138 1234 5678 becomes three harmless-looking tokens)."""
    out = []
    for tok in tokens:
        tok = str(tok)
        if drop_digits and any(ch.isdigit() for ch in tok):
            continue
        tok = redact(tok, 40)
        if tok and "[" not in tok:
            out.append(tok)
    return out


def redact_filters(filters: dict[str, Any]) -> dict[str, list[str]]:
    """Filter names and values through :func:`redact` (they can be typed by hand in the API)."""
    out: dict[str, list[str]] = {}
    for key, values in list(filters.items())[:10]:
        if isinstance(values, (str, int, float)):
            values = [values]
        out[redact(str(key), 32)] = [redact(str(v), 60) for v in list(values or [])[:10]]
    return out


# ---------------------------------------------------------------- pseudonymous visitor id

_UA_BROWSERS = (
    ("wechat", re.compile(r"MicroMessenger", re.I)),
    ("edge", re.compile(r"Edg/", re.I)),
    ("uc", re.compile(r"UCBrowser", re.I)),
    ("chrome", re.compile(r"Chrome/|CriOS/", re.I)),
    ("firefox", re.compile(r"Firefox/|FxiOS/", re.I)),
    ("safari", re.compile(r"Safari/", re.I)),
    ("curl", re.compile(r"^(curl|wget|python|httpx)", re.I)),
)
_BOT_RE = re.compile(r"bot|spider|crawl|slurp", re.I)
_MOBILE_RE = re.compile(r"Mobile|Android|iPhone|iPad", re.I)


def ua_family(user_agent: str | None) -> str:
    """A coarse browser family such as ``chrome/mobile``; the full string is never kept."""
    ua = user_agent or ""
    if _BOT_RE.search(ua):
        return "bot"
    name = next((n for n, rx in _UA_BROWSERS if rx.search(ua)), "other")
    return f"{name}/{'mobile' if _MOBILE_RE.search(ua) else 'desktop'}"


@lru_cache(maxsize=4)
def _day_salt(secret: bytes, day: str) -> bytes:
    return hmac.new(secret, f"visitor-salt:{day}".encode(), hashlib.sha256).digest()


def make_client_id(secret: bytes, ip: str | None, user_agent: str | None, when: datetime) -> str:
    """HMAC-SHA256(day salt, IP | browser family): stable within one UTC day, unlinkable across days."""
    salt = _day_salt(secret, when.strftime("%Y-%m-%d"))
    msg = f"{ip or '-'}|{ua_family(user_agent)}".encode()
    return hmac.new(salt, msg, hashlib.sha256).hexdigest()[:32]
