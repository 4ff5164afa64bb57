"""Regex building blocks for the JSON Schema translation.

Every pattern here is written in the common subset of Rust ``regex`` (what
outlines-core compiles) and Python ``re``: no lookarounds, no backreferences, no
``\\d``/``\\w``/``\\s`` (Unicode-dependent), classes spelled with ``\\uXXXX``
escapes. Patterns describe JSON *text*: string patterns describe the body of a
JSON string literal in its canonical escaped form (``json.dumps(...,
ensure_ascii=False)``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal

__all__ = [
    "BOOLEAN",
    "FORMATS",
    "INTEGER",
    "NULL",
    "NUMBER",
    "PLAIN_CHAR",
    "STRING",
    "STRING_CHAR",
    "alt",
    "char_set_regex",
    "decimal_range",
    "escape",
    "group",
    "int_range",
    "json_string_literal",
    "literal",
    "repeat",
    "signed_int_range",
    "value_literal",
]

_META = set("\\.+*?()|[]{}^$#&-~")

# One character of a JSON string body in canonical form: any unescaped char, the short
# escapes, or \u00XX for the other control characters (lower-case hex, as json.dumps writes).
STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\bfnrt]|\\u00[01][0-9a-f])'
STRING = '"' + STRING_CHAR + '*"'
# Under a counted repetition, outlines-core's index build is exponential in the count when the
# repeated unit has the backslash-escape branch; bounded strings therefore use unescaped chars only.
PLAIN_CHAR = r'[^"\\\x00-\x1f]'
INTEGER = r"-?(?:0|[1-9][0-9]*)"
NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
BOOLEAN = "(?:true|false)"
NULL = "null"


def escape(text: str) -> str:
    """Escape ``text`` so that it matches itself (only ASCII metacharacters are escaped)."""
    return "".join("\\" + c if c in _META else c for c in text)


def group(pattern: str) -> str:
    """Wrap in a non-capturing group unless it is already atomic."""
    if len(pattern) <= 1 or (pattern.startswith("(?:") and _closes_at_end(pattern)):
        return pattern
    if pattern.startswith("[") and pattern.endswith("]") and _class_closes_at_end(pattern):
        return pattern
    return "(?:" + pattern + ")"


def _closes_at_end(p: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if p[i + 1:i + 2] == "^":
                i += 1
            if p[i + 1:i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and i != len(p) - 1:
                return False
        i += 1
    return True


def _class_closes_at_end(p: str) -> bool:
    i = 1
    while i < len(p):
        if p[i] == "\\":
            i += 2
            continue
        if p[i] == "]":
            return i == len(p) - 1
        i += 1
    return False


def alt(options: Iterable[str | None]) -> str | None:
    """Alternation of the non-empty-language options (``None`` = empty language); ``None`` if none left."""
    seen: list[str] = []
    for o in options:
        if o is not None and o not in seen:
            seen.append(o)
    if not seen:
        return None
    if len(seen) == 1:
        return seen[0]
    return "(?:" + "|".join(seen) + ")"


def repeat(pattern: str, lo: int, hi: int | None) -> str:
    """``pattern`` repeated lo..hi times (``hi=None``: unbounded)."""
    if hi is not None and hi == 0:
        return ""
    g = group(pattern)
    if lo == 0 and hi is None:
        return g + "*"
    if lo == 1 and hi is None:
        return g + "+"
    if lo == 0 and hi == 1:
        return g + "?"
    if lo == 1 and hi == 1:
        return pattern
    if hi is None:
        return g + "{%d,}" % lo
    if lo == hi:
        return g + "{%d}" % lo
    return g + "{%d,%d}" % (lo, hi)


def literal(value) -> str:
    """Regex matching the canonical compact JSON text of ``value``."""
    return escape(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def value_literal(value, ws: str = "") -> str:
    """Regex matching ``value`` as JSON text: integral numbers also as ``2.0``, whitespace ``ws`` between tokens."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return literal(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
            value = int(value)
        if isinstance(value, int):
            return escape(str(value)) + r"(?:\.0+)?"
        return literal(value)
    sep, colon = ws + "," + ws, ws + ":" + ws
    if isinstance(value, list):
        return r"\[" + ws + sep.join(value_literal(v, ws) for v in value) + ws + r"\]"
    if isinstance(value, dict):
        items = sep.join(literal(str(k)) + colon + value_literal(v, ws) for k, v in value.items())
        return r"\{" + ws + items + ws + r"\}"
    return literal(value)


