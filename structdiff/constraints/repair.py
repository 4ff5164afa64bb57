"""Repair rounds: validator violations (character spans) -> canvas positions to re-noise."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import Violation

__all__ = ["violation_positions", "repair_pins"]


def violation_positions(tokenizer, tokens: Sequence[int], text: str, violations: Sequence[Violation],
                        widen: int = 1) -> np.ndarray:
    """Bool ``[N]``: token positions whose bytes overlap a violating character span (widened by ``widen`` tokens).

    An empty span ``[k, k)`` marks the token holding character ``k``.
    """
    table = tokenizer.token_bytes
    lens = np.array([len(table[t] or b"") for t in tokens], dtype=np.int64)  # [N] bytes per token
    ends = np.cumsum(lens)
    starts = ends - lens
    hit = np.zeros(len(tokens), dtype=bool)
    for v in violations:
        lo = max(0, min(v.start, len(text)))
        hi = max(lo, min(v.end, len(text)))
        b0 = len(text[:lo].encode("utf-8"))
        b1 = len(text[:hi].encode("utf-8"))
        if b1 == b0:
            b1 = b0 + 1
        hit |= (starts < b1) & (ends > b0) & (lens > 0)
        if not hit.any() and len(tokens):
            hit[min(int(np.searchsorted(ends, b0, side="right")), len(tokens) - 1)] = True
    if widen > 0 and hit.any():
        grown = hit.copy()
        for k in range(1, widen + 1):
            grown[k:] |= hit[:-k]
            grown[:-k] |= hit[k:]
        hit = grown
    return hit


def repair_pins(tokenizer, tokens: Sequence[int], text: str, violations: Sequence[Violation], round_: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(tokens ``[N]``, pinned mask ``[N]``) for the next round: keep everything but the violating spans.

    Later rounds free a wider neighbourhood, so a stubborn violation gets more room.
    """
    free = violation_positions(tokenizer, tokens, text, violations, widen=round_)
    return np.asarray(tokens, dtype=np.int64), ~free
