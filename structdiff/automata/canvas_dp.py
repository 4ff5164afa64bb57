"""The canvas DP as batched torch code on the logits' device: one group of rows per automaton.

Shapes: ``G`` rows that share one automaton, ``L`` canvas positions, ``V`` vocabulary, ``C`` token
classes, ``S`` states (incl. END), ``E`` edges ``src --cls--> dst``.

* ``class_masses``: tempered logits ``[G, L, V]`` -> class log-masses and best logit per class
  ``[G, L, C]`` by a scatter over the token -> class index (no host copy, no gather of the logits);
* ``transitions``: class scores -> log weights of state pairs ``[G, L, P]`` (edges between the same
  two states collapse once, batched over positions, before any sequential loop);
* ``forward`` / ``backward``: ``[G, L+1, S]`` log tables, sum (or max, for the best path) over
  incoming pairs with a per-state max shift, so every valid path stays representable in float32;
* ``class_posteriors``: constrained log marginal of every class ``[G, L, C]`` and ``log Z [G]``;
* ``backtrack``: one class path per row, drawn from the constrained joint (forward filter,
  backward sample) or the best one (Viterbi), from the same tables;
* ``tokens_in_class`` / ``allowed_noise``: tokens inside the chosen classes (by the model's
  weights or uniformly among allowed tokens);
* ``walk``: states after token sequences (checks a finished canvas).

The only Python loops are the sequential steps over positions of the DP itself and, for big
automata, chunks of positions in ``class_posteriors`` (memory stays ``O(G * chunk * E)``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from .automaton import TokenAutomaton

__all__ = ["DeviceAutomaton", "device_automaton", "columns", "class_masses", "transitions", "forward", "backward", "class_posteriors",
           "backtrack", "tokens_in_class", "allowed_noise", "walk", "accepts"]

_NEG = float("-inf")
_FLOOR = -80.0  # exp() below this would be a float32 subnormal (slow, and negligible beside the max term 1)
_CHUNK_ELEMS = 1 << 22  # [G, chunk, E] float32 temporaries of class_posteriors stay under 16 MB
_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 64


@dataclass(frozen=True, eq=False)
class DeviceAutomaton:
    """A ``TokenAutomaton``'s arrays as tensors on one device (built once per automaton and device)."""

    key: str
    n_states: int
    n_classes: int
    eos_class: int
    pad_class: int
    token_class: torch.Tensor  # [V] long; never-allowed tokens -> C (a column no state accepts)
    members: torch.Tensor  # [V_live] long token ids sorted by class
    class_start: torch.Tensor  # [C+1] long
    sizes: torch.Tensor  # [C] float32 tokens per class
    src: torch.Tensor  # [E] long
    cls: torch.Tensor  # [E] long
    dst: torch.Tensor  # [E] long
    trans_key: torch.Tensor  # [E] long sorted ``src * (C+1) + cls``
    trans_dst: torch.Tensor  # [E] long ``dst`` in ``trans_key`` order
    accept: torch.Tensor  # [S] bool
    dist: torch.Tensor  # [S] long fewest tokens to an accepting state
    dst_start: torch.Tensor  # [S+1] long CSR of incoming edges (edges are sorted by dst)
    max_in: int  # largest in-degree
    member_class: torch.Tensor  # [V_live] long class of every member (non-decreasing)
    edge_pair: torch.Tensor  # [E] long the (src, dst) pair of every edge
    pair_src: torch.Tensor  # [P] long
    pair_dst: torch.Tensor  # [P] long