def json_string_literal(text: str) -> str:
    """Regex matching the canonical JSON string literal of ``text`` (with quotes)."""
    return literal(text)


# ---------------------------------------------------------------- integers

def _same_len(lo: str, hi: str) -> str:
    """Regex for digit strings of equal length n with lo <= s <= hi (leading zeros allowed)."""
    n = len(lo)
    if n == 0:
        return ""
    if lo == "0" * n and hi == "9" * n:
        return "[0-9]" if n == 1 else "[0-9]{%d}" % n
    if lo[0] == hi[0]:
        return lo[0] + _same_len(lo[1:], hi[1:])
    a, b = int(lo[0]), int(hi[0])
    parts = []
    rest = n - 1
    lo_full = lo[1:] == "0" * rest
    hi_full = hi[1:] == "9" * rest
    first = a if lo_full else a + 1
    last = b if hi_full else b - 1
    if not lo_full:
        parts.append(lo[0] + _same_len(lo[1:], "9" * rest))
    if first <= last:
        cls = str(first) if first == last else "[%d-%d]" % (first, last)
        parts.append(cls + ("" if rest == 0 else "[0-9]" if rest == 1 else "[0-9]{%d}" % rest))
    if not hi_full:
        parts.append(hi[0] + _same_len("0" * rest, hi[1:]))
    return alt(parts) or ""


def int_range(lo: int, hi: int | None) -> str | None:
    """Regex for the decimal text (no sign, no leading zeros) of integers in ``[lo, hi]``, lo >= 0."""
    if lo < 0:
        raise ValueError("int_range needs lo >= 0")
    if hi is not None and hi < lo:
        return None
    parts = []
    s = str(lo)
    top = hi if hi is not None else None
    n = len(s)
    while True:
        width_max = int("9" * n)
        upper = width_max if top is None or top > width_max else top
        low = max(lo, 10 ** (n - 1) if n > 1 else 0)
        if low <= upper:
            parts.append(_same_len(str(low), str(upper)))
        if top is not None and top <= width_max:
            break
        n += 1
        if top is None:
            parts.append("[1-9][0-9]{%d,}" % (n - 1))
            break
    return alt(parts)


def signed_int_range(lo: int | None, hi: int | None) -> str | None:
    """Regex for canonical integer text in ``[lo, hi]`` (either bound may be ``None``)."""
    if lo is not None and hi is not None and lo > hi:
        return None
    parts = []
    if hi is None or hi >= 0:  # non-negative part
        parts.append(int_range(max(lo, 0) if lo is not None else 0, hi))
    if lo is None or lo < 0:  # negative part, mirrored: -m with m in [max(1,-hi), -lo]
        m_lo = 1 if hi is None or hi >= 0 else -hi
        m_hi = None if lo is None else -lo
        r = int_range(m_lo, m_hi)
        if r is not None:
            parts.append("-" + group(r))
    return alt(parts)


# ---------------------------------------------------------------- decimals

def _frac_digits(d: Decimal) -> tuple[int, str]:
    """Non-negative decimal -> (integer part, fraction digits without trailing zeros)."""
    text = format(d.normalize(), "f")
    if "." in text:
        ip, fp = text.split(".")
        return int(ip), fp.rstrip("0")
    return int(text), ""


def _frac(lo: str, lo_s: bool, hi: str | None, hi_s: bool) -> tuple[bool, str | None]:
    """Fraction digit strings f with 0.lo <=/< 0.f <=/< 0.hi (``hi=None``: below 1).

    Returns (whether the empty fraction is allowed, regex for the non-empty ones).
    """
    lo = lo.rstrip("0")
    hi = hi.rstrip("0") if hi is not None else None
    if hi == "":
        ok = not lo and not lo_s and not hi_s
        return ok, ("0+" if ok else None)
    if not lo and hi is None:
        return (False, "[0-9]*[1-9][0-9]*") if lo_s else (True, "[0-9]+")
    empty_ok = not lo and not lo_s
    l0, lrest = (int(lo[0]), lo[1:]) if lo else (0, "")
    h0, hrest = (int(hi[0]), hi[1:]) if hi is not None else (9, None)
    parts = []
    if l0 == h0:
        parts.append(_prefixed(str(l0), _frac(lrest, lo_s, hrest, hi_s)))
    else:
        parts.append(_prefixed(str(l0), _frac(lrest, lo_s, None, False)))
        if l0 + 1 <= h0 - 1:
            parts.append((str(l0 + 1) if l0 + 1 == h0 - 1 else "[%d-%d]" % (l0 + 1, h0 - 1)) + "[0-9]*")
        parts.append(_prefixed(str(h0), _frac("", False, hrest, hi_s)))
    return empty_ok, alt(parts)


