"""RegexHook: the exact whole-canvas constraint hook for automaton constraints (regex, choices, JSON, bounded Lark).

Per pass, for all rows of a group (rows that share one automaton) at once, on the logits'
device (``automata.canvas_dp``): class log-masses ``[G, L, C]`` from the tempered logits,
forward-backward over (position x state), and then

* ``process_logits`` -> log constrained marginals (``-inf`` outside the language), so
  entropy, acceptance and stopping speak about valid canvases only;
* ``propose`` -> one joint valid sample (forward filter, backward sample, then a token
  within each class) and the best valid canvas (Viterbi on per-class best logits);
* ``renoise`` -> tokens drawn uniformly from those allowed at each position;
* ``finish_block`` -> checks the best canvas, whose end state starts the next block.

Pinned positions (repair rounds) allow exactly one token. The automaton's END state (after
EOS) only allows EOS/pad; the last block must end accepted, earlier blocks in a state from
which the rest of the output (its budget and later pins) can still be completed.

Randomness is counter-based per row (``sampler.rng``): a row's draws depend on its seed and
its own count of draws (made only while it denoises), never on the other rows of the batch.

Every row has its own place in its output and its own budget: its block is ``view.offset``
(per row) and its budget ``budgets`` (per row, default the loop's ``max_tokens``), so one hook
call serves rows that joined a batch at different block boundaries (``structdiff serve``). A
``RowCursor`` (automaton state, draws made) lets a row continue in another hook, block by block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..automata.canvas_dp import (allowed_noise, backtrack, backtrack_draws, backward, best_in_class, class_masses,
                                  class_posteriors, device_automaton, draw_in_class, forward_backward, layout,
                                  set_values, take, walk)
from ..errors import InputError, StructDiffError
from ..sampler.hooks import CanvasHook, PassView
from ..sampler.rng import row_keys, uniforms

__all__ = ["RegexHook", "RowCursor"]

_NEG = float("-inf")


@contextmanager
def _serial(device: torch.device) -> Iterator[None]:
    """The DP's many small ops: in inference mode (no autograd bookkeeping per op, ~15 % less hook time per pass on
    mid-size JSON schemas), and on the CPU in one thread: they gain nothing from more, and where another process
    holds a core every parallel region waits for it (a 600-element ``exp`` took 24 ms with 2 threads on a 2-core
    machine with one core busy, 2 us with one). The passes over ``[B, L, V]`` keep every thread."""
    n = torch.get_num_threads()
    one = device.type == "cpu" and n > 1
    if one:
        torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        if one:
            torch.set_num_threads(n)


@dataclass
class RowCursor:
    """Where one row's output stands between blocks: automaton state to start from, random draws made."""

    state: int = 0
    draws: int = 0


class _Group:
    """Rows that share one automaton: their device tables and this pass's DP results."""

    def __init__(self, auto, rows: list[int]):
        self.auto = auto
        self.rows = rows  # batch rows
        self.da = None
        self.idx = None  # [G] long batch rows on the device
        self.end_ok = None  # [G, S] bool allowed end states of the current block
        self.special = None  # [C] bool the EOS and pad classes


