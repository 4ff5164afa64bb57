"""The CSP canvas hook: the model proposes values, propagation and a complete solver keep them sound.

Each CSP variable is one canvas position (``CanvasLayout``); each value is one token. Every pass:

1. ``process_logits``: a variable's logits keep only the tokens of its propagated domain;
   decided variables, separators, EOS and pad become one-hot (entropy 0).
2. ``propose`` samples from those constrained distributions (so every proposal is in-domain).
3. ``accept``: the entropy-bound rule picks the model's most confident open variables; they
   are assigned in order of increasing entropy, each followed by propagation. A conflict
   (empty domain) **re-noises the variables involved**: the model-placed neighbours of the
   variables where it showed up, plus the newcomer -- not the whole canvas.
4. ``renoise`` writes forced values (singletons of propagation) and, elsewhere, random
   tokens drawn from the variable's domain rather than from the whole vocabulary.
5. ``finish_block`` keeps the model's best canvas where it stays consistent, then checks
   with the complete solver that the assignment extends to a solution; where it does not, the
   most recent model values are dropped (bounded binary search) and the solver fills the rest.
   ``stats.solver_stepped_in`` says when that happened. The returned canvas is a solution.

Layouts longer than one canvas span several blocks: a finished block's variables are frozen,
and because the solver checked them, later blocks can always be completed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..errors import InputError, UnsatisfiableError
from ..sampler.hooks import CanvasHook, PassView
from .csp import CSP, Conflict

__all__ = ["CSPHook", "CSPStats", "CanvasLayout"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanvasLayout:
    """Where a CSP lives in the output: one token per variable, fixed tokens (separators) elsewhere.

    ``length`` tokens in all, then EOS. ``var_pos[v]`` is variable ``v``'s output position,
    ``fixed`` the ``(position, token)`` pairs, ``value_tokens[k]`` the one token of value ``k``.
    """

    length: int
    var_pos: tuple[int, ...]
    fixed: tuple[tuple[int, int], ...]
    value_tokens: tuple[int, ...]

    def __post_init__(self):
        taken = list(self.var_pos) + [p for p, _ in self.fixed]
        if sorted(taken) != list(range(self.length)):
            raise InputError("a canvas layout must give every position 0..length-1 exactly one variable or token")
        if len(set(self.value_tokens)) != len(self.value_tokens):
            raise InputError("two values of the layout share a token; each value needs its own token")

    def tokens(self, vals: Sequence[int]) -> list[int]:
        """Layout tokens (without EOS) of a complete assignment (value index per variable)."""
        out = [0] * self.length
        for p, t in self.fixed:
            out[p] = t
        for v, p in enumerate(self.var_pos):
            out[p] = self.value_tokens[vals[v]]
        return out


@dataclass
class CSPStats:
    """Who placed each open variable, and how often conflicts re-noised the canvas."""

    cells_by_model: int = 0
    cells_by_propagation: int = 0
    cells_by_solver: int = 0
    conflicts: int = 0  # empty domains met while accepting model values
    renoised_cells: int = 0  # model values re-noised by conflicts (incl. the newcomer) or the final check
    solver_stepped_in: bool = False
    values: list[int] = field(default_factory=list)  # final value index per variable


class _Row:
    """Per-canvas-row search state."""

    def __init__(self, csp: CSP):
        self.csp = csp
        self.given = {v for v, d in enumerate(csp.domains) if d and not d & (d - 1)}
        try:
            self.base = csp.propagate(csp.domains)  # givens (+ frozen blocks), propagated
        except Conflict as exc:
            raise UnsatisfiableError(f"the constraints contradict each other before any value is placed "
                                     f"({exc.reason}); check the givens") from exc
        if not csp.solve(self.base, limit=1):
            raise UnsatisfiableError("the constraints have no solution: check the givens and rules")
        self.model: dict[int, int] = {}  # var -> value index, placed by the model (current block)
        self.order: list[int] = []  # model vars in the order they were accepted
        self.doms = list(self.base)
        self.final: dict[int, tuple[int, str]] = {}  # frozen var -> (value, source)
        self.stats = CSPStats()

    def recompute(self) -> None:
        """Domains from givens + model values; on a conflict drop the newest model values until none."""
        while True:
            try:
                self.doms = self.csp.domains_for(self.model, self.base)
                return
            except Conflict:
                self._drop([self.order[-1]])

    def _drop(self, variables) -> None:
        for v in variables:
            if v in self.model:
                del self.model[v]
                self.order.remove(v)
                self.stats.renoised_cells += 1

    def place(self, v: int, k: int) -> bool:
        """Assign a model value and propagate; on a conflict re-noise the variables involved."""
        trial = list(self.doms)
        trial[v] = 1 << k
        try:
            self.doms = self.csp.propagate(trial)
        except Conflict as exc:
            self.stats.conflicts += 1
            involved = (self.csp.explain(exc, trial) | exc.vars) & set(self.model)
            log.debug("conflict at %s (%s): re-noising %s", sorted(exc.vars), exc.reason, sorted(involved))
            self._drop(involved)
            self.stats.renoised_cells += 1  # the newcomer goes back to noise as well
            probe = list(self.base)
            probe[v] &= 1 << k
            try:
                self.csp.propagate(probe)
            except Conflict:  # v = k fails on the givens alone: never propose it again
                self.base[v] &= ~(1 << k)
            self.recompute()
            return False
        self.model[v] = k
        self.order.append(v)
        return True

    def solution(self) -> list[int] | None:
        """One solution extending the current model values, or ``None``."""
        doms = [self.base[v] & (1 << self.model[v]) if v in self.model else self.base[v] for v in range(self.csp.n)]
        found = self.csp.solve(doms, limit=1)
        return found[0] if found else None

    def complete(self, block_vars: list[int], prefer: dict[int, int], entropy: dict[int, float]) -> None:
        """Finish ``block_vars``: model's best where consistent, then the solver; freeze them."""
        for v in sorted((v for v in block_vars if self.doms[v] & (self.doms[v] - 1)), key=lambda u: entropy.get(u, 0)):
            k = prefer.get(v)
            if k is not None and (self.doms[v] >> k) & 1 and self.doms[v] & (self.doms[v] - 1):
                trial = list(self.doms)
                trial[v] = 1 << k
                try:
                    self.doms = self.csp.propagate(trial)
                    self.model[v] = k
                    self.order.append(v)
                except Conflict:
                    pass
        sol = self.solution()
        if sol is None:  # not extendable: keep the longest solvable prefix of the model's values
            self.stats.solver_stepped_in = True
            snap, order = dict(self.model), list(self.order)
            lo, hi = 0, len(order)  # the empty prefix is solvable (checked when the row was made)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                self.model = {u: snap[u] for u in order[:mid]}
                found = self.solution()
                if found is None:
                    hi = mid
                else:
                    lo, sol = mid, found
            self.model = {u: snap[u] for u in order[:lo]}
            self.order = order[:lo]
            self.stats.renoised_cells += len(order) - lo
            if sol is None:
                sol = self.solution()
            self.recompute()
        assert sol is not None  # base is solvable: checked when the row was made
        for v in block_vars:
            if v in self.given:
                src = "given"
            elif v in self.model:
                src = "model"
            elif not self.doms[v] & (self.doms[v] - 1):
                src = "propagation"
            else:
                src = "solver"
                self.stats.solver_stepped_in = True
            self.final[v] = (sol[v], src)
            self.base[v] = 1 << sol[v]
        for v in block_vars:
            self.model.pop(v, None)
        self.order = [u for u in self.order if u in self.model]
        self.recompute()