def device_automaton(auto: TokenAutomaton, device: torch.device | str) -> DeviceAutomaton:
    """Memoised ``DeviceAutomaton`` of ``auto`` on ``device``."""
    dev = torch.device(device)
    mkey = (auto.key, str(dev))
    hit = _MEMO.get(mkey)
    if hit is not None:
        _MEMO.move_to_end(mkey)
        return hit
    C = auto.n_classes
    tc = np.where(auto.token_class < 0, C, auto.token_class)
    key = auto.e_src * (C + 1) + auto.e_cls
    order = np.argsort(key, kind="stable")
    starts = np.searchsorted(auto.e_dst, np.arange(auto.n_states + 1))
    pairs, edge_pair = np.unique(auto.e_dst * auto.n_states + auto.e_src, return_inverse=True)

    def t(a, dtype=torch.long):
        return torch.from_numpy(np.array(a)).to(device=dev, dtype=dtype)

    da = DeviceAutomaton(auto.key, auto.n_states, C, auto.eos_class, auto.pad_class, t(tc), t(auto.members),
                         t(auto.class_start), t(np.diff(auto.class_start), torch.float32), t(auto.e_src),
                         t(auto.e_cls), t(auto.e_dst), t(key[order]), t(auto.e_dst[order]),
                         t(auto.accept, torch.bool), t(auto.dist), t(starts), int(np.diff(starts).max(initial=1)), t(tc[auto.members]), t(edge_pair.ravel()),
                         t(pairs % auto.n_states), t(pairs // auto.n_states))
    _MEMO[mkey] = da
    if len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return da


def columns(da: DeviceAutomaton, V: int) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(vocabulary columns to work on or ``None`` for all ``V``, their class ``[V']``): only the live tokens
    when at most half of the vocabulary is live (one gather then saves more than it costs)."""
    if 2 * da.members.numel() <= V:
        return da.members, da.member_class
    return None, da.token_class


def _segment_lse(vals: torch.Tensor, index: torch.Tensor, size: int, op: str = "sum") -> torch.Tensor:
    """``[N, K]`` values grouped by ``index [K]`` -> ``[N, size]`` log-sum-exp (or max); ``-inf`` where empty."""
    idx = index.expand(vals.shape[0], -1)  # [N, K]
    mx = vals.new_full((vals.shape[0], size), _NEG).scatter_reduce_(1, idx, vals, "amax")  # [N, size]
    if op == "max":
        return mx
    safe = torch.where(torch.isfinite(mx), mx, 0.0)  # [N, size]
    rel = vals - safe.index_select(1, index)  # [N, K] <= 0
    rel = rel.masked_fill_(rel < _FLOOR, _NEG)  # terms under e^-80 of their segment's max: dropped, never subnormal
    tot = vals.new_zeros(vals.shape[0], size).scatter_add_(1, idx, rel.exp_())
    return safe + tot.log()


def class_masses(x: torch.Tensor, da: DeviceAutomaton, token_class: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Tempered logits ``[G, L, V]`` -> (class log-mass ``[G, L, C]``, best token logit per class ``[G, L, C]``).

    ``token_class [V]`` is the class of every column of ``x`` (default: the whole vocabulary's);
    ``C`` marks a column no class holds.

    Sums use one max shift per position, with token terms floored at ``e^-80`` of the position's
    best token (no float32 subnormals); so every class with a token keeps a finite mass (the support
    never depends on underflow), exact for classes within ~70 nats of the position's best token.
    """
    G, L, V = x.shape
    C = da.n_classes
    idx = (da.token_class if token_class is None else token_class).expand(G, L, V)  # [G, L, V] view
    top = x.amax(-1, keepdim=True)  # [G, L, 1]
    tot = x.new_zeros(G, L, C + 1).scatter_add_(-1, idx, (x - top).clamp_(min=_FLOOR).exp_())  # [G, L, C+1]
    cmax = x.new_full((G, L, C + 1), _NEG).scatter_reduce_(-1, idx, x, "amax")  # [G, L, C+1]
    lm = torch.where(tot > 0, top + tot.log(), _NEG)  # empty classes (none of their tokens exists): -inf
    return lm[..., :C], cmax[..., :C]


def transitions(da: DeviceAutomaton, lm: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Class scores ``[G, L, C]`` -> log weight of every state pair ``[G, L, P]`` (sum or max over its classes).

    Edges that join the same two states collapse before the sequential loop, in chunks of positions.
    """
    G, L, _ = lm.shape
    E, P = int(da.cls.numel()), int(da.pair_src.numel())
    out = lm.new_empty(G, L, P)
    step = max(1, _CHUNK_ELEMS // max(1, G * E))
    for i in range(0, L, step):
        j = min(L, i + step)
        vals = lm[:, i:j].index_select(2, da.cls).reshape(-1, E)  # [G*l, E]
        out[:, i:j] = _segment_lse(vals, da.edge_pair, P, op).view(G, j - i, P)
    return out


def forward(da: DeviceAutomaton, trans: torch.Tensor, start: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """``[G, L+1, S]`` log mass (``op="max"``: best score) of prefixes ending in each state; ``trans [G, L, P]``."""
    G, L, _ = trans.shape
    la = trans.new_full((G, L + 1, da.n_states), _NEG)
    la[:, 0].scatter_(1, start[:, None], 0.0)
    for i in range(L):
        vals = la[:, i].index_select(1, da.pair_src) + trans[:, i]  # [G, P]
        la[:, i + 1] = _segment_lse(vals, da.pair_dst, da.n_states, op)
    return la


def backward(da: DeviceAutomaton, trans: torch.Tensor, end_ok: torch.Tensor, full: bool = True) -> torch.Tensor:
    """``[G, L+1, S]`` log mass of valid suffixes from each state (``end_ok [G, S]`` bool); ``full=False``: ``[G, S]`` at 0."""
    G, L, _ = trans.shape
    cur = torch.where(end_ok, 0.0, _NEG).to(trans.dtype)  # [G, S]
    lb = trans.new_full((G, L + 1, da.n_states), _NEG) if full else None
    if full:
        lb[:, L] = cur
    for i in range(L - 1, -1, -1):
        vals = trans[:, i] + cur.index_select(1, da.pair_dst)  # [G, P]
        cur = _segment_lse(vals, da.pair_src, da.n_states)
        if full:
            lb[:, i] = cur
    return lb if full else cur


def class_posteriors(da: DeviceAutomaton, lm: torch.Tensor, la: torch.Tensor, lb: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(constrained log marginal of every class ``[G, L, C]``, ``log Z [G]``); ``log Z = -inf``: no valid canvas."""
    G, L, C = lm.shape
    E = int(da.src.numel())
    log_z = torch.logsumexp(la[:, L] + lb[:, L], dim=-1)  # [G]
    post = torch.empty_like(lm)
    step = max(1, _CHUNK_ELEMS // max(1, G * E))
    for i in range(0, L, step):
        j = min(L, i + step)
        vals = la[:, i:j].index_select(2, da.src) + lb[:, i + 1:j + 1].index_select(2, da.dst)  # [G, l, E]
        seg = _segment_lse(vals.reshape(-1, E), da.cls, C).view(G, j - i, C)  # [G, l, C]
        post[:, i:j] = lm[:, i:j] + seg - log_z[:, None, None]
    return post, log_z


def _pick(w: torch.Tensor, u: torch.Tensor | None, log: bool) -> torch.Tensor:
    """Index ``[...]`` drawn from weights ``w [..., K]`` (log weights when ``log``) with ``u [...]``; ``u=None``: argmax.

    Never returns a zero-weight index while some weight is positive.
    """
    best = w.argmax(-1)  # [...]
    if u is None:
        return best
    p = torch.nan_to_num((w - w.amax(-1, keepdim=True)).exp(), nan=0.0) if log else w  # [..., K]
    cdf = p.cumsum(-1)  # [..., K]
    target = (u * cdf[..., -1].double()).to(cdf.dtype)  # [...]
    k = torch.searchsorted(cdf, target[..., None], right=True).squeeze(-1).clamp_(max=w.shape[-1] - 1)
    ok = p.gather(-1, k[..., None]).squeeze(-1) > 0
    return torch.where(ok, k, best)


def backtrack(da: DeviceAutomaton, table: torch.Tensor, w: torch.Tensor, end_ok: torch.Tensor,
              u: torch.Tensor | None) -> torch.Tensor:
    """One class path ``[G, L]`` per row, backwards through ``table [G, L+1, S]`` with class weights ``w [G, L, C]``.

    ``table`` from ``forward(op="sum")`` and ``u [G, L+1]`` uniforms: a draw from the constrained joint;
    from ``forward(op="max")`` and ``u=None``: the best valid path. Rows without a valid path get garbage.
    """
    G, L, _ = w.shape
    E = int(da.src.numel())
    classes = torch.empty((G, L), dtype=torch.long, device=w.device)
    state = _pick(table[:, L].masked_fill(~end_ok, _NEG), None if u is None else u[:, L], True)  # [G]
    window = torch.arange(da.max_in, device=w.device)  # [D] incoming edges of a state are contiguous
    for i in range(L - 1, -1, -1):
        lo, hi = da.dst_start[state], da.dst_start[state + 1]  # [G]
        cand = lo[:, None] + window  # [G, D] edge ids
        e = cand.clamp(max=E - 1)
        vals = table[:, i].gather(1, da.src[e]) + w[:, i].gather(1, da.cls[e])  # [G, D]
        vals = vals.masked_fill(cand >= hi[:, None], _NEG)
        k = _pick(vals, None if u is None else u[:, i], True)  # [G]
        edge = e.gather(1, k[:, None]).squeeze(1)  # [G]
        classes[:, i] = da.cls[edge]
        state = da.src[edge]
    return classes


def _block_size(V: int) -> int:
    k = 1
    while k < 1024 and V % (2 * k) == 0:
        k *= 2
    return k if k >= 64 else V


def tokens_in_class(x: torch.Tensor, token_class: torch.Tensor, classes: torch.Tensor, u: torch.Tensor | None = None,
                    top: torch.Tensor | None = None) -> torch.Tensor:
    """A token of class ``classes [G, L]`` at every position of logits ``x [G, L, V]``: drawn by softmax weight
    with uniforms ``u [G, L]``, or the best one when ``u`` is ``None``.

    ``token_class [V]`` is the class of every column of ``x``; the result indexes those columns.
    ``top [G, L]`` (optional) is the best logit inside the chosen class. Two-level inverse CDF over
    blocks of the vocabulary, so the ``[G, L, V]`` work is one masked exponential and one block sum.
    """
    G, L, V = x.shape
    inside = token_class.expand(G, L, V) == classes[..., None]  # [G, L, V] bool
    if u is None:
        return torch.where(inside, x, _NEG).argmax(-1)
    if top is None:
        top = torch.where(inside, x, _NEG).amax(-1)
    w = torch.where(inside, x - top[..., None], _NEG).exp_()  # [G, L, V] in-class weights, the best weighs 1
    K = _block_size(V)
    blocks = w.view(G, L, V // K, K)  # [G, L, nb, K]
    bsum = blocks.sum(-1)  # [G, L, nb]
    j = _pick(bsum, u, False)  # [G, L] block
    cdf = bsum.cumsum(-1)
    mass = bsum.gather(-1, j[..., None]).squeeze(-1)  # [G, L]
    before = cdf.gather(-1, j[..., None]).squeeze(-1) - mass
    r = ((u * cdf[..., -1] - before) / mass).clamp_(0.0, 1.0 - 2 ** -53)  # uniform inside the block
    inner = blocks.gather(2, j[..., None, None].expand(G, L, 1, K)).squeeze(2)  # [G, L, K]
    return j * K + _pick(inner, r, False)


def allowed_noise(da: DeviceAutomaton, allowed: torch.Tensor, u_class: torch.Tensor, u_token: torch.Tensor
                  ) -> torch.Tensor:
    """Tokens ``[G, L]`` uniform over those whose class is ``allowed [G, L, C]`` (uniforms ``[G, L]`` each)."""
    c = _pick(allowed * da.sizes, u_class, False)  # [G, L] class, by its size
    size = da.sizes[c].long()  # [G, L]
    k = torch.minimum((u_token * size).long(), (size - 1).clamp(min=0))
    return da.members[(da.class_start[c] + k).clamp(max=da.members.numel() - 1)]


def walk(da: DeviceAutomaton, tokens: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """States ``[G]`` after token rows ``tokens [G, N]`` from ``start [G]`` (``-1`` once a token is not allowed)."""
    cls = da.token_class[tokens]  # [G, N]
    state = start.clone()
    E = int(da.trans_key.numel())
    for i in range(tokens.shape[1]):
        key = state * (da.n_classes + 1) + cls[:, i]  # [G]
        pos = torch.searchsorted(da.trans_key, key).clamp_(max=max(E - 1, 0))
        hit = (da.trans_key[pos] == key) & (state >= 0)
        state = torch.where(hit, da.trans_dst[pos], -1)
    return state


def accepts(auto: TokenAutomaton, tokens) -> bool:
    """Whether the token sequence drives ``auto`` from state 0 to an accepting state (the final guard)."""
    da = device_automaton(auto, "cpu")
    toks = torch.as_tensor(list(tokens), dtype=torch.long).view(1, -1)
    if toks.numel() and (int(toks.min()) < 0 or int(toks.max()) >= da.token_class.numel()):
        return False
    s = int(walk(da, toks, torch.zeros(1, dtype=torch.long))[0])
    return s >= 0 and bool(da.accept[s])