class RegexHook(CanvasHook):
    """Constraint hook for a batch with one compiled automaton constraint per row.

    Parameters
    ----------
    rows : sequence of CompiledRegex
        One per batch row (mixed constraints are fine; rows sharing an automaton run as one group).
    pins : list of (tokens, mask) or None, optional
        Per row, output-length arrays: tokens to keep fixed where ``mask`` (repair rounds).
    seeds : sequence of int, optional
        Per-row seeds of the counter-based draws; ``None`` draws them from the loop's generator.
    budgets : sequence of int, optional
        Per-row token budgets; ``None``: the loop's ``max_tokens`` for every row.
    cursors : sequence of RowCursor, optional
        Per row, where its output stands (a row continuing from another hook); default: its start.
    fail_alone : bool
        ``finish_block`` records a row without a valid canvas in ``failed`` (row -> error; its state is
        left as it was) instead of raising, so the other rows go on.
    """

    def __init__(self, rows: Sequence, pins: Sequence | None = None, seeds: Sequence[int] | None = None,
                 budgets: Sequence[int] | None = None, cursors: Sequence[RowCursor] | None = None,
                 fail_alone: bool = False):
        self.rows = list(rows)
        self.pins = list(pins) if pins is not None else [None] * len(self.rows)
        self.seeds = list(seeds) if seeds is not None else None
        self.budgets = list(budgets) if budgets is not None else None
        self.cursors = list(cursors) if cursors is not None else [RowCursor() for _ in self.rows]
        self.fail_alone = fail_alone
        self.failed: dict[int, StructDiffError] = {}
        groups: dict[str, _Group] = {}
        for b, r in enumerate(self.rows):
            a = r.automaton
            groups.setdefault(a.key, _Group(a, [])).rows.append(b)
        self.groups = list(groups.values())
        self.device = None
        self.state = None  # [B] long automaton state at the start of the current block
        self.keys = None  # [B] int64 row keys of the random draws
        self._draws = None  # [B] long random draws made by each row (counted only while it denoises)
        self._budget = None  # [B] long token budgets (None: the loop's max_tokens)
        self._post = {}  # id(group) -> per-pass tensors
        self._bad = None  # [B] bool rows whose DP found no valid canvas in this block
        self._bufs = {}  # name -> scratch tensor reused across passes (a fresh [B, L, V] costs page faults)
        self._outs = [None, None]  # the constrained logits, two buffers used in turn
        self._turn = 0

    # -- setup ------------------------------------------------------------------------------------
    def _setup(self, device) -> None:
        if self.device is not None:
            return
        self.device = torch.device(device)
        B = len(self.rows)
        for grp in self.groups:
            grp.da = device_automaton(grp.auto, self.device)
            grp.idx = torch.tensor(grp.rows, dtype=torch.long, device=self.device)
            grp.special = torch.zeros(grp.da.n_classes, dtype=torch.bool, device=self.device)
            grp.special[[grp.da.eos_class, grp.da.pad_class]] = True
        self.state = torch.tensor([c.state for c in self.cursors], dtype=torch.long, device=self.device)
        self._draws = torch.tensor([c.draws for c in self.cursors], dtype=torch.long, device=self.device)
        if self.budgets is not None:
            self._budget = torch.tensor(self.budgets, dtype=torch.long, device=self.device)
        self._bad = torch.zeros(B, dtype=torch.bool, device=self.device)
        n = max([len(p[0]) for p in self.pins if p is not None] + [0])
        tok = np.zeros((B, n), dtype=np.int64)
        mask = np.zeros((B, n), dtype=bool)
        for b, p in enumerate(self.pins):
            if p is not None:
                t, m = (np.asarray(a) for a in p)
                tok[b, :t.size], mask[b, :m.size] = t, m
        self._pin_tok = torch.as_tensor(tok, device=self.device)  # [B, N]
        self._pin_mask = torch.as_tensor(mask, device=self.device)  # [B, N]
        self._has_pins = bool(mask.any())

    def _keys(self, generator: torch.Generator | None) -> torch.Tensor:
        """``[B]`` row keys: from ``seeds``, else drawn once from the loop's generator."""
        if self.keys is None:
            seeds = self.seeds
            if seeds is None:
                g = generator if generator is not None else torch.Generator().manual_seed(0)
                seeds = torch.randint(0, 2**62, (len(self.rows),), generator=g, device=g.device).tolist()
            self.keys = row_keys(seeds, self.device)
        return self.keys

    def _u(self, keys: torch.Tensor, rows: torch.Tensor, stream: int, n: int) -> torch.Tensor:
        """Uniforms ``[G, n]`` of draw ``stream`` in the current hook call of ``rows [G]`` (the same in any batch)."""
        return uniforms(keys[rows], self._draws[rows] * 8 + stream, n)

    def _count_draw(self, view: PassView) -> None:
        """One more draw for the rows that denoise in this call (a stopped row's counter stands still)."""
        self._draws += view.active.to(device=self.device, dtype=torch.long)

    def _where(self, view: PassView) -> tuple[torch.Tensor, torch.Tensor]:
        """(first output position of the current block ``[B]``, token budget ``[B]``), per row."""
        offset = view.offset.to(device=self.device, dtype=torch.long)
        if self._budget is None:
            return offset, torch.full_like(offset, view.max_tokens)
        return offset, self._budget

    def _pins(self, rows: torch.Tensor, start: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens ``[G, n]``, mask ``[G, n]``) of output positions ``start .. start+n`` per row (``start [G]``)."""
        N = self._pin_tok.shape[1]
        if not self._has_pins:
            return (torch.zeros((rows.numel(), n), dtype=torch.long, device=self.device),
                    torch.zeros((rows.numel(), n), dtype=torch.bool, device=self.device))
        pos = start[:, None] + torch.arange(n, device=self.device)  # [G, n]
        inside = pos < N  # past the pins: free
        at = pos.clamp(max=N - 1)
        tok = torch.where(inside, self._pin_tok[rows[:, None], at], 0)
        return tok, self._pin_mask[rows[:, None], at] & inside

    def _restrict(self, grp: _Group, lm: torch.Tensor, start: torch.Tensor, budget: torch.Tensor, pin_tok, pin_mask
                  ) -> torch.Tensor:
        """Class scores ``[G, n, C]`` with the budget (EOS/pad only past it) and pins (one class) applied;
        ``start [G]`` is each row's first output position, ``budget [G]`` its token budget."""
        da = grp.da
        _, n, C = lm.shape
        pos = start[:, None] + torch.arange(n, device=lm.device)  # [G, n]
        lm = lm.masked_fill((pos >= budget[:, None])[..., None] & ~grp.special, _NEG)
        one = torch.arange(C, device=lm.device) == da.token_class[pin_tok][..., None]  # [G, n, C]
        return torch.where(pin_mask[..., None], torch.where(one, 0.0, _NEG).to(lm.dtype), lm)

    def _end_ok(self, grp: _Group, offset: torch.Tensor, budget: torch.Tensor, n: int) -> torch.Tensor:
        """``[G, S]`` bool: states this block may end in (the rest of the output stays completable);
        ``offset [G]`` / ``budget [G]``: each row's first position in this block and its token budget."""
        da, L = grp.da, n
        G = grp.idx.numel()
        accept = da.accept.expand(G, -1)
        after = offset + L  # [G] first position of the next block
        last = after >= budget  # [G] this block is the row's last
        if not self._has_pins:
            reach = da.dist[None, :] <= (budget - after)[:, None]  # [G, S]
            return torch.where(last[:, None], accept, reach)
        # the rest of each row's output, in whole blocks; a row whose rest is shorter than the longest is
        # EOS/pad-only past its budget, which keeps exactly the accepting states
        rest = int(((budget + L - 1) // L * L - after).clamp(min=0).max())
        if rest == 0:
            return accept
        pin_tok, pin_mask = self._pins(grp.idx, after, rest)
        free = torch.zeros((G, rest, da.n_classes), device=self.device)
        lm = self._restrict(grp, free, after, budget, pin_tok, pin_mask)
        reach = torch.isfinite(backward(da, set_values(da, lm), accept, full=False))
        return torch.where(last[:, None], accept, reach)

    # -- hooks ------------------------------------------------------------------------------------
    def begin_block(self, view: PassView) -> None:
        self._setup(view.offset.device)
        self._check_budgets(view.max_tokens)
        n = self._canvas_length(view)
        offset, budget = self._where(view)
        for grp in self.groups:
            grp.end_ok = self._end_ok(grp, offset[grp.idx], budget[grp.idx], n)
        self._bad.zero_()
        self._post = {}

    def _check_budgets(self, max_tokens: int) -> None:
        """Every row's budget within the one its constraint was compiled for (its automaton keeps only the states
        an output within that budget can pass through: ``automata.within_budget``)."""
        limits = self.budgets if self.budgets is not None else [max_tokens] * len(self.rows)
        for b, (n, r) in enumerate(zip(limits, self.rows)):
            if n > r.max_tokens:
                raise InputError(f"row {b}: a budget of {n} tokens, but its constraint was compiled for "
                                 f"max_tokens={r.max_tokens}: compile it with max_tokens >= {n}")

    def initial_canvas(self, view: PassView, generator: torch.Generator):
        self._setup(view.offset.device)
        n = self._canvas_length(view)
        V = self.rows[0].tokenizer.vocab_size
        self._count_draw(view)
        every = torch.arange(len(self.rows), device=self.device)
        canvas = (self._u(self._keys(generator), every, 0, n) * V).long().clamp_(max=V - 1)  # [B, L] uniform tokens
        pin_tok, pin_mask = self._pins(every, self._where(view)[0], n)
        return torch.where(pin_mask, pin_tok, canvas)

    def _canvas_length(self, view: PassView) -> int:
        return int(view.canvas.shape[1]) if view.canvas is not None else self.rows[0].canvas_length

    def _buf(self, name: str, like: torch.Tensor, shape: tuple) -> torch.Tensor:
        """Scratch ``shape`` of ``like``'s dtype and device, kept for the next pass (contents undefined)."""
        b = self._bufs.get(name)
        if b is None or b.shape != shape or b.dtype != like.dtype or b.device != like.device:
            b = self._bufs[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return b

    def _out(self, logits: torch.Tensor) -> tuple[torch.Tensor, list]:
        """(output ``[B, L, V]``, its tag) of this pass: two buffers in turn, so the logits a caller keeps from the
        previous pass (the loop's self-conditioning) stay intact; the tag names the layout whose ``-inf`` columns the
        buffer already holds."""
        self._turn ^= 1
        slot = self._outs[self._turn]
        if slot is None or slot[0].shape != logits.shape or slot[0].dtype != logits.dtype or \
                slot[0].device != logits.device or slot[0].data_ptr() == logits.data_ptr():  # never write the input
            slot = self._outs[self._turn] = (torch.empty_like(logits), [None])
        return slot

    def process_logits(self, view: PassView, logits: torch.Tensor) -> torch.Tensor:
        """Log constrained marginals ``[B, L, V]`` of every row (a row that no longer denoises gets them too, and its
        draws and state stand still). The result is one of two buffers the hook reuses in turn: it stays valid
        until the next call but one."""
        self._setup(logits.device)
        B, n, V = logits.shape  # [B, L, V]
        active = view.active.to(device=self.device, dtype=torch.bool)  # [B] no host round trip
        offset, budget = self._where(view)
        self._post = {}
        out, tag = self._out(logits)
        for gi, grp in enumerate(self.groups):
            whole = len(grp.rows) == B  # one group holds every row: no copies
            rows = grp.idx
            x = logits if whole else torch.index_select(logits, 0, rows, out=self._buf(f"x{gi}", logits, (
                rows.numel(), n, V)))  # [G, L, V]
            da = grp.da
            lay = layout(da, V)  # only the live tokens when few are
            if lay.cols is None:
                xc = x
                work = out if whole else self._buf(f"w{gi}", x, x.shape)  # [G, L, V] scratch, then the output
                tag[0] = None
            else:
                shape = (rows.numel(), n, lay.n_cols)
                xc = take(x, lay.cols, out=self._buf(f"c{gi}", x, shape))  # [G, L, V_live]
                work = self._buf(f"w{gi}", x, shape)
            ms = class_masses(xc, da, lay, work)
            with _serial(self.device):
                start, limit = offset[rows], budget[rows]  # [G] each
                pin_tok, pin_mask = self._pins(rows, start, n)
                lm = self._restrict(grp, ms.lm, start, limit, pin_tok, pin_mask)  # [G, L, C]
                score = self._restrict(grp, ms.best, start, limit, pin_tok, pin_mask)  # [G, L, C]
                end_ok = grp.end_ok  # [G, S]
                q0 = self.state[rows]  # [G]
                sv = set_values(da, lm)  # [L, G, T+1]
                sv_b = set_values(da, score, "max")  # [L, G, T+1]
                la, lb, vit = forward_backward(da, sv, q0, end_ok, sv_b)  # [L+1, G, S] each; vit: Viterbi, for propose
                post, log_z = class_posteriors(da, lm, la, lb)  # [G, L, C], [G]
                act = active[rows]  # [G]
                self._bad[rows] |= act & ~torch.isfinite(log_z)
                # log marginal of token t of class c: x_t - top - lm(c) + post(c) (lm is relative to the position's top)
                shift = torch.cat([post - lm, post.new_full((*post.shape[:2], 1), _NEG)], dim=-1) - ms.top
                shift = torch.nan_to_num(shift, nan=_NEG, posinf=_NEG)  # [G, L, C+1]
            vals = torch.gather(shift, -1, lay.col_class.expand(xc.shape), out=work).add_(xc)  # [G, L, V']
            if lay.cols is not None:
                if whole:
                    if tag[0] is not lay:  # the columns outside the language: -inf, written once per buffer
                        out.fill_(_NEG)
                    out.scatter_(-1, lay.cols.expand(vals.shape), vals)
                    tag[0] = lay
                else:
                    vals = torch.full_like(x, _NEG).scatter_(-1, lay.cols.expand(vals.shape), vals)  # [G, L, V]
            if self._has_pins:  # a pinned position allows exactly its token
                target = out if whole else vals
                keep = target.gather(-1, pin_tok[..., None])  # [G, L, 1]
                target.masked_fill_(pin_mask[..., None], _NEG)
                target.scatter_(-1, pin_tok[..., None], torch.where(pin_mask[..., None], 0.0, keep))
                tag[0] = None  # pinned positions hold -inf where the layout's columns are
            if not whole:
                out.index_copy_(0, rows, vals)
                tag[0] = None
            self._post[id(grp)] = dict(lm=lm, la=la, sv=sv, score=score, vit=vit, sv_b=sv_b, post=post, end_ok=end_ok,
                                       pin_tok=pin_tok, pin_mask=pin_mask, x=xc, lay=lay, ms=ms, act=act)
        return out

    def propose(self, view, logits, probs, generator):
        self._setup(logits.device)
        keys = self._keys(generator)
        self._count_draw(view)
        sampled, best = view.canvas.clone(), view.canvas.clone()  # [B, L]
        with _serial(self.device):
            for grp in self.groups:
                p = self._post.get(id(grp))
                if p is None:
                    continue
                da, rows = grp.da, grp.idx
                n = logits.shape[1]
                u = self._u(keys, rows, 0, backtrack_draws(da, n))  # [G, 2L+1 (+ L * pairs into a state)]
                both = backtrack(da, [(p["la"], p["sv"], p["lm"], p["end_ok"], u),
                                      (p["vit"], p["sv_b"], p["score"], p["end_ok"], None)])  # [2G, L]
                cls_s, cls_b = both[:rows.numel()], both[rows.numel():]
                lay = p["lay"]
                tok_s = draw_in_class(p["x"], lay, p["ms"], cls_s, self._u(keys, rows, 1, n))  # [G, L]
                tok_b = best_in_class(p["x"], lay, p["ms"], cls_b)  # [G, L]
                if lay.cols is not None:
                    tok_s, tok_b = lay.cols[tok_s], lay.cols[tok_b]
                stopped, was = ~p["act"][:, None], view.canvas[rows]  # rows that stopped keep their canvas
                sampled.index_copy_(0, rows, torch.where(stopped, was, torch.where(p["pin_mask"], p["pin_tok"], tok_s)))
                best.index_copy_(0, rows, torch.where(stopped, was, torch.where(p["pin_mask"], p["pin_tok"], tok_b)))
        return sampled, best

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        keys = self._keys(generator)
        self._count_draw(view)
        noise = accepted_canvas.clone()  # [B, L]
        with _serial(self.device):
            for grp in self.groups:
                p = self._post.get(id(grp))
                if p is None:
                    continue
                rows, n = grp.idx, accepted_canvas.shape[1]
                tok = allowed_noise(grp.da, torch.isfinite(p["post"]), self._u(keys, rows, 0, n),
                                    self._u(keys, rows, 1, n))  # [G, L]
                stopped, was = ~p["act"][:, None], accepted_canvas[rows]
                noise.index_copy_(0, rows, torch.where(stopped, was, torch.where(p["pin_mask"], p["pin_tok"], tok)))
        return noise

    def observe(self, record) -> None:
        """Report, per row, how many tokens the constraint allowed at each position this pass (``[B, L]``)."""
        B, n = record.canvas.shape
        allowed = torch.zeros((B, n), dtype=torch.long, device=record.canvas.device)
        for grp in self.groups:
            p = self._post.get(id(grp))
            if p is not None:
                sizes = grp.da.sizes.to(p["post"].device)
                n_ok = (torch.isfinite(p["post"]) * sizes).sum(-1).long()  # [G, L]
                allowed[grp.idx] = torch.where(p["act"][:, None], n_ok, 0)
        record.extra["allowed"] = allowed

    def finish_block(self, view, best):
        active = view.active.tolist()
        L = int(best.shape[1])
        for grp in self.groups:
            sel = [k for k, b in enumerate(grp.rows) if active[b] and b not in self.failed]
            if not sel:
                continue
            k = torch.tensor(sel, dtype=torch.long, device=self.device)
            rows = grp.idx[k]
            s = walk(grp.da, best.index_select(0, rows), self.state[rows])  # [G]
            ok = (s >= 0) & grp.end_ok[k].gather(1, s.clamp(min=0)[:, None]).squeeze(1) & ~self._bad[rows]
            if not bool(ok.all()):
                for b in rows[~ok].tolist():
                    block = int(view.offset[b]) // L
                    self.failed[b] = StructDiffError(
                        f"row {b}: block {block} has no valid canvas from automaton state {int(self.state[b])} "
                        "(internal invariant broken; please report)")
                if not self.fail_alone:
                    raise self.failed[min(self.failed)]
            self.state[rows] = torch.where(ok, s, self.state[rows])
        return best

    def row_cursors(self) -> list[RowCursor]:
        """Where every row's output stands now (after a finished block: where its next block starts)."""
        if self.device is None:
            return list(self.cursors)
        return [RowCursor(q, d) for q, d in zip(self.state.tolist(), self._draws.tolist())]
