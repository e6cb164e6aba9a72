"""Chinese numerals as used in article numbers (第一百零八条, 第二十条, 第47条)."""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN = "零一二三四五六七八九"

NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)


def cn_to_int(s: str) -> int:
    """Parse ``四十七``, ``一百零八``, ``十``, ``二〇`` or Arabic ``47`` (full-width too) into an int.

    Raises ValueError on anything else.
    """
    s = s.strip().translate({0xFF10 + i: 0x30 + i for i in range(10)})
    if not s:
        raise ValueError("empty numeral")
    if s.isdigit():
        return int(s)
    if any(ch not in _DIGITS and ch not in _UNITS for ch in s):
        raise ValueError(f"not a Chinese numeral: {s!r}")
    if not any(ch in _UNITS for ch in s):
        # positional form such as 二〇一二
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total, section, digit = 0, 0, 0
    for ch in s:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            unit = _UNITS[ch]
            if unit == 10000:
                total += (section + digit) * unit
                section = 0
            else:
                section += (digit or 1) * unit  # 十 alone means 10
            digit = 0
    return total + section + digit


def int_to_cn(n: int) -> str:
    """Write 1..9999 the way statutes number their articles (47 → 四十七, 108 → 一百零八, 10 → 十)."""
    if n <= 0 or n > 9999:
        raise ValueError(f"article number out of range: {n}")
    parts: list[str] = []
    zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // unit % 10
        if d == 0:
            zero = bool(parts)
            continue
        if zero:
            parts.append("零")
            zero = False
        parts.append(_CN[d] + name)
    out = "".join(parts)
    return out[1:] if out.startswith("一十") else out
