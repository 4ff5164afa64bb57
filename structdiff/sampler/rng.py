"""Counter-based random numbers for constrained rows: a row's draws depend on its key and a counter only.

``torch.Generator`` streams are shared by every row of a batch, so a row's output would depend
on what else is in the batch. Here every draw is ``mix64(key_row, counter, index)`` (SplitMix64's
finaliser in wrapping int64 arithmetic), computed on the tensors' device: the same key gives the
same numbers alone or in any batch, and on CPU and CUDA alike. The unconstrained sampler keeps
its ``torch.Generator`` (token-for-token parity with transformers' ``generate``).
"""

from __future__ import annotations

import torch

__all__ = ["mix64", "row_keys", "uniforms", "seed_for_row"]

_M = (1 << 64) - 1


def _signed(x: int) -> int:
    x &= _M
    return x - (1 << 64) if x >= 1 << 63 else x


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_C1 = _signed(0xBF58476D1CE4E5B9)
_C2 = _signed(0x94D049BB133111EB)


def _shr(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's ``>>`` is arithmetic)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64 finaliser on int64 ``[...] -> [...]`` (bijective, wrapping)."""
    z = (z ^ _shr(z, 30)) * _C1
    z = (z ^ _shr(z, 27)) * _C2
    return z ^ _shr(z, 31)


def seed_for_row(seed: int, row: int, round_: int = 0) -> int:
    """The int64 seed of batch row ``row`` of a call with ``seed`` (repair round ``round_``)."""
    return _signed(((seed & _M) * 0x100000001B3) ^ (row << 8) ^ round_)


def row_keys(seeds, device) -> torch.Tensor:
    """Per-row seeds (ints) -> mixed keys ``[B]`` int64 on ``device``."""
    return mix64(torch.tensor([_signed(int(s)) for s in seeds], dtype=torch.int64, device=device) + _GOLDEN)


def uniforms(keys: torch.Tensor, counter: int | torch.Tensor, n: int) -> torch.Tensor:
    """Uniforms in [0, 1): ``keys [G]``, draw ``counter`` (an int, or ``[G]`` int64: one per row) -> ``[G, n]``
    float64 (53 random bits each)."""
    idx = torch.arange(n, dtype=torch.int64, device=keys.device)  # [n]
    if isinstance(counter, torch.Tensor):
        idx = idx[None, :] + (counter.to(torch.int64)[:, None] << 20)  # [G, n]
    else:
        idx = (idx + (int(counter) << 20))[None, :]  # [1, n]
    z = mix64(mix64(keys[:, None] ^ (idx * _GOLDEN)))  # [G, n]
    return _shr(z, 11).to(torch.float64) * (2.0 ** -53)
