"""One canvas block for a batch of independent requests: ``BatchHook``.

The scheduler calls ``sampler.denoise`` one block at a time over whatever requests are in
flight; rows may be at different blocks of their output, with different token budgets,
temperatures and constraints. ``BatchHook`` splits the batch once per block:

* **automaton rows** (regex, choices, JSON Schema, bounded Lark: ``RegexHook``): one
  ``RegexHook`` over all of them, built per block from each row's constraint, pins, seed,
  budget and cursor (automaton state, draws made), with each row's own output offset, so
  one batched call per hook point serves every such row; it hands the cursors back after
  the block;
* **plain rows** (no constraint): untouched logits, draws from the row's own generator;
* **other rows** (a constraint with another hook class): that row's own hook, one call per row.

Temperatures are one tensor op over the batch. Every random draw is the row's own
(counter-keyed for automaton rows, the row's generator otherwise) and a stopped row draws
nothing, so a row's output does not depend on the batch. A row whose hook fails is set aside
(``failed``) and the others go on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

import torch

from ..constraints.hook import RegexHook, RowCursor
from ..sampler.hooks import CanvasHook, PassView

__all__ = ["BatchHook", "BatchRow", "joins_batches"]


class BatchRow(Protocol):
    """What ``BatchHook`` needs to know about one row."""

    compiled: Any  # CompiledConstraint or None (plain text)
    hook: CanvasHook | None  # the row's own hook when its constraint cannot join the batched one
    pins: Any  # (tokens, mask) of a repair round, or None
    row_seed: int | None  # key of the row's counter-based draws
    cursor: RowCursor  # where the row's constrained output stands
    generator: torch.Generator  # the row's randomness (plain rows)
    temperature: float  # multiplies the sampler's temperature schedule
    block: int  # index of the block being denoised in the row's output
    max_tokens: int  # the row's token budget
    tokens: list  # tokens of its finished blocks


def joins_batches(compiled: Any) -> bool:
    """Whether ``compiled`` runs in the batched ``RegexHook`` (else: its own hook per row)."""
    cls = getattr(compiled, "hook_class", None)
    return isinstance(cls, type) and issubclass(cls, RegexHook)


class BatchHook(CanvasHook):
    """The hook calls of one block for a batch of independent rows.

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
        auto = [k for k, r in enumerate(self.rows) if r.compiled is not None and r.hook is None]
        self.own = [k for k, r in enumerate(self.rows) if r.hook is not None]  # per-row hooks
        self.plain = [k for k, r in enumerate(self.rows) if r.compiled is None and r.hook is None]
        self.auto = auto
        self.regex: RegexHook | None = None
        if auto:
            rs = [self.rows[k] for k in auto]
            self.regex = RegexHook([r.compiled for r in rs], pins=[r.pins for r in rs],
                                   seeds=[r.row_seed for r in rs], budgets=[r.max_tokens for r in rs],
                                   cursors=[r.cursor for r in rs], fail_alone=True)
        self._whole = len(auto) == len(self.rows)  # every row in the batched hook: no gathers
        self._idx: torch.Tensor | None = None  # [A] long automaton rows, on the logits' device
        self._offset: torch.Tensor | None = None  # [B] long first output position of each row's block
        self._temp: torch.Tensor | None = None  # [B, 1, 1] per-row temperature (None: all 1)

    # -- helpers -------------------------------------------------------------------------------
    def _setup(self, device) -> None:
        if self._offset is not None:
            return
        self._offset = torch.tensor([r.block * self.L for r in self.rows], dtype=torch.long, device=device)
        self._idx = torch.tensor(self.auto, dtype=torch.long, device=device)
        temps = [float(r.temperature) for r in self.rows]
        if any(t != 1.0 for t in temps):
            self._temp = torch.tensor(temps, dtype=torch.float32, device=device).view(-1, 1, 1)

    def _rows(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """The automaton rows of a batch tensor (no copy when every row is one)."""
        if t is None or self._whole:
            return t
        return t.index_select(0, self._idx.to(t.device))

    def _put(self, out: torch.Tensor, part: torch.Tensor) -> None:
        """Write the automaton rows' ``part`` into the batch tensor ``out``."""
        if self._whole:
            out.copy_(part)
        else:
            out.index_copy_(0, self._idx.to(out.device), part.to(out.device))

    def _auto_view(self, view: PassView) -> PassView:
        """The pass as the batched hook sees it: its rows, each at its own offset."""
        return dataclasses.replace(
            view, canvas=self._rows(view.canvas), active=self._rows(view.active),
            offset=self._rows(self._offset.to(view.active.device)), max_tokens=max(self.rows[k].max_tokens
                                                                                     for k in self.auto),
            prefix=[list(self.rows[k].tokens) for k in self.auto])

    def _view(self, view: PassView, k: int) -> PassView:
        """The pass as row ``k`` alone would see it."""
        r = self.rows[k]
        return dataclasses.replace(
            view, block=r.block, canvas=None if view.canvas is None else view.canvas[k:k + 1],
            active=view.active[k:k + 1], offset=view.offset.new_tensor([r.block * self.L]), max_tokens=r.max_tokens,
            prefix=[list(r.tokens)])

    def _auto(self, name: str, view: PassView, *args):
        """``RegexHook.<name>`` over the automaton rows; a failure sets all of them aside and returns ``None``."""
        if self.regex is None:
            return None
        try:
            return getattr(self.regex, name)(self._auto_view(view), *args)
        except Exception as exc:  # noqa: BLE001 - reported per request, the other rows go on
            for k in self.auto:
                self.failed.setdefault(k, exc)
            self.regex = None
            return None

    def _call(self, k: int, fn, *args):
        """``fn(*args)`` for row ``k``; a failure sets the row aside and returns ``None``."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported per request, the batch goes on
            self.failed[k] = exc
            return None

    def _own_live(self, active: list) -> list[int]:
        return [k for k in self.own if active[k] and k not in self.failed]

    def _plain_live(self, active: list) -> list[int]:
        return [k for k in self.plain if active[k]]

    # -- hooks ---------------------------------------------------------------------------------
    def begin_block(self, view):
        self._setup(view.offset.device)
        self._auto("begin_block", view)
        for k in self.own:
            self._call(k, self.rows[k].hook.begin_block, self._view(view, k))

    def initial_canvas(self, view, generator):
        self._setup(view.offset.device)
        n, dev = self.L, view.offset.device
        canvas = torch.empty((len(self.rows), n), dtype=torch.long, device=dev)  # [B, L]
        c = self._auto("initial_canvas", view, None)
        drawn = set(self.auto) if c is not None else set()
        if c is not None:
            self._put(canvas, c)
        for k in self.own:
            if k not in self.failed:
                c = self._call(k, self.rows[k].hook.initial_canvas, self._view(view, k), self.rows[k].generator)
                if c is not None:
                    canvas[k] = c[0].to(dev)
                    drawn.add(k)
        for k, r in enumerate(self.rows):  # plain rows, and hooks that keep the uniform start
            if k not in drawn:
                canvas[k] = torch.randint(0, self.V, (n,), generator=r.generator, device=r.generator.device).to(dev)
        return canvas

    def process_logits(self, view, logits):
        x = logits if self._temp is None else logits / self._temp.to(logits.device)  # [B, L, V]
        y = self._auto("process_logits", view, self._rows(x))
        if y is not None:
            if self._whole:
                x = y
            else:
                x = x.clone() if x is logits else x
                self._put(x, y)
        active = view.active.tolist()
        for k in self._own_live(active):
            y = self._call(k, self.rows[k].hook.process_logits, self._view(view, k), x[k:k + 1])
            if y is not None:
                x = x.clone() if x is logits else x
                x[k] = y[0]
        return x

    def propose(self, view, logits, probs, generator):
        n = view.canvas.shape[1]
        sampled, best = view.canvas.clone(), view.canvas.clone()  # [B, L]
        p = self._auto("propose", view, self._rows(logits), self._rows(probs), None)
        if p is not None:
            self._put(sampled, p[0])
            self._put(best, p[1])
        active = view.active.tolist()
        todo = self._plain_live(active)
        for k in self._own_live(active):
            r = self.rows[k]
            p = self._call(k, r.hook.propose, self._view(view, k), logits[k:k + 1], probs[k:k + 1], r.generator)
            if p is None and k not in self.failed:
                todo.append(k)
            elif p is not None:
                sampled[k], best[k] = p[0][0].to(sampled.device), p[1][0].to(best.device)
        for k in todo:  # the plain sampler, drawing from the row's own generator
            g = self.rows[k].generator
            pk = probs[k] if probs.device == g.device else probs[k].to(g.device)  # [L, V]
            sampled[k] = torch.multinomial(pk, 1, generator=g).view(n).to(sampled.device)
            best[k] = torch.argmax(logits[k], dim=-1)
        return sampled, best

    def accept(self, view, entropy, default):
        out = default.clone()
        m = self._auto("accept", view, self._rows(entropy), self._rows(default))
        if m is not None:
            self._put(out, m)
        for k in self._own_live(view.active.tolist()):
            m = self._call(k, self.rows[k].hook.accept, self._view(view, k), entropy[k:k + 1], default[k:k + 1])
            if m is not None:
                out[k] = m[0]
        return out

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        n = accepted_canvas.shape[1]
        noise = accepted_canvas.clone()  # [B, L]
        z = self._auto("renoise", view, self._rows(accepted_canvas), self._rows(renoise_mask), None)
        if z is not None:
            self._put(noise, z)
        active = view.active.tolist()
        todo = self._plain_live(active)
        for k in self._own_live(active):
            r = self.rows[k]
            z = self._call(k, r.hook.renoise, self._view(view, k), accepted_canvas[k:k + 1], renoise_mask[k:k + 1],
                           r.generator)
            if z is None and k not in self.failed:
                todo.append(k)
            elif z is not None:
                noise[k] = z[0].to(noise.device)
        for k in todo:  # uniform noise from the row's own generator
            g = self.rows[k].generator
            noise[k] = torch.randint(0, self.V, (n,), generator=g, device=g.device).to(noise.device)
        return noise

    def finish_block(self, view, best):
        out = best.clone()
        t = self._auto("finish_block", view, self._rows(best))
        if t is not None:
            self._put(out, t)
            for j, err in self.regex.failed.items():
                self.failed.setdefault(self.auto[j], err)
            for k, c in zip(self.auto, self.regex.row_cursors()):
                if k not in self.failed:
                    self.rows[k].cursor = c
        for k in self._own_live(view.active.tolist()):
            t = self._call(k, self.rows[k].hook.finish_block, self._view(view, k), best[k:k + 1])
            if t is not None:
                out[k] = t[0].to(out.device)
        return out
