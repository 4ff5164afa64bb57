"""Upper bounds of the public arguments (budgets), kept free of heavy imports so the CLI checks early.

Each bound is documented in the README ("Limits and errors"); raise one by assigning to it,
e.g. ``structdiff.limits.LIMITS["max_passes"] = 4096`` (``structdiff.api.LIMITS`` is the same dict).
"""

from __future__ import annotations

from typing import Any

from .errors import InputError, clip

__all__ = ["LIMITS", "SEED_BOUND", "check_int"]

LIMITS = {
    "max_tokens": 1 << 16,       # tokens per output
    "max_passes": 1024,          # model passes per canvas (stability_threshold is at most max_passes too)
    "max_repair_rounds": 100,    # re-noise rounds for validator violations
}
SEED_BOUND = 1 << 64  # seeds are 0 <= seed < 2**64 (torch.Generator.manual_seed's range)


def check_int(name: str, v: Any, lo: int, hi: int) -> int:
    """``v`` when it is an int (not a bool) in ``lo .. hi``, else an ``InputError`` naming the range."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise InputError(f"{name} must be an int in {lo} .. {hi:,}, got {clip(v, 60)}"
                         + (f" (raise structdiff.limits.LIMITS[{name!r}] for more)" if isinstance(v, int) and v > hi
                            and name in LIMITS else ""))
    return v
