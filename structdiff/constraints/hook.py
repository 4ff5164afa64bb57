"""RegexHook: the exact whole-canvas constraint hook for automaton constraints (regex, choices, JSON, bounded Lark).

Per pass and row: class log-masses ``lm [L, C]`` from the tempered logits of the live
tokens only (tokens no state allows never cost a pass), forward-backward over (position
x state), and then

* ``process_logits`` -> log constrained marginals (``-inf`` outside the language), so
  entropy, acceptance and stopping speak about valid canvases only;
* ``propose`` -> one joint valid sample (forward filter, backward sample, then a token
  within each class) and the best valid canvas (Viterbi on per-class best logits);
* ``renoise`` -> tokens drawn uniformly from those allowed at each position;
* ``finish_block`` -> the best valid canvas, whose end state starts the next block.

Pinned positions (repair rounds) are one class with one token. The automaton's END state
(after EOS) only allows EOS/pad; the last block must end accepted, earlier blocks in a
state from which acceptance fits the remaining budget.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..automata.dp import backward, best_classes, class_posteriors, edge_index, forward, sample_classes
from ..errors import StructDiffError
from ..sampler.hooks import CanvasHook, PassView

__all__ = ["RegexHook"]

_NEG = -np.inf


class _Row:
    """Per-row facts of the current pass (reused by propose/renoise)."""

    __slots__ = ("x", "lm", "la", "post", "score", "end_ok", "pins")


class RegexHook(CanvasHook):
    """Constraint hook for a batch with one compiled automaton constraint per row.

    Parameters
    ----------
    rows : sequence of CompiledRegex
        One per batch row (mixed constraints are fine).
    pins : list of (tokens, mask) or None, optional
        Per row, output-length arrays: tokens to keep fixed where ``mask`` (repair rounds).
    """

    def __init__(self, rows: Sequence, pins: Sequence | None = None):
        self.rows = list(rows)
        self.autos = [r.automaton for r in self.rows]
        self.edges = [edge_index(a) for a in self.autos]
        self.state = [0] * len(self.rows)  # automaton state at the start of the current block
        self.pins = list(pins) if pins is not None else [None] * len(self.rows)
        self._pass: list[_Row | None] = [None] * len(self.rows)
        self._members_t = {}  # automaton key -> torch member ids

    # -- helpers ----------------------------------------------------------------------------------
    def _members(self, auto) -> torch.Tensor:
        t = self._members_t.get(auto.key)
        if t is None:
            t = self._members_t[auto.key] = torch.from_numpy(np.array(auto.members))
        return t

    def _block_pins(self, b: int, offset: int, n: int):
        pin = self.pins[b]
        if pin is None:
            return None
        tok, mask = (np.asarray(a) for a in pin)
        tok, mask = tok[offset:offset + n], mask[offset:offset + n]
        if mask.size < n:
            tok = np.concatenate([tok, np.zeros(n - tok.size, dtype=tok.dtype)])
            mask = np.concatenate([mask, np.zeros(n - mask.size, dtype=bool)])
        return tok, mask

    def _end_ok(self, b: int, view: PassView, n: int) -> tuple[np.ndarray, int]:
        """Allowed end states of this block and how many positions lie inside the budget."""
        auto = self.autos[b]
        offset = int(view.offset[b])
        n_blocks = math.ceil(view.max_tokens / n)
        inside = max(0, min(n, view.max_tokens - offset))
        if view.block >= n_blocks - 1:
            return auto.accept, inside
        return auto.dist <= view.max_tokens - offset - n, inside

    # -- hooks ------------------------------------------------------------------------------------
    def begin_block(self, view: PassView) -> None:
        self._pass = [None] * len(self.rows)

    def initial_canvas(self, view: PassView, generator: torch.Generator):
        if all(p is None for p in self.pins):
            return None
        n = self._canvas_length(view)
        canvas = torch.randint(0, self.rows[0].tokenizer.vocab_size, (len(self.rows), n), generator=generator)
        for b in range(len(self.rows)):
            bp = self._block_pins(b, int(view.offset[b]), n)
            if bp is not None:
                canvas[b, torch.from_numpy(bp[1])] = torch.from_numpy(bp[0][bp[1]]).long()
        return canvas

    def _canvas_length(self, view: PassView) -> int:
        return int(view.canvas.shape[1]) if view.canvas is not None else self.rows[0].canvas_length

    def process_logits(self, view: PassView, logits: torch.Tensor) -> torch.Tensor:
        B, n, V = logits.shape  # [B, L, V]
        out = torch.full_like(logits, _NEG)  # [B, L, V]
        for b in range(B):
            if not bool(view.active[b]):
                out[b] = logits[b]
                self._pass[b] = None
                continue
            auto, ei = self.autos[b], self.edges[b]
            members = self._members(auto)
            starts = auto.class_start[:-1]
            x = logits[b].index_select(1, members).numpy().astype(np.float32, copy=False)  # [L, Vl]
            cmax = np.maximum.reduceat(x, starts, axis=1)  # [L, C]
            sizes = np.diff(auto.class_start)
            csum = np.add.reduceat(np.exp(x - np.repeat(cmax, sizes, axis=1)), starts, axis=1)  # [L, C]
            lm = cmax.astype(np.float64) + np.log(csum, dtype=np.float64)  # [L, C]
            score = cmax.astype(np.float64)  # [L, C] best token logit per class (Viterbi)
            end_ok, inside = self._end_ok(b, view, n)
            if inside < n:  # past the budget only EOS/pad
                keep = np.full(lm.shape[1], _NEG)
                keep[[auto.eos_class, auto.pad_class]] = 0.0
                lm[inside:] += keep
                score[inside:] += keep
            pins = self._block_pins(b, int(view.offset[b]), n)
            if pins is not None and pins[1].any():
                for i in np.flatnonzero(pins[1]):
                    c = int(auto.token_class[int(pins[0][i])])
                    one = np.full(lm.shape[1], _NEG)
                    if c >= 0:
                        one[c] = 0.0
                    lm[i], score[i] = one, one
            la = forward(ei, lm, self.state[b])
            lb = backward(ei, lm, end_ok)
            post, log_z = class_posteriors(ei, lm, la, lb)  # [L, C]
            if not np.isfinite(log_z):
                raise StructDiffError(f"row {b}: no valid canvas from automaton state {self.state[b]} in block "
                                      f"{view.block} (internal invariant broken; please report)")
            cls_of = np.repeat(np.arange(sizes.size), sizes)  # [Vl]
            with np.errstate(invalid="ignore"):
                shift = np.where(np.isfinite(post), post - lm, _NEG).astype(np.float32)  # [L, C] log w_c - log m_c
            vals = x + shift[:, cls_of]  # [L, Vl]
            out[b].index_copy_(1, members, torch.from_numpy(np.ascontiguousarray(vals)))
            row = _Row()
            row.x, row.lm, row.la, row.post, row.score, row.end_ok, row.pins = x, lm, la, post, score, end_ok, pins
            self._pass[b] = row
        return out

    def propose(self, view, logits, probs, generator):
        B, n = view.canvas.shape
        sampled, best = view.canvas.clone(), view.canvas.clone()  # [B, L]
        for b in range(B):
            row = self._pass[b]
            if row is None:
                continue
            auto, ei = self.autos[b], self.edges[b]
            u = torch.rand(2 * n + 1, generator=generator, dtype=torch.float64).numpy()
            cls_s, _ = sample_classes(ei, row.lm, row.la, row.end_ok, u[: n + 1])
            cls_b, total = best_classes(ei, row.score, self.state[b], row.end_ok)
            if not np.isfinite(total):
                raise StructDiffError(f"row {b}: no best valid canvas (internal invariant broken; please report)")
            cs = auto.class_start
            tok_s = np.empty(n, dtype=np.int64)
            tok_b = np.empty(n, dtype=np.int64)
            for i in range(n):
                a, e = cs[cls_s[i]], cs[cls_s[i] + 1]
                seg = row.x[i, a:e]
                w = np.exp(seg - seg.max(), dtype=np.float64)
                cdf = np.cumsum(w)
                tok_s[i] = auto.members[a + min(int(np.searchsorted(cdf, u[n + 1 + i] * cdf[-1], "right")), e - a - 1)]
                a2, e2 = cs[cls_b[i]], cs[cls_b[i] + 1]
                tok_b[i] = auto.members[a2 + int(np.argmax(row.x[i, a2:e2]))]
            if row.pins is not None:
                tok_s = np.where(row.pins[1], row.pins[0], tok_s)
                tok_b = np.where(row.pins[1], row.pins[0], tok_b)
            sampled[b] = torch.from_numpy(tok_s)
            best[b] = torch.from_numpy(tok_b)
        return sampled, best

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        B, n = accepted_canvas.shape
        noise = accepted_canvas.clone()  # [B, L]
        for b in range(B):
            row = self._pass[b]
            if row is None:
                continue
            auto = self.autos[b]
            sizes = np.diff(auto.class_start).astype(np.float64)
            w = np.where(np.isfinite(row.post), sizes[None, :], 0.0)  # [L, C] allowed classes by size
            cdf = np.cumsum(w, axis=1)
            u = torch.rand(2, n, generator=generator, dtype=torch.float64).numpy()
            c = np.minimum((cdf < (u[0] * cdf[:, -1])[:, None]).sum(axis=1), w.shape[1] - 1)  # [L]
            k = np.minimum((u[1] * sizes[c]).astype(np.int64), sizes[c].astype(np.int64) - 1)
            noise[b] = torch.from_numpy(auto.members[auto.class_start[c] + k])
        return noise

    def observe(self, record) -> None:
        """Report, per row, how many tokens the constraint allowed at each position this pass."""
        allowed = []
        for b, row in enumerate(self._pass):
            if row is None:
                allowed.append([])
                continue
            sizes = np.diff(self.autos[b].class_start)  # [C]
            allowed.append(np.where(np.isfinite(row.post), sizes[None, :], 0).sum(axis=1).tolist())  # [L]
        record.extra["allowed"] = allowed

    def finish_block(self, view, best):
        out = best.clone()
        for b in range(best.shape[0]):
            if not bool(view.active[b]):
                continue
            auto = self.autos[b]
            end, _ = self._end_ok(b, view, best.shape[1])
            s = auto.run(best[b].tolist(), self.state[b])
            if s < 0 or not end[s]:
                raise StructDiffError(f"row {b}: block {view.block} left the constraint's language "
                                      f"(internal invariant broken; please report)")
            self.state[b] = s
        return out
