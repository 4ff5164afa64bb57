"""Character sets as sorted inclusive code-point ranges: the one helper every regex translator uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["MAX_CP", "complement_ranges", "normalise_ranges", "utf8_sequences"]

MAX_CP = 0x10FFFF
_ALL = ((0, MAX_CP),)


def normalise_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged (overlapping or adjacent), non-overlapping inclusive ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def complement_ranges(ranges: Iterable[tuple[int, int]],
                      universe: Sequence[tuple[int, int]] = _ALL) -> list[tuple[int, int]]:
    """``universe`` (normalised ranges; all code points by default) minus ``ranges``."""
    ranges = normalise_ranges(ranges)
    out = []
    for ulo, uhi in universe:
        cur = ulo
        for lo, hi in ranges:
            if hi < cur or lo > uhi:
                continue
            if lo > cur:
                out.append((cur, lo - 1))
            cur = max(cur, hi + 1)
        if cur <= uhi:
            out.append((cur, uhi))
    return out


_SURROGATES = (0xD800, 0xDFFF)
_UTF8_LENGTHS = ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, MAX_CP))


def _utf8_run(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Code points ``[lo, hi]`` of one UTF-8 length -> byte-range sequences covering exactly them."""
    n = len(chr(lo).encode("utf-8"))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if lo & ~m != hi & ~m:
            if lo & m:
                return _utf8_run(lo, lo | m) + _utf8_run((lo | m) + 1, hi)
            if hi & m != m:
                return _utf8_run(lo, (hi & ~m) - 1) + _utf8_run(hi & ~m, hi)
    a, b = chr(lo).encode("utf-8"), chr(hi).encode("utf-8")
    return [list(zip(a, b))]


def utf8_sequences(ranges: Iterable[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Code-point ranges -> UTF-8 byte-range sequences matching exactly their (non-surrogate) code points."""
    out: list[list[tuple[int, int]]] = []
    for lo, hi in normalise_ranges(ranges):
        for s, e in ((lo, min(hi, _SURROGATES[0] - 1)), (max(lo, _SURROGATES[1] + 1), hi)):
            for a, b in _UTF8_LENGTHS:
                x, y = max(s, a), min(e, b)
                if x <= y:
                    out += _utf8_run(x, y)
    return out
