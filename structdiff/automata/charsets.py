"""Character sets as sorted inclusive code-point ranges: the one helper every regex translator uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["MAX_CP", "complement_ranges", "normalise_ranges"]

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
