"""IR of JSON number text: integer and decimal ranges, multiples (exact, built from digits).

Text forms: integers ``-?(0|[1-9][0-9]*)``, decimals ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?``; negative
zero is never produced. Bounded ranges have no exponent form; unbounded numbers do.
"""

from __future__ import annotations

from decimal import Decimal

from ..automata import ir

__all__ = ["INTEGER", "NUMBER", "decimal_range", "int_range", "multiple_of_int", "signed_int_range"]

DIGIT = ir.byteset([(0x30, 0x39)])
NONZERO = ir.byteset([(0x31, 0x39)])
MINUS = ir.literal("-")
DOT = ir.literal(".")
_NAT = ir.alt(ir.literal("0"), ir.concat(NONZERO, ir.star(DIGIT)))
INTEGER = ir.concat(ir.opt(MINUS), _NAT)
_FRAC = ir.opt(ir.concat(DOT, ir.plus(DIGIT)))
_EXP = ir.opt(ir.concat(ir.byteset([(0x45, 0x45), (0x65, 0x65)]), ir.opt(ir.byteset([(0x2B, 0x2B), (0x2D, 0x2D)])),
                        ir.plus(DIGIT)))
NUMBER = ir.concat(INTEGER, _FRAC, _EXP)


def _digit_range(a: int, b: int) -> ir.Node:
    return ir.byteset([(0x30 + a, 0x30 + b)])


def _same_len(lo: str, hi: str) -> ir.Node:
    """Digit strings of equal length n with lo <= s <= hi (leading zeros allowed)."""
    n = len(lo)
    if n == 0:
        return ir.EMPTY
    if lo == "0" * n and hi == "9" * n:
        return ir.repeat(DIGIT, n, n)
    if lo[0] == hi[0]:
        return ir.concat(_digit_range(int(lo[0]), int(lo[0])), _same_len(lo[1:], hi[1:]))
    a, b, rest = int(lo[0]), int(hi[0]), n - 1
    lo_full, hi_full = lo[1:] == "0" * rest, hi[1:] == "9" * rest
    first, last = (a if lo_full else a + 1), (b if hi_full else b - 1)
    parts = []
    if not lo_full:
        parts.append(ir.concat(_digit_range(a, a), _same_len(lo[1:], "9" * rest)))
    if first <= last:
        parts.append(ir.concat(_digit_range(first, last), ir.repeat(DIGIT, rest, rest)))
    if not hi_full:
        parts.append(ir.concat(_digit_range(b, b), _same_len("0" * rest, hi[1:])))
    return ir.alt(*parts)


def int_range(lo: int, hi: int | None) -> ir.Node:
    """Decimal text (no sign, no leading zeros) of the integers in ``[lo, hi]``, ``lo >= 0``."""
    if hi is not None and hi < lo:
        return ir.NOTHING
    parts, n = [], len(str(lo))
    while True:
        width_max = 10 ** n - 1
        upper = width_max if hi is None or hi > width_max else hi
        low = max(lo, 10 ** (n - 1) if n > 1 else 0)
        if low <= upper:
            parts.append(_same_len(str(low), str(upper)))
        if hi is not None and hi <= width_max:
            break
        n += 1
        if hi is None:
            parts.append(ir.concat(NONZERO, ir.repeat(DIGIT, n - 1)))
            break
    return ir.alt(*parts)


def signed_int_range(lo: int | None, hi: int | None) -> ir.Node:
    """Canonical integer text in ``[lo, hi]`` (either bound may be ``None``)."""
    if lo is not None and hi is not None and lo > hi:
        return ir.NOTHING
    parts = []
    if hi is None or hi >= 0:
        parts.append(int_range(max(lo, 0) if lo is not None else 0, hi))
    if lo is None or lo < 0:
        m_lo = 1 if hi is None or hi >= 0 else -hi
        parts.append(ir.concat(MINUS, int_range(m_lo, None if lo is None else -lo)))
    return ir.alt(*parts)


def multiple_of_int(m: int, lo: int | None, hi: int | None, max_values: int = 256) -> ir.Node | None:
    """Integers in ``[lo, hi]`` divisible by ``m``, or ``None`` when no exact small form is known.

    Exact forms: a bounded range of at most ``max_values`` candidates (listed), or ``m`` dividing
    1000 (the last three digits decide).
    """
    if lo is not None and hi is not None and hi - lo <= max_values * max(1, m):
        vals = [v for v in range(lo + (-lo) % m, hi + 1, m)]
        if len(vals) <= max_values:
            return ir.choices(str(v) for v in vals)
    if lo is None and hi is None and 1000 % m == 0:
        k = next(k for k in range(4) if 10 ** k % m == 0)
        if k == 0:
            return INTEGER
        tails = [str(v).zfill(k) for v in range(0, 10 ** k, m)]
        short = [t.lstrip("0") for t in tails if t.strip("0")]
        mag = ir.alt(ir.concat(NONZERO, ir.star(DIGIT), ir.choices(tails)), ir.choices(short))
        return ir.alt(ir.literal("0"), ir.concat(ir.opt(MINUS), mag))
    return None


