"""One canvas block for a batch of independent requests: ``BatchHook`` runs each row's own hook.

The scheduler calls ``sampler.denoise`` one block at a time over whatever requests are in
flight; rows may be at different blocks of their output, with different token budgets,
temperatures and constraints. ``BatchHook`` gives every row a view of the pass as if it
ran alone (its own block index, offset and budget), calls that row's hook (a ``RegexHook``
over its one compiled constraint, or the plain sampler), and makes every random draw from
the row's own generator, skipping rows that have stopped — so a row draws exactly what it
would draw alone. A row whose hook fails is set aside (``failed``) and the others go on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import torch

from ..sampler.hooks import CanvasHook, PassView

__all__ = ["BatchHook", "BatchRow"]


class BatchRow(Protocol):
    """What ``BatchHook`` needs to know about one row."""

    hook: CanvasHook  # the row's constraint hook (one row), kept across its blocks
    generator: torch.Generator  # the row's randomness
    temperature: float  # multiplies the sampler's temperature schedule
    block: int  # index of the block being denoised in the row's output
    max_tokens: int  # the row's token budget
    tokens: list  # tokens of its finished blocks


def _draw_on(g: torch.Generator, t: torch.Tensor) -> torch.Tensor:
    """``t`` on the generator's device (draws happen where the generator lives)."""
    return t if t.device == g.device else t.to(g.device)


class BatchHook(CanvasHook):
    """Per-row dispatch of the hook calls of one block.

    Parameters
    ----------
    rows : sequence of BatchRow
        One per batch row, in batch order.
    vocab_size : int
        For the plain sampler's uniform noise.
    canvas_length : int
        Tokens per block.
    """

    def __init__(self, rows: Sequence[BatchRow], vocab_size: int, canvas_length: int):
        self.rows = list(rows)
        self.V = vocab_size
        self.L = canvas_length
        self.failed: dict[int, BaseException] = {}

    # -- helpers -------------------------------------------------------------------------------
    def _view(self, view: PassView, k: int, n: int) -> PassView:
        """The pass as row ``k`` alone would see it."""
        r = self.rows[k]
        return dataclasses.replace(
            view, block=r.block, canvas=None if view.canvas is None else view.canvas[k:k + 1],
            active=view.active[k:k + 1], offset=view.offset.new_tensor([r.block * n]), max_tokens=r.max_tokens,
            prefix=[list(r.tokens)])

    def _live(self, view: PassView, k: int) -> bool:
        return k not in self.failed and bool(view.active[k])

    def _call(self, k: int, fn, *args):
        """``fn(*args)`` for row ``k``; a failure sets the row aside and returns ``None``."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported per request, the batch goes on
            self.failed[k] = exc
            return None

    # -- hooks ---------------------------------------------------------------------------------
    def begin_block(self, view):
        for k, r in enumerate(self.rows):
            self._call(k, r.hook.begin_block, self._view(view, k, self.L))

    def initial_canvas(self, view, generator):
        n, dev = self.L, view.offset.device
        out = []
        for k, r in enumerate(self.rows):
            c = None
            if k not in self.failed:
                c = self._call(k, r.hook.initial_canvas, self._view(view, k, n), r.generator)
            if c is None:
                c = torch.randint(0, self.V, (1, n), generator=r.generator, device=r.generator.device)
            out.append(c.to(dev))
        return torch.cat(out)  # [B, L]

    def process_logits(self, view, logits):
        n = logits.shape[1]
        out = []
        for k, r in enumerate(self.rows):
            x = logits[k:k + 1]  # [1, L, V]
            if r.temperature != 1.0:
                x = x / r.temperature
            if self._live(view, k):
                y = self._call(k, r.hook.process_logits, self._view(view, k, n), x)
                x = x if y is None else y
            out.append(x)
        return torch.cat(out)  # [B, L, V]

    def propose(self, view, logits, probs, generator):
        n = view.canvas.shape[1]
        sampled, best = view.canvas.clone(), view.canvas.clone()  # [B, L]
        for k, r in enumerate(self.rows):
            if not self._live(view, k):
                continue  # a stopped row draws nothing, exactly as when it runs alone
            p = self._call(k, r.hook.propose, self._view(view, k, n), logits[k:k + 1], probs[k:k + 1], r.generator)
            if p is None:
                pk = _draw_on(r.generator, probs[k])  # [L, V]
                s = torch.multinomial(pk, 1, generator=r.generator).view(1, n)
                p = (s, torch.argmax(logits[k:k + 1], dim=-1))
            sampled[k], best[k] = p[0][0].to(sampled.device), p[1][0].to(best.device)
        return sampled, best

    def accept(self, view, entropy, default):
        out = default.clone()
        n = default.shape[1]
        for k, r in enumerate(self.rows):
            if self._live(view, k):
                m = self._call(k, r.hook.accept, self._view(view, k, n), entropy[k:k + 1], default[k:k + 1])
                if m is not None:
                    out[k] = m[0]
        return out

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        n = accepted_canvas.shape[1]
        noise = accepted_canvas.clone()  # [B, L]
        for k, r in enumerate(self.rows):
            if not self._live(view, k):
                continue
            z = self._call(k, r.hook.renoise, self._view(view, k, n), accepted_canvas[k:k + 1], renoise_mask[k:k + 1],
                           r.generator)
            if z is None:
                z = torch.randint(0, self.V, (1, n), generator=r.generator, device=r.generator.device)
            noise[k] = z[0].to(noise.device)
        return noise

    def finish_block(self, view, best):
        out = best.clone()
        n = best.shape[1]
        for k, r in enumerate(self.rows):
            if k in self.failed or not bool(view.active[k]):
                continue
            t = self._call(k, r.hook.finish_block, self._view(view, k, n), best[k:k + 1])
            if t is not None:
                out[k] = t[0].to(out.device)
        return out