def _prefixed(digit: str, sub: tuple[bool, str | None]) -> str | None:
    empty_ok, nonempty = sub
    if nonempty is None:
        return digit if empty_ok else None
    return digit + (group(nonempty) + "?" if empty_ok else nonempty)


def _frac_part(sub: tuple[bool, str | None]) -> str | None:
    """(empty ok, digits regex) -> regex of the optional ``\\.digits`` part of a number."""
    empty_ok, nonempty = sub
    if nonempty is None:
        return "" if empty_ok else None
    return (r"(?:\." + nonempty + ")?") if empty_ok else r"\." + group(nonempty)


def decimal_range(lo: Decimal | None, lo_strict: bool, hi: Decimal | None, hi_strict: bool) -> str | None:
    """Regex for plain decimal number text (no exponent) within the bounds.

    Text forms: ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?``; negative zero is never produced.
    """
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_strict or hi_strict))):
        return None
    parts = []
    # non-negative values
    if hi is None or hi > 0 or (hi == 0 and not hi_strict):
        plo, plo_s = (lo, lo_strict) if lo is not None and lo >= 0 else (Decimal(0), False)
        parts.append(_magnitude_range(plo, plo_s, hi, hi_strict))
    # negative values: -m with m in (max(0,-hi) .. -lo)
    if lo is None or lo < 0:
        if hi is not None and hi < 0:
            mlo, mlo_s = -hi, hi_strict
        else:
            mlo, mlo_s = Decimal(0), True
        mhi, mhi_s = (-lo, lo_strict) if lo is not None else (None, False)
        r = _magnitude_range(mlo, mlo_s, mhi, mhi_s)
        if r is not None:
            parts.append("-" + group(r))
    return alt(parts)


def _magnitude_range(lo: Decimal, lo_s: bool, hi: Decimal | None, hi_s: bool) -> str | None:
    """Unsigned decimal text with lo <=/< m <=/< hi (lo >= 0; hi None = unbounded)."""
    if hi is not None and (lo > hi or (lo == hi and (lo_s or hi_s))):
        return None
    a_int, a_frac = _frac_digits(lo)
    any_frac = r"(?:\.[0-9]+)?"
    if hi is None:
        return alt([_with_int(str(a_int), _frac_part(_frac(a_frac, lo_s, None, False))),
                    _with_int(int_range(a_int + 1, None), any_frac)])
    b_int, b_frac = _frac_digits(hi)
    if a_int == b_int:
        return _with_int(str(a_int), _frac_part(_frac(a_frac, lo_s, b_frac, hi_s)))
    return alt([_with_int(str(a_int), _frac_part(_frac(a_frac, lo_s, None, False))),
                _with_int(int_range(a_int + 1, b_int - 1), any_frac),
                _with_int(str(b_int), _frac_part(_frac("", False, b_frac, hi_s)))])


def _with_int(int_re: str | None, frac_re: str | None) -> str | None:
    if int_re is None or frac_re is None:
        return None
    return group(int_re) + frac_re


# ---------------------------------------------------------------- character sets

def _cp(c: int) -> str:
    if 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
        return chr(c)
    if c < 0x80 and chr(c) in "\\]-[^&~" + "".join(_META):
        return "\\" + chr(c)
    if 0x20 <= c < 0x7F:
        return chr(c)
    return "\\u%04X" % c if c <= 0xFFFF else "\\U%08X" % c


_SPECIAL = {0x22: r'\\"', 0x5C: r"\\\\", 0x08: r"\\b", 0x0C: r"\\f", 0x0A: r"\\n", 0x0D: r"\\r", 0x09: r"\\t"}