# ---------------------------------------------------------------- decimals

def _frac_digits(d: Decimal) -> tuple[int, str]:
    """Non-negative decimal -> (integer part, fraction digits without trailing zeros)."""
    text = format(d.normalize(), "f")
    if "." in text:
        ip, fp = text.split(".")
        return int(ip), fp.rstrip("0")
    return int(text), ""


def _frac(lo: str, lo_s: bool, hi: str | None, hi_s: bool) -> tuple[bool, ir.Node]:
    """Fraction digit strings f with 0.lo <=/< 0.f <=/< 0.hi (``hi=None``: below 1).

    Returns (whether the empty fraction is allowed, node of the non-empty ones).
    """
    lo = lo.rstrip("0")
    hi = hi.rstrip("0") if hi is not None else None
    if hi == "":
        ok = not lo and not lo_s and not hi_s
        return ok, (ir.plus(ir.literal("0")) if ok else ir.NOTHING)
    if not lo and hi is None:
        if lo_s:
            return False, ir.concat(ir.star(DIGIT), NONZERO, ir.star(DIGIT))
        return True, ir.plus(DIGIT)
    empty_ok = not lo and not lo_s
    l0, lrest = (int(lo[0]), lo[1:]) if lo else (0, "")
    h0, hrest = (int(hi[0]), hi[1:]) if hi is not None else (9, None)
    parts = []
    if l0 == h0:
        parts.append(_prefixed(l0, _frac(lrest, lo_s, hrest, hi_s)))
    else:
        parts.append(_prefixed(l0, _frac(lrest, lo_s, None, False)))
        if l0 + 1 <= h0 - 1:
            parts.append(ir.concat(_digit_range(l0 + 1, h0 - 1), ir.star(DIGIT)))
        parts.append(_prefixed(h0, _frac("", False, hrest, hi_s)))
    return empty_ok, ir.alt(*parts)


def _prefixed(digit: int, sub: tuple[bool, ir.Node]) -> ir.Node:
    empty_ok, nonempty = sub
    d = _digit_range(digit, digit)
    return ir.concat(d, ir.opt(nonempty)) if empty_ok else ir.concat(d, nonempty)


def _frac_part(sub: tuple[bool, ir.Node]) -> ir.Node:
    """(empty ok, digits) -> the optional ``\\.digits`` part of a number."""
    empty_ok, nonempty = sub
    dotted = ir.concat(DOT, nonempty)
    return ir.opt(dotted) if empty_ok else dotted


def decimal_range(lo: Decimal | None, lo_strict: bool, hi: Decimal | None, hi_strict: bool) -> ir.Node:
    """Plain decimal number text (no exponent) within the bounds."""
    if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_strict or hi_strict))):
        return ir.NOTHING
    parts = []
    if hi is None or hi > 0 or (hi == 0 and not hi_strict):
        plo, plo_s = (lo, lo_strict) if lo is not None and lo >= 0 else (Decimal(0), False)
        parts.append(_magnitude_range(plo, plo_s, hi, hi_strict))
    if lo is None or lo < 0:
        mlo, mlo_s = (-hi, hi_strict) if hi is not None and hi < 0 else (Decimal(0), True)
        mhi, mhi_s = (-lo, lo_strict) if lo is not None else (None, False)
        parts.append(ir.concat(MINUS, _magnitude_range(mlo, mlo_s, mhi, mhi_s)))
    return ir.alt(*parts)


def _magnitude_range(lo: Decimal, lo_s: bool, hi: Decimal | None, hi_s: bool) -> ir.Node:
    """Unsigned decimal text with lo <=/< m <=/< hi (lo >= 0; hi None = unbounded)."""
    if hi is not None and (lo > hi or (lo == hi and (lo_s or hi_s))):
        return ir.NOTHING
    a_int, a_frac = _frac_digits(lo)
    if hi is None:
        return ir.alt(ir.concat(int_range(a_int, a_int), _frac_part(_frac(a_frac, lo_s, None, False))),
                      ir.concat(int_range(a_int + 1, None), _FRAC))
    b_int, b_frac = _frac_digits(hi)
    if a_int == b_int:
        return ir.concat(int_range(a_int, a_int), _frac_part(_frac(a_frac, lo_s, b_frac, hi_s)))
    return ir.alt(ir.concat(int_range(a_int, a_int), _frac_part(_frac(a_frac, lo_s, None, False))),
                  ir.concat(int_range(a_int + 1, b_int - 1), _FRAC),
                  ir.concat(int_range(b_int, b_int), _frac_part(_frac("", False, b_frac, hi_s))))
