"""Remove personal data before anything is logged: query text, tokens, visitor identity.

Workers type their own identity-card, phone and bank-card numbers into the search box
("身份证110101199003071234被公司扣了"). None of it may reach the query log, the
monitoring feed or an export, so every store writes ``redact(q)``, never ``q``.

The rules err on the side of removing too much: any run of 11 or more digits — however it
is written: ``138.1234.5678``, ``138 1234 5678``, full-width, 一三八一二三四五六七八 — is
replaced, because no legal question needs one.

Visitors are never stored either: :func:`make_client_id` and :func:`make_network_id` are
HMACs under a salt that changes every UTC day, of the browser family and the address
(client id) or of the address's network only (network id, what early warnings count).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections.abc import Sequence
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

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

# Chinese numerals a number can be typed in (一三八一二三四五六七八, 幺 for 1, 两 for 2, 〇).
_CN_DIGITS = dict(zip("〇零一幺壹二两贰三叁四肆五伍六陆七柒八捌九玖", "0011122233445566778899", strict=True))
_DIGIT = r"(?:\d|[" + "".join(_CN_DIGITS) + "])"
# What people put between the groups of a number (after NFKC, full-width forms are ASCII already).
_SEP = r"[\s\-./_·•,、;:~*#()—–。]"
# A run of digits with at most three separator characters between two digits, optionally "+"
# in front (+86) and X at the end (identity cards). The digit and separator sets are disjoint,
# so the match is linear in the length of the text.
_RUN_RE = re.compile(rf"\+?{_DIGIT}(?:{_SEP}{{0,3}}{_DIGIT})*(?:{_SEP}{{0,3}}[Xx](?![A-Za-z]))?")
_STRONG_SEP_RE = re.compile(r"[\s,、;]+")
_NON_DIGIT_RE = re.compile(r"[^0-9]+")
_MIN_DIGITS = 11  # no legal question needs a number this long; every personal number has at least this many
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


def _digits(run: str) -> str:
    """The ASCII digits of a run (any script's digits, Chinese numerals), X kept."""
    out = []
    for ch in run:
        if ch in _CN_DIGITS:
            out.append(_CN_DIGITS[ch])
        elif ch in "Xx":
            out.append("X")
        elif ch.isdigit():
            out.append(str(unicodedata.digit(ch, 0)))
    return "".join(out)


def _is_date_list(run: str) -> bool:
    """``2023.01.15-2024.01.15``: dates written with separators, not a personal number."""
    groups = [g for g in _NON_DIGIT_RE.split(run) if g]
    if not groups or len(groups) % 3 or not all(g.isascii() for g in groups):
        return False
    for i in range(0, len(groups), 3):
        y, m, d = groups[i : i + 3]
        if not (len(y) == 4 and y[:2] in ("19", "20") and len(m) <= 2 and len(d) <= 2):
            return False
        if not (1 <= int(m) <= 12 and 1 <= int(d) <= 31):
            return False
    return True


def _kind(digits: str) -> str | None:
    """The placeholder for one number (digits, maybe ending in X), or None when it is short."""
    n = len(digits.rstrip("X"))
    if digits.endswith("X"):
        return ID_CARD if n == 17 else (NUMBER if n >= _MIN_DIGITS else None)
    if n < _MIN_DIGITS:
        return None
    if re.fullmatch(r"(?:0086|86)?1[3-9]\d{9}", digits):
        return PHONE
    if n in (15, 18):
        return ID_CARD
    if 13 <= n <= 19 and (_luhn_ok(digits) or n >= 16):
        # A failed Luhn check can be a typo; 16+ digits are never anything but a card or worse.
        return BANK_CARD
    return NUMBER


def _run(match: re.Match[str], removed: list[str]) -> str:
    text = match.group(0)
    digits = _digits(text)
    if len(digits.rstrip("X")) < _MIN_DIGITS or _is_date_list(text):
        return text
    # Several numbers in a row ("2024.1.5 13812345678", "13812345678, 13912345678") are told
    # apart at spaces and commas when one piece alone is long; otherwise the run is one number
    # whatever its grouping ("138 1234 5678", "6222 0212 3456 7890 128").
    pieces = _STRONG_SEP_RE.split(text)
    if len(pieces) > 1 and _kind(digits) != PHONE and any(len(_digits(p).rstrip("X")) >= _MIN_DIGITS for p in pieces):
        out, pos = [], 0
        for piece in pieces:
            at = text.index(piece, pos)
            out.append(text[pos:at])
            kind = _kind(_digits(piece)) if not _is_date_list(piece) else None
            if kind:
                removed.append(piece)
                out.append(kind)
            else:
                out.append(piece)
            pos = at + len(piece)
        out.append(text[pos:])
        joined = "".join(out)
        # Short leftovers of a redacted run must not add up to a number either.
        if len(_digits(joined).rstrip("X")) < _MIN_DIGITS or _is_date_list(joined):
            return joined
    removed.append(text)
    return _kind(digits) or NUMBER


def clean_text(text: str) -> str:
    """NFKC-normalise (full-width digits and @ become ASCII) and drop control characters.

    Format characters (zero-width spaces …) are removed outright so they cannot be used
    to split a number past the patterns; other control characters become spaces.
    """
    text = unicodedata.normalize("NFKC", text)
    if text.isprintable():  # no control, format or separator characters but spaces: the common case
        return _SPACES_RE.sub(" ", text).strip()
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


def redact_spans(q: str | None, max_chars: int = 200) -> tuple[str, list[str]]:
    """:func:`redact`, and the pieces of text it removed (to drop tokens cut from them)."""
    if not q:
        return "", []
    if len(q) > _HARD_CAP:
        # Drop a trailing digit run the cut may have split, so no fragment survives.
        q = q[:_HARD_CAP].rstrip("0123456789０１２３４５６７８９ -" + "".join(_CN_DIGITS))
    text = clean_text(q)
    removed: list[str] = []

    def email(match: re.Match[str]) -> str:
        removed.append(match.group(0))
        return EMAIL

    text = _EMAIL_RE.sub(email, text)
    text = _RUN_RE.sub(lambda m: _run(m, removed), text)
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
    return text, removed


def redact(q: str | None, max_chars: int = 200) -> str:
    """Return ``q`` with personal numbers and e-mail addresses replaced by placeholders.

    A number is a run of digits — ASCII, full-width or Chinese numerals (一三八…, 幺, 两, 〇) —
    with up to three separators between digits (space, ``- . / _ ,`` …). A run of 11 or more
    digits is always replaced: an identity-card number (18 digits or 17 + X, or the old 15)
    by ``[身份证号]``, a mainland mobile number (optionally +86/0086) by ``[手机号]``, a card
    number (13–19 digits passing Luhn, or 16+) by ``[银行卡号]``, anything else by ``[数字]``.
    Dates written with separators (``2023.01.15-2024.01.15``) are kept. E-mail addresses
    become ``[邮箱]``. Control characters are stripped and the result is cut to
    ``max_chars`` (after redaction, so a cut can never leave part of a number behind).

    >>> redact("我的电话是138.1234.5678，身份证110101199003071234")
    '我的电话是[手机号],身份证[身份证号]'
    """
    return redact_spans(q, max_chars)[0]


def _touches(token: str, span: str) -> bool:
    """``token`` lies inside ``span`` or overlaps one of its ends by two or more characters."""
    if token in span:
        return True
    ends = range(2, min(len(token), len(span)) + 1)
    return any(token[-k:] == span[:k] or token[:k] == span[-k:] for k in ends)


def redact_tokens(tokens: list[Any], *, drop_digits: bool, removed: Sequence[str] = ()) -> list[str]:
    """Tokens pass through the same redaction; after a redaction hit, digit tokens go entirely
    (a phone number typed as 138 1234 5678 becomes three harmless-looking tokens), and so do
    tokens cut from a removed piece of text (``zhang``, ``example`` of an e-mail address,
    ``一三八`` of a phone number in Chinese numerals)."""
    spans = [clean_text(s).lower() for s in removed]
    out = []
    for tok in tokens:
        tok = str(tok)
        numeric = any(ch.isdigit() or ch in _CN_DIGITS for ch in tok)
        if drop_digits and numeric:
            continue
        if spans and any(_touches(clean_text(tok).lower(), s) for s in spans):
            continue
        if numeric or "@" in tok or len(tok) > 40 or not tok.isprintable() or not _is_nfkc(tok):
            tok = redact(tok, 40)
        if tok and "[" not in tok:
            out.append(tok)
    return out


def _is_nfkc(text: str) -> bool:
    return unicodedata.is_normalized("NFKC", text)


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


@lru_cache(maxsize=1024)
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


@lru_cache(maxsize=4096)
def network_of(ip: str | None) -> str:
    """The network an address belongs to: its /24 (IPv4) or /64 (IPv6); anything else as given.

    One household, office or phone-carrier NAT shares a network, and changing it takes a
    different connection, while a browser's User-Agent can be changed at will: early
    warnings count networks (:func:`make_network_id`), not browsers.

    >>> network_of("203.0.113.9"), network_of("2001:db8:1:2:3:4:5:6")
    ('203.0.113.0/24', '2001:db8:1:2::/64')
    """
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ip or "-"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def make_network_id(secret: bytes, ip: str | None, when: datetime) -> str:
    """HMAC-SHA256(day salt, network of ``ip``): one value per network per UTC day, never the address."""
    salt = _day_salt(secret, when.strftime("%Y-%m-%d"))
    return hmac.new(salt, f"network|{network_of(ip)}".encode(), hashlib.sha256).hexdigest()[:32]