def char_set_regex(intervals: list[tuple[int, int]], escapes: bool = True) -> str | None:
    """Regex for one JSON-string character (canonical form) whose decoded code point is in ``intervals``.

    ``escapes=False`` leaves out the characters JSON must escape (see ``PLAIN_CHAR``).
    """
    plain: list[tuple[int, int]] = []
    escaped: list[str] = []
    for lo, hi in sorted(intervals):
        # split out the characters that JSON must escape
        for c in range(lo, min(hi, 0x1F) + 1):
            escaped.append(_SPECIAL.get(c, r"\\u00%02x" % c))
        start = max(lo, 0x20)
        for bad in (0x22, 0x5C):
            if start <= bad <= hi:
                escaped.append(_SPECIAL[bad])
                if start <= bad - 1:
                    plain.append((start, bad - 1))
                start = bad + 1
        if start <= hi:
            # drop surrogates (not scalar values; Rust regex rejects them)
            if start <= 0xDFFF and hi >= 0xD800:
                if start < 0xD800:
                    plain.append((start, 0xD7FF))
                if hi > 0xDFFF:
                    plain.append((0xE000, hi))
            else:
                plain.append((start, hi))
    # every control character: one compact class (it also accepts \\u000a for \\n)
    if sum(1 for e in escaped if e not in (r'\\"', r"\\\\")) == 32:
        escaped = [e for e in escaped if e in (r'\\"', r"\\\\")] + [r"\\[bfnrt]", r"\\u00[01][0-9a-f]"]
    options = []
    if not escapes:
        escaped = []
    if plain:
        body = "".join(_cp(a) if a == b else _cp(a) + "-" + _cp(b) for a, b in plain)
        options.append("[" + body + "]")
    options.extend(escaped)
    return alt(options)


# ---------------------------------------------------------------- formats (string bodies, no quotes)

_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = _DEC_OCTET + r"(?:\." + _DEC_OCTET + "){3}"
_H16 = "[0-9a-fA-F]{1,4}"


def _ipv6() -> str:
    """RFC 4291 text forms (full, ``::``-compressed, embedded IPv4 tail)."""
    forms = []
    for n_tail_groups, tail in ((2, None), (0, _IPV4)):
        total = 6 + n_tail_groups if tail is None else 6
        end = (tail,) if tail else ()
        # full form
        forms.append(":".join([_H16] * total + list(end)))
        # compressed: k groups before '::', up to total-1-k after
        for k in range(total + 1):
            before = ":".join([_H16] * k) if k else ""
            max_after = total - k - 1
            if max_after < 0:
                continue
            after_groups = "(?:" + _H16 + ":){0,%d}" % (max_after - 1) + _H16 if max_after >= 1 else None
            if tail:
                after = "(?:" + _H16 + ":){0,%d}" % max_after + tail if max_after >= 0 else tail
                forms.append(before + "::" + after)
            else:
                forms.append(before + "::" + ("(?:" + after_groups + ")?" if after_groups else ""))
    return "(?:" + "|".join(forms) + ")"


_TIME_BODY = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_DATE_BODY = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HOST = _LABEL + r"(?:\." + _LABEL + ")*"

# format -> (regex of the string body, needs a semantic check after the regex)
FORMATS: dict[str, tuple[str, bool]] = {
    "date": (_DATE_BODY, True),
    "time": (_TIME_BODY, False),
    "date-time": (_DATE_BODY + "[Tt]" + _TIME_BODY, True),
    "uuid": (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", False),
    "email": (r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@" + _HOST, False),
    "ipv4": (_IPV4, False),
    "ipv6": (_ipv6(), True),
    "hostname": (_HOST, True),
    "uri": (r"[a-zA-Z][a-zA-Z0-9+.-]*:(?://(?:[a-zA-Z0-9._~!$&'()*+,;=:%-]*@)?[a-zA-Z0-9._~%-]+(?::[0-9]{1,5})?)?"
            r"[a-zA-Z0-9._~!$&'()*+,;=:@%/-]*(?:\?[a-zA-Z0-9._~!$&'()*+,;=:@%/?-]*)?"
            r"(?:#[a-zA-Z0-9._~!$&'()*+,;=:@%/?-]*)?", True),
}