class CSPHook(CanvasHook):
    """Drive the denoising loop over CSP rows: model proposals, propagated domains, a complete solver.

    Parameters
    ----------
    csps : sequence of CSP
        One per batch row (same variable count and layout).
    layout : CanvasLayout
        Output position of each variable and the fixed tokens.
    canvas_length : int
        The model's canvas; a layout longer than one canvas spans several blocks.
    eos_id, pad_id : int
        The tokenizer's EOS (written right after the layout) and pad (after EOS).
    time_limit : float
        Seconds of model passes; after that the solver finishes the canvas (no hang).
    """

    def __init__(self, csps: Sequence[CSP], layout: CanvasLayout, *, canvas_length: int, eos_id: int, pad_id: int,
                 time_limit: float = 60.0):
        if not csps:
            raise InputError("give at least one CSP")
        if any(c.n != len(layout.var_pos) or len(c.values) != len(layout.value_tokens) for c in csps):
            raise InputError("every CSP must have one variable per layout cell and one value per value token")
        self.layout = layout
        self.rows = [_Row(c) for c in csps]
        self.time_limit = time_limit
        self._L = int(canvas_length)
        self._t0 = time.perf_counter()
        self._token_value = {t: k for k, t in enumerate(layout.value_tokens)}
        self._fixed = dict(layout.fixed)
        self._fixed[layout.length] = eos_id
        self._pad = pad_id
        self._pos_var = {p: v for v, p in enumerate(layout.var_pos)}
        self._sampled: torch.Tensor | None = None
        self._entropy: torch.Tensor | None = None
        n_out = layout.length + 1
        self._var_at = torch.full((n_out,), -1, dtype=torch.long)  # [N] output position -> var
        self._var_at[list(layout.var_pos)] = torch.arange(len(layout.var_pos))
        self._fixed_at = torch.full((n_out,), pad_id, dtype=torch.long)  # [N] output position -> fixed token
        for p, t in self._fixed.items():
            self._fixed_at[p] = t
        self._values = torch.tensor(layout.value_tokens, dtype=torch.long)  # [D]
        self._version = 0  # bumped whenever the search state changes
        self._cache = None

    @property
    def max_tokens(self) -> int:
        """Token budget for ``SamplerConfig``: the layout and its EOS."""
        return self.layout.length + 1

    @property
    def stats(self) -> list[CSPStats]:
        return [r.stats for r in self.rows]

    # -- helpers ------------------------------------------------------------------------------
    def _block_vars(self, view: PassView) -> list[tuple[int, int]]:
        """(local position, var) of the variables on this block's canvas."""
        off, L = int(view.offset[0]), self._L
        return [(p - off, v) for p, v in self._pos_var.items() if off <= p < off + L]

    def _state(self, view: PassView, device) -> tuple[torch.Tensor, torch.Tensor]:
        """This block's canvas as tensors on ``device``: (token ``[B, L]``, -1 at open variables;
        domain ``[B, L, D]`` bool over the values at open variables).

        The search state lives in Python (propagation is host work); it crosses to the device once
        per change, as ``[B, n]`` domain bitmasks, and everything per position is tensor code.
        """
        off, L, D = int(view.offset[0]), self._L, len(self.layout.value_tokens)
        key = (off, self._version, str(device))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        doms = torch.tensor([[1 << r.final[v][0] if v in r.final else r.doms[v] for v in range(r.csp.n)]
                             for r in self.rows], dtype=torch.long)  # [B, n] bitmasks (host -> device once)
        pos = torch.arange(off, off + L)  # [L]
        var = self._var_at[pos.clamp(max=self._var_at.numel() - 1)]  # [L] var or -1
        var = torch.where(pos < self._var_at.numel(), var, -1)
        fixed = torch.where(pos < self._fixed_at.numel(), self._fixed_at[pos.clamp(max=self._fixed_at.numel() - 1)],
                            self._pad)  # [L] fixed token (pad past the layout)
        d = doms[:, var.clamp(min=0)].to(device)  # [B, L]
        dom = ((d[..., None] >> torch.arange(D, device=device)) & 1).bool()  # [B, L, D]
        single = (d & (d - 1)) == 0  # [B, L]
        value = dom.long().argmax(-1)  # [B, L] the value of a singleton domain
        vt = self._values.to(device)
        at_var = (var >= 0).to(device)[None, :]  # [1, L]
        tok = torch.where(at_var, torch.where(single, vt[value], -1), fixed.to(device)[None, :])  # [B, L]
        out = (tok, dom & (tok < 0)[..., None])
        self._cache = (key, out)
        return out

    def _noise(self, view: PassView, generator: torch.Generator, device) -> torch.Tensor:
        """Canvas ``[B, L]``: decided tokens where known, random in-domain tokens at open variables."""
        tok, dom = self._state(view, device)
        u = torch.rand(tok.shape, generator=generator, dtype=torch.float64).to(device)  # [B, L]
        count = dom.sum(-1)  # [B, L] values left
        k = torch.minimum((u * count).long(), (count - 1).clamp(min=0))  # [B, L] which of them
        pick = (dom.long().cumsum(-1) <= k[..., None]).sum(-1).clamp(max=dom.shape[-1] - 1)  # [B, L]
        return torch.where(tok >= 0, tok, self._values.to(device)[pick])

    # -- hook points ---------------------------------------------------------------------------
    def begin_block(self, view: PassView) -> None:
        if view.block == 0:
            self._t0 = time.perf_counter()  # the time limit counts from the first canvas
        for row in self.rows:
            row.recompute()
        self._version += 1

    def initial_canvas(self, view: PassView, generator: torch.Generator) -> torch.Tensor:
        return self._noise(view, generator, view.offset.device)

    def process_logits(self, view: PassView, logits: torch.Tensor) -> torch.Tensor:
        tok, dom = self._state(view, logits.device)  # [B, L], [B, L, D]
        vt = self._values.to(logits.device)
        out = torch.full_like(logits, float("-inf"))  # [B, L, V]
        out[..., vt] = torch.where(dom, logits[..., vt], float("-inf"))  # open variables: their domain
        fixed = tok >= 0
        return out.scatter_(-1, tok.clamp(min=0)[..., None],
                            torch.where(fixed, 0.0, out.gather(-1, tok.clamp(min=0)[..., None]).squeeze(-1))[..., None])

    def propose(self, view, logits, probs, generator):
        # all the mass of a variable's position lies on value tokens: sample among those D, not all V
        best = torch.argmax(logits, dim=-1)  # [B, L]; exact at one-hot (fixed/decided) positions
        tok, dom = self._state(view, logits.device)
        vt = self._values.to(logits.device)
        pv = probs[..., vt] * dom  # [B, L, D]
        u = torch.rand(best.shape, generator=generator, dtype=torch.float64).to(logits.device)  # [B, L]
        cdf = pv.cumsum(-1)  # [B, L, D]
        k = (cdf <= (u * cdf[..., -1])[..., None]).sum(-1).clamp(max=len(self.layout.value_tokens) - 1)
        sampled = torch.where(tok < 0, vt[k], best)
        self._sampled = sampled
        return sampled, best  # [B, L], [B, L]

    def accept(self, view: PassView, entropy: torch.Tensor, default: torch.Tensor) -> torch.Tensor:
        # placing values is host work (propagation); what it needs crosses once per pass
        self._entropy = entropy.detach().cpu()  # [B, L]
        off = int(view.offset[0])
        sampled = self._sampled.cpu()
        default_h = default.cpu()
        active = view.active.tolist()
        out_of_time = time.perf_counter() - self._t0 > self.time_limit
        block_vars = self._block_vars(view)
        for b, row in enumerate(self.rows):
            if not active[b]:
                continue
            if out_of_time:
                log.info("CSP hook: time limit of %.1f s reached; the solver finishes the canvas", self.time_limit)
                self._finish_row(row, block_vars, None)
            else:
                open_here = [(i, v) for i, v in block_vars if bool(default_h[b, i]) and row.doms[v] & (row.doms[v] - 1)]
                open_here.sort(key=lambda iv: float(self._entropy[b, iv[0]]))
                for i, v in open_here:
                    k = self._token_value.get(int(sampled[b, i]))
                    if k is None or not (row.doms[v] >> k) & 1:
                        continue  # stale proposal: an earlier acceptance this pass removed it
                    if not row.place(v, k):
                        break  # a conflict re-noised cells: decide the rest after the next forward
        self._version += 1
        return self._kept(off, default.shape[1]).to(default.device)

    def _kept(self, off: int, L: int) -> torch.Tensor:
        """``[B, L]`` bool: fixed tokens and placed values (model or final) stay; the rest is re-noised."""
        placed = torch.tensor([[v in r.model or v in r.final for v in range(r.csp.n)] for r in self.rows])  # [B, n]
        pos = torch.arange(off, off + L)
        var = torch.where(pos < self._var_at.numel(), self._var_at[pos.clamp(max=self._var_at.numel() - 1)], -1)
        return (var < 0)[None, :] | placed[:, var.clamp(min=0)]

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        return self._noise(view, generator, accepted_canvas.device)

    def _finish_row(self, row: _Row, block_vars: list[tuple[int, int]], best: torch.Tensor | None,
                    b: int = 0) -> None:
        prefer, ent = {}, {}
        if best is not None:
            for i, v in block_vars:
                k = self._token_value.get(int(best[b, i]))
                if k is not None:
                    prefer[v] = k
                if self._entropy is not None:
                    ent[v] = float(self._entropy[b, i])
        row.complete([v for _, v in block_vars], prefer, ent)

    def finish_block(self, view: PassView, best: torch.Tensor) -> torch.Tensor:
        block_vars = self._block_vars(view)
        best_cpu = best.cpu()
        for b, row in enumerate(self.rows):
            if any(v not in row.final for _, v in block_vars):
                self._finish_row(row, block_vars, best_cpu, b)
        self._version += 1
        out, _ = self._state(view, best.device)  # every variable of the block is final now
        for row in self.rows:
            if len(row.final) == row.csp.n:
                self._close(row)
        return out

    def _close(self, row: _Row) -> None:
        st = row.stats
        vals = [row.final[v][0] for v in range(row.csp.n)]
        if not row.csp.is_solution(vals):  # pragma: no cover - guarded by construction
            raise UnsatisfiableError("internal error: the completed assignment breaks a rule")
        sources = [row.final[v][1] for v in range(row.csp.n)]
        st.values = vals
        st.cells_by_model = sources.count("model")
        st.cells_by_propagation = sources.count("propagation")
        st.cells_by_solver = sources.count("solver")
