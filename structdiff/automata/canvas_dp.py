"""The canvas DP as batched torch code on the logits' device: one group of rows per automaton.

Shapes: ``G`` rows that share one automaton, ``L`` canvas positions, ``V`` vocabulary, ``C`` token
classes, ``S`` states (incl. END), ``E`` edges ``src --cls--> dst``, ``P`` state pairs (all edges
between two states as one), ``T`` distinct class sets of the pairs, ``K`` their (set, class) entries.

* ``class_masses``: tempered logits ``[G, L, V']`` -> class log-masses and best logit per class
  ``[G, L, C]`` in four passes over the logits (best logit, floored exponential, scatter-add,
  scatter-max into cells of at most ``sqrt(V)`` columns of one class; ``Layout``), no host copy;
* ``set_values``: class scores -> log weight (sum or max) of every class set ``[L, G, T+1]``;
* ``forward_backward`` (and ``forward`` / ``backward``): ``[L+1, G, S]`` log tables over state pairs; forward,
  backward and the Viterbi forward run as lanes of one loop over positions (``Scan``): each step a gather of
  all lanes' slots, one ``logsumexp`` / ``amax`` over slot-major columns, and a second one only for states with
  more incoming pairs than a column holds; a per-row max shift, so every valid path stays representable in float32;
* ``class_posteriors``: constrained log marginal of every class ``[G, L, C]`` and ``log Z [G]``, via
  pairs and class sets: ``O(P + K)`` per position, not ``O(E)``;
* ``backtrack``: class paths drawn from the constrained joint (forward filter, backward sample) and
  the best ones (Viterbi), all rows of both at once; for small automata each step's choice is computed for all
  positions and states at once (the chase back is two gathers per position), above that the chase reads the
  incoming pairs of each row's state and draws one by Gumbel-max, then a class of every chosen pair's set;
* ``draw_in_class`` / ``best_in_class`` / ``allowed_noise``: tokens inside the chosen classes (by the
  model's weights, reading one cell of columns per position, or uniformly among allowed tokens);
* ``walk``: states after token sequences (checks a finished canvas).

The only Python loops are the sequential steps over positions of the DP itself (one loop for all lanes),
the backward chase, and chunks of positions where a bulk step would need big temporaries (memory stays
``O(G * chunk * (P + K))``). ``exp`` never sees exponents under -80 where they are many (a float32 subnormal, and
50-100x slower on x86 CPUs).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from .automaton import TokenAutomaton

__all__ = ["DeviceAutomaton", "device_automaton", "Layout", "layout", "Masses", "class_masses", "set_values", "forward",
           "backward", "forward_backward", "class_posteriors", "backtrack", "backtrack_draws", "draw_in_class",
           "best_in_class", "allowed_noise", "walk", "accepts", "take"]

_NEG = float("-inf")
_FLOOR = -80.0  # exp() below this would be a float32 subnormal (slow, and negligible beside the max term 1)
_CHUNK_ELEMS = 1 << 22  # [G, chunk, E] float32 temporaries of class_posteriors stay under 16 MB
_LANES = 4
_LOG2E = 1.4426950408889634  # log2(e)
_LN2 = 0.6931471805599453  # ln(2)
_DENSE_SETS = 1 << 22  # class/set incidence as a dense [C, T] matrix up to this many entries (16 MB float32)
_CHASE_STATES = 32  # backtracking choices for all states at once up to this many states, a chase over pairs above
_IN_PAIRS_MAX = 1 << 24  # the chase's [S, most pairs into one state] table up to this many entries (128 MB int64)
_ONE_LEVEL_PAD = 2  # a reduction pads every segment to the longest while that reads at most ~2x the items
_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 64


def _remember(mkey, value):
    """Put ``value`` in the memo under ``mkey`` (dropping the oldest entry past ``_MEMO_SIZE``); returns it."""
    _MEMO[mkey] = value
    if len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return value


@dataclass(frozen=True, eq=False)
class Reduce:
    """A segment reduction (``N`` items into ``S`` segments) as dense padded rows, for the sequential DP steps:
    item slots ``[R, D]`` reduced over ``D``, then (when some segment is long) each segment's rows ``[S, D2]``
    reduced over ``D2``. Pad slots and rows read a value that is always ``-inf``; one torch reduction per
    level keeps the per-row max shift exact in log space."""

    slot: torch.Tensor  # [R*D] long item of every slot (N: pad)
    D: int
    rows: torch.Tensor | None  # [S*D2] long level-1 row of every (segment, k) (R-1: the all-pad row); None: R == S
    D2: int


def _reduce(seg: np.ndarray, n_seg: int, dev) -> Reduce:
    """``Reduce`` of items with segment ids ``seg [N]``: one level when padding costs at most ~2x, else two, with
    the row width that reads the fewest slots."""
    N = seg.size
    order = np.argsort(seg, kind="stable")
    counts = np.bincount(seg, minlength=n_seg)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(N, dtype=np.int64)
    rank[order] = np.arange(N) - np.repeat(first, counts)  # position of each item inside its segment
    longest = int(counts.max(initial=1)) or 1

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64)).to(dev)

    if n_seg * longest <= _ONE_LEVEL_PAD * N + 64:
        slot = np.full((n_seg, longest), N, dtype=np.int64)
        slot[seg, rank] = np.arange(N)
        return Reduce(t(slot.ravel()), longest, None, 1)

    def cost(w):
        nrow = -(-counts // w)
        return (int(nrow.sum()) + 1) * w + n_seg * int(nrow.max(initial=1))

    width = min((4, 8, 16, 32, 64), key=cost)
    nrow = -(-counts // width)  # [S] rows of each segment (0 for an empty one)
    row0 = np.concatenate([[0], np.cumsum(nrow)[:-1]])
    R = int(nrow.sum()) + 1  # + one all-pad row
    slot = np.full((R, width), N, dtype=np.int64)
    slot[row0[seg] + rank // width, rank % width] = np.arange(N)
    D2 = int(nrow.max(initial=1)) or 1
    rows = np.full((n_seg, D2), R - 1, dtype=np.int64)
    k = np.arange(D2)
    has = k[None, :] < nrow[:, None]
    rows[has] = (row0[:, None] + k[None, :])[has]
    return Reduce(t(slot.ravel()), width, t(rows.ravel()), D2)


@dataclass(frozen=True, eq=False)
class DeviceAutomaton:
    """A ``TokenAutomaton``'s arrays as tensors on one device (built once per automaton and device).

    The DP works on state pairs ``(src, dst)`` (``P``, all edges between two states as one) and on the distinct
    class sets of the pairs (``T``: a pair's weight is its class set's mass, computed once per set).
    """

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
    member_class: torch.Tensor  # [V_live] long class of every member (non-decreasing)
    pair_src: torch.Tensor  # [P+1] long (the last: a pad pair, state 0)
    pair_dst: torch.Tensor  # [P+1] long
    pair_set: torch.Tensor  # [P+1] long class set of every pair (the pad pair: T, always -inf)
    n_sets: int  # T
    set_id: torch.Tensor  # [K] long (set, class) entries of the distinct class sets, by set
    set_cls: torch.Tensor  # [K] long
    fwd: Reduce  # pairs into their dst
    sets: Reduce  # (set, class) entries into their set


def device_automaton(auto: TokenAutomaton, device: torch.device | str) -> DeviceAutomaton:
    """Memoised ``DeviceAutomaton`` of ``auto`` on ``device``."""
    dev = torch.device(device)
    mkey = (auto.key, str(dev))
    hit = _MEMO.get(mkey)
    if hit is not None:
        _MEMO.move_to_end(mkey)
        return hit
    C, S = auto.n_classes, auto.n_states
    tc = np.where(auto.token_class < 0, C, auto.token_class)
    key = auto.e_src * (C + 1) + auto.e_cls
    order = np.argsort(key, kind="stable")
    pairs, edge_pair = np.unique(auto.e_dst * S + auto.e_src, return_inverse=True)
    edge_pair = edge_pair.ravel()
    P = pairs.size
    # the class set of every pair, as a tuple; equal sets share one id
    by_pair = np.lexsort((auto.e_cls, edge_pair))
    bounds = np.searchsorted(edge_pair[by_pair], np.arange(P + 1))
    cls_sorted = auto.e_cls[by_pair]
    set_ids: dict = {}
    pair_set = np.empty(P + 1, dtype=np.int64)
    for p in range(P):
        pair_set[p] = set_ids.setdefault(cls_sorted[bounds[p]:bounds[p + 1]].tobytes(), len(set_ids))
    T = len(set_ids)
    pair_set[P] = T
    set_cls = [np.frombuffer(k, dtype=cls_sorted.dtype) for k in set_ids]
    set_id = np.repeat(np.arange(T), [c.size for c in set_cls])
    pair_src = np.append(pairs % S, 0)
    pair_dst = np.append(pairs // S, 0)

    def t(a, dtype=torch.long):
        return torch.from_numpy(np.array(a)).to(device=dev, dtype=dtype)

    da = DeviceAutomaton(auto.key, S, C, auto.eos_class, auto.pad_class, t(tc), t(auto.members),
                         t(auto.class_start), t(np.diff(auto.class_start), torch.float32), t(auto.e_src),
                         t(auto.e_cls), t(auto.e_dst), t(key[order]), t(auto.e_dst[order]),
                         t(auto.accept, torch.bool), t(auto.dist),
                         t(tc[auto.members]), t(pair_src), t(pair_dst), t(pair_set), T, t(set_id),
                         t(np.concatenate(set_cls + [np.zeros(0, dtype=np.int64)])),
                         _reduce(pairs // S, S, dev), _reduce(set_id, T, dev))
    return _remember(mkey, da)


@dataclass(frozen=True, eq=False)
class Layout:
    """How the per-pass work reads ``V'`` logit columns of one automaton: columns in class order (ranks), cut into
    **cells** of at most ``K`` columns of one class. Per-cell sums and maxima (``class_masses``) give the class
    masses, and let a draw or a best token inside a class read the class's cells (``D`` at most) and then one
    cell's ``K`` columns, never ``V'``. ``N`` cells, about ``V' / K + C``; ``K`` about ``sqrt(V')``."""

    cols: torch.Tensor | None  # [V'] vocabulary ids of the columns, or None: all V
    col_class: torch.Tensor  # [V'] long class of every column (C: a column no class holds)
    n_cols: int
    col_cell: torch.Tensor  # [V'] long cell of every column (target of the per-cell maxima)
    cell_lane: torch.Tensor  # [V'] long cell * lanes + column % lanes (target of the per-cell sums)
    by_rank: torch.Tensor  # [V'] long column at every rank (columns by class, then by column)
    cell_start: torch.Tensor  # [N+1] long first rank of every cell
    cell_class: torch.Tensor  # [N] long class of every cell (non-decreasing)
    class_cell: torch.Tensor  # [C+2] long first cell of every class (C: the columns of no class)
    K: int  # most columns in one cell
    D: int  # most cells of one class


def _cell_width(n: int) -> int:
    """Most columns in one cell for ``n`` columns: a power of two >= ``sqrt(n)``, at least 16 (tests patch it)."""
    return max(16, 1 << (max(1, math.isqrt(max(n, 1)) - 1)).bit_length())


def _cells(col_class: np.ndarray, n_classes: int) -> tuple:
    """(K, col_cell, cell_lane, by_rank, cell_start, cell_class, class_cell, D) of ``Layout`` for ``col_class [V']``."""
    n = col_class.size
    K = _cell_width(n)
    by_rank = np.argsort(col_class, kind="stable")
    cls = col_class[by_rank]  # [V'] non-decreasing
    first = np.searchsorted(cls, np.arange(n_classes + 2))  # [C+2] first rank of every class
    within = np.arange(n) - first[cls]  # rank inside the class
    new = within % K == 0  # a cell starts here
    cell_of_rank = np.cumsum(new) - 1
    col_cell = np.empty(n, dtype=np.int64)
    col_cell[by_rank] = cell_of_rank
    starts = np.flatnonzero(new)
    cell_class = cls[starts]
    class_cell = np.searchsorted(cell_class, np.arange(n_classes + 2))  # [C+2]
    D = int(np.diff(class_cell).max(initial=1)) or 1
    lane = col_cell * _LANES + np.arange(n) % _LANES
    return K, col_cell, lane, by_rank, np.append(starts, n), cell_class, class_cell, D


def layout(da: DeviceAutomaton, V: int) -> Layout:
    """Memoised ``Layout`` of ``da`` for a vocabulary of ``V``: only the live tokens when at most half of it is
    live (one gather then saves more than it costs)."""
    mkey = ("layout", da.key, str(da.token_class.device), V)
    hit = _MEMO.get(mkey)
    if hit is not None:
        return hit
    cols, col_class = (da.members, da.member_class) if 2 * da.members.numel() <= V else (None, da.token_class)
    K, col_cell, lane, by_rank, cell_start, cell_class, class_cell, D = _cells(col_class.cpu().numpy(), da.n_classes)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(col_class.device)

    lay = Layout(cols, col_class, col_class.numel(), t(col_cell), t(lane), t(by_rank), t(cell_start), t(cell_class),
                 t(class_cell), K, D)
    return _remember(mkey, lay)


def take(x: torch.Tensor, index: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``x[..., index]`` for a 1-D ``index``: a gather with the index expanded (on CPU 5-10x faster than
    ``index_select`` along a last dimension, e.g. 24 ms vs 231 ms for 131k of 262k columns at L=256)."""
    return torch.gather(x, -1, index.expand(*x.shape[:-1], -1), out=out)


def _lse(v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``torch.logsumexp`` over ``dim`` with terms under ``e^-80`` of the max dropped: ``exp`` never sees them
    (nor the ``-inf`` pads), which on x86 CPUs is 50-100x slower than the normal range; ``-inf`` where all are."""
    m = v.amax(dim, keepdim=True).clamp_(min=-3e38)
    d = v - m
    return d.clamp(min=_FLOOR).exp_().masked_fill_(d < _FLOOR, 0.0).sum(dim).log_().add_(m.squeeze(dim))


def _segment_lse(vals: torch.Tensor, index: torch.Tensor, size: int, op: str = "sum") -> torch.Tensor:
    """``[N, K]`` values grouped by ``index [K]`` -> ``[N, size]`` log-sum-exp (or max); ``-inf`` where empty."""
    idx = index.expand(vals.shape[0], -1)  # [N, K]
    mx = vals.new_full((vals.shape[0], size), _NEG).scatter_reduce_(1, idx, vals, "amax")  # [N, size]
    if op == "max":
        return mx
    safe = torch.where(torch.isfinite(mx), mx, 0.0)  # [N, size]
    rel = vals - take(safe, index)  # [N, K] <= 0
    small = rel < _FLOOR  # terms under e^-80 of their segment's max (and -inf): dropped, exp never sees them
    tot = vals.new_zeros(vals.shape[0], size).scatter_add_(1, idx, rel.clamp_(min=_FLOOR).exp_().masked_fill_(small, 0.0))
    return safe + tot.log()


@dataclass
class Masses:
    """One pass's class statistics of ``G`` rows (``N`` cells of columns, see ``Layout``)."""

    lm: torch.Tensor  # [G, L, C] class log-mass, up to a per-position constant
    best: torch.Tensor  # [G, L, C] best token logit per class
    top: torch.Tensor  # [G, L, 1] best logit of the position
    cell_sum: torch.Tensor  # [G, L, N] mass of every cell, relative to ``top``
    cell_max: torch.Tensor  # [G, L, N] best logit of every cell


def _rel_exp(x: torch.Tensor, top: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``exp(x - top)`` with the exponent floored at -80 (never a float32 subnormal; one arithmetic for sums and draws),
    computed as ``exp2(x log2(e) - top log2(e))``: one pass for the shift and scale (``top`` broadcasts), and ``exp2``
    is ~2.5x faster than ``exp`` on CPU (67M floats: 22 vs 57 ms)."""
    return torch.add(top * -_LOG2E, x, alpha=_LOG2E, out=out).clamp_(min=_FLOOR * _LOG2E).exp2_()


def class_masses(x: torch.Tensor, da: DeviceAutomaton, lay: Layout, work: torch.Tensor | None = None) -> Masses:
    """Tempered logits ``[G, L, V']`` (the columns of ``lay``) -> ``Masses``; ``work`` an optional ``[G, L, V']`` scratch.

    Four passes over the logits: the best logit, one exponential, one scatter-add and one scatter-max into
    the cells of ``lay`` (a few thousand per position: they stay in cache). Token terms are floored at
    ``e^-80`` of the position's best token, so every class with a token keeps a finite mass (the support
    never depends on underflow), exact for classes within ~70 nats of the position's best token.
    """
    G, L, V = x.shape
    N = lay.cell_class.numel()
    C1 = da.n_classes + 1
    top = x.amax(-1, keepdim=True)  # [G, L, 1]
    w = _rel_exp(x, top, work)  # [G, L, V']
    # runs of columns in one cell would make the sum one long dependency chain: lanes break it
    csum = x.new_zeros(G, L, N * _LANES).scatter_add_(-1, lay.cell_lane.expand(G, L, V), w)
    csum = csum.view(G, L, N, _LANES).sum(-1)  # [G, L, N]
    cmax = x.new_full((G, L, N), _NEG).scatter_reduce_(-1, lay.col_cell.expand(G, L, V), x, "amax")  # [G, L, N]
    by_cell = lay.cell_class.expand(G, L, N)
    tot = x.new_zeros(G, L, C1).scatter_add_(-1, by_cell, csum)[..., :-1]  # [G, L, C]
    best = x.new_full((G, L, C1), _NEG).scatter_reduce_(-1, by_cell, cmax, "amax")[..., :-1]  # [G, L, C]
    lm = torch.where(tot > 0, tot.log(), _NEG)  # empty classes (none of their tokens exists): -inf
    return Masses(lm, best, top, csum, cmax)


def _incidence(da: DeviceAutomaton) -> torch.Tensor | None:
    """Memoised ``[C, T]`` float 0/1, class ``c`` in class set ``t`` (a sum over sets' classes is then one matmul);
    ``None`` above ``_DENSE_SETS`` entries."""
    C, T = da.n_classes, da.n_sets
    if C * T > _DENSE_SETS:
        return None
    mkey = ("incidence", da.key, str(da.set_cls.device))
    hit = _MEMO.get(mkey)
    if hit is None:
        hit = torch.zeros((C, T), device=da.set_cls.device)
        hit[da.set_cls, da.set_id] = 1.0
        _remember(mkey, hit)
    return hit


def _floored_exp(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(``exp(v - m)``, ``m [N, 1]``) of ``v [N, A]`` with ``m`` its row max: terms under ``e^-80`` of it count as
    ``e^-80`` (a float32 exponential of less would be a subnormal), ``-inf`` as 0; an all ``-inf`` row gives zeros."""
    m = v.amax(-1, keepdim=True).clamp_(min=-3e38)
    return _rel_exp(v, m).masked_fill_(v == _NEG, 0.0), m


def _sum_into(v: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Log-sum-exp of ``v [N, K]`` grouped by ``index [K]`` -> ``[N, size]``, ``-inf`` where a group has no finite
    term; terms under ``e^-80`` of their row's max count as ``e^-80`` (see ``_sum_by``)."""
    w, m = _floored_exp(v)
    return v.new_zeros(v.shape[0], size).scatter_add_(1, index.expand(v.shape[0], -1), w).log_().add_(m)


def _sum_by(v: torch.Tensor, inc: torch.Tensor) -> torch.Tensor:
    """Log-sum-exp of ``v [N, A]`` into the groups of ``inc [A, B]`` (0/1) -> ``[N, B]`` as one matmul, ``-inf`` where
    a group has no finite term. Terms under ``e^-80`` of their row's max count as ``e^-80``: every group with a
    finite term stays finite (the support never depends on underflow), exact for terms within 80 nats of the max.
    Where the user allows TF32 matmuls on CUDA (``torch.set_float32_matmul_precision("high")``) the product runs
    in float64 instead, so the sums keep float32 precision."""
    w, m = _floored_exp(v)
    if w.is_cuda and torch.get_float32_matmul_precision() != "highest":  # TF32 / bf16 would round every term
        return (w.double() @ inc.double()).float().log_().add_(m)
    return (w @ inc).log_().add_(m)


def set_values(da: DeviceAutomaton, lm: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Class scores ``[G, L, C]`` -> log weight (sum, or max) of every distinct class set, position-major ``[L, G, T+1]``
    (the last column ``-inf``: the pad pair's). Sums are one matmul with the class/set incidence where it is small
    (terms under ``e^-80`` of the position's best class count as ``e^-80``), else a segmented log-sum-exp."""
    G, L, C = lm.shape
    K = int(da.set_cls.numel())
    out = lm.new_full((L, G, da.n_sets + 1), _NEG)
    flat = out.view(L * G, -1)
    rows = lm.transpose(0, 1).reshape(L * G, C)
    inc = _incidence(da) if op == "sum" else None
    if inc is not None:
        flat[:, :-1] = _sum_by(rows, inc)
        return out
    vals = take(rows, da.set_cls)  # [L*G, K]
    step = max(1, _CHUNK_ELEMS // max(1, K))
    for i in range(0, L * G, step):
        flat[i:i + step, :-1] = _segment_lse(vals[i:i + step], da.set_id, da.n_sets, op)
    return out


@dataclass(frozen=True, eq=False)
class Scan:
    """Lanes of the sequential DP run as one loop over positions: each lane a DP over state pairs (``fwd``: into
    their dst, reading their src; ``bwd``: the reverse), all lanes' states side by side in one row ``[G, R]``.

    Every segment (a state of a lane) owns a head column that holds its value; its first ``D`` pairs are the
    slots of its head, the rest go to tail columns, ``D`` slots each. One step gathers the slots ``[G, D, R]``
    (slot-major: the reduction over ``D`` reads contiguous rows, fast on every device) and reduces them into the
    row; segments with tails then reduce their head and tails ``[G, D2, M]`` into the head. Columns:
    sum lanes' heads, their tails, max lanes' heads, their tails, one all-pad column: log-sum-exp runs on the
    leading ``R_sum`` columns, max on the rest.
    """

    read: torch.Tensor  # [D*R] long column each slot reads (a head)
    sets: torch.Tensor  # [D*R] long set column (of ``[G, lanes*(T+1)]``) each slot adds
    D: int
    R: int
    R_sum: int
    heads: tuple  # column offset of every lane's S heads
    multi: torch.Tensor | None  # [M] long head columns of segments with tails (None: none)
    parts: torch.Tensor | None  # [D2*M] long columns (head, tails, pad) of each of them, slot-major
    D2: int
    M_sum: int  # the first M_sum of them belong to sum lanes


_SCAN_WIDTH = None  # slots per column; None: the width that reads the fewest (tests force tails)


def _scan_plan(da: DeviceAutomaton, lanes: tuple[str, ...], n_sum: int) -> Scan:
    """Memoised ``Scan`` of ``da`` for ``lanes`` (``"fwd"`` / ``"bwd"``), the first ``n_sum`` of them sum lanes."""
    dev = da.pair_src.device
    mkey = ("scan", da.key, str(dev), lanes, n_sum, _SCAN_WIDTH)
    hit = _MEMO.get(mkey)
    if hit is not None:
        return hit
    S, T, nl = da.n_states, da.n_sets, len(lanes)
    P = int(da.pair_src.numel()) - 1
    src, dst, pset = (a[:P].cpu().numpy() for a in (da.pair_src, da.pair_dst, da.pair_set))
    seg = np.concatenate([(dst if ln == "fwd" else src) + k * S for k, ln in enumerate(lanes)])  # [N] segment
    rd = np.concatenate([(src if ln == "fwd" else dst) + k * S for k, ln in enumerate(lanes)])  # [N] segment read
    st = np.concatenate([pset + k * (T + 1) for k in range(nl)])  # [N]
    W = nl * S
    counts = np.bincount(seg, minlength=W)
    order = np.argsort(seg, kind="stable")
    rank = np.empty(seg.size, dtype=np.int64)
    rank[order] = np.arange(seg.size) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)

    def cost(d):  # slots read per step, plus the fixed cost of the tail step
        n = -(-counts // d)
        multi = n > 1
        return (W + int((n[multi] - 1).sum()) + 1) * d + (int(n.max(initial=1)) * int(multi.sum()) + 4096) * multi.any()

    D = _SCAN_WIDTH or min((1, 2, 4, 8, 16, 32, 64), key=cost)
    ncol = np.maximum(1, -(-counts // D))  # [W] columns of every segment (its head + tails)
    tails = ncol - 1
    is_sum = np.arange(W) < n_sum * S
    # column of every segment's head and first tail: sum heads, sum tails, max heads, max tails, pad
    n_sum_tails = int(tails[is_sum].sum())
    head = np.where(is_sum, np.arange(W), np.arange(W) + n_sum_tails)
    tail0 = np.empty(W, dtype=np.int64)
    tail0[is_sum] = n_sum * S + np.concatenate([[0], np.cumsum(tails[is_sum])[:-1]])
    tail0[~is_sum] = W + n_sum_tails + np.concatenate([[0], np.cumsum(tails[~is_sum])[:-1]])
    R = W + int(tails.sum()) + 1
    pad = R - 1
    chunk = rank // D
    col = np.where(chunk == 0, head[seg], tail0[seg] + chunk - 1)  # [N] column of every item
    slot_item = np.full((D, R), seg.size, dtype=np.int64)  # [D, R] item of every slot (N: pad)
    slot_item[rank % D, col] = np.arange(seg.size)
    read = np.append(head[rd], 0)[slot_item]
    sets = np.append(st, T)[slot_item]  # the pad: lane 0's set column T, always -inf
    multi = np.flatnonzero(tails > 0)  # sum lanes' first
    D2 = int(ncol.max(initial=1))
    parts = np.full((D2, multi.size), pad, dtype=np.int64)
    parts[0] = head[multi]
    for k in range(1, D2):
        has = tails[multi] >= k
        parts[k, has] = tail0[multi][has] + k - 1

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64)).to(dev)

    plan = Scan(t(read.ravel()), t(sets.ravel()), D, R, n_sum * S + n_sum_tails,
                tuple(int(head[k * S]) if S else 0 for k in range(nl)),
                t(head[multi]) if multi.size else None, t(parts.ravel()) if multi.size else None, D2,
                int(is_sum[multi].sum()))
    return _remember(mkey, plan)


def _level(v: torch.Tensor, dest: torch.Tensor, n_sum: int) -> None:
    """``v [G, D, R]`` -> ``dest [G, R]``: base-2 log-sum-exp over ``D`` of the first ``n_sum`` columns, max of the rest
    (the scan runs in log2 units: ``exp2`` is ~2.5x faster than ``exp`` on CPU).

    Terms under ``e^-80`` of their column's max count as ``e^-80`` (the sum moves by under one float32 ulp, and
    ``exp2`` never sees a subnormal); an all ``-inf`` column gives NaN there, which ``fmax`` turns into the max."""
    torch.amax(v, 1, out=dest)
    if n_sum:
        m = dest[:, :n_sum]  # [G, n_sum]
        s = torch.sub(v[:, :, :n_sum], m[:, None]).clamp_(min=_FLOOR * _LOG2E).exp2_().sum(1).log2_().add_(m)
        torch.fmax(s, m, out=m)


def _scan(da: DeviceAutomaton, lanes: tuple[str, ...], n_sum: int, svals: torch.Tensor, first: torch.Tensor
          ) -> list[torch.Tensor]:
    """The sequential DP over positions, all lanes in one loop: ``svals [L, G, lanes*(T+1)]`` (each lane's set
    weights in its own order of steps), ``first [G, lanes, S]`` -> per lane ``[L+1, G, S]`` (row ``j``: after ``j``
    steps)."""
    plan = _scan_plan(da, lanes, n_sum)
    L, G, _ = svals.shape
    S, D, R = da.n_states, plan.D, plan.R
    svals = svals * _LOG2E  # log2 units inside the loop (see _level)
    table = svals.new_full((L + 1, G, R), _NEG)
    for k, h in enumerate(plan.heads):
        table[0, :, h:h + S] = first[:, k] * _LOG2E
    # gathers with expanded indices: on CPU several times faster than index_select along a last dimension
    read = plan.read.expand(G, -1)  # [G, D*R]
    if plan.multi is not None:
        tmp = svals.new_empty((G, plan.multi.numel()))
        parts, multi = plan.parts.expand(G, -1), plan.multi.expand(G, -1)
    step = max(1, _CHUNK_ELEMS // max(1, G * D * R))
    rows = table.unbind(0)  # [G, R] views of every position (no indexing op per step)
    for c in range(0, L, step):
        l = min(L, c + step) - c
        add = svals[c:c + l].gather(2, plan.sets.expand(l, G, -1)).unbind(0)  # [G, D*R] the set weight of every slot
        for i in range(c, c + l):
            v = rows[i].gather(1, read).add_(add[i - c]).view(G, D, R)  # [G, D, R]
            nxt = rows[i + 1]
            _level(v, nxt, plan.R_sum)
            if plan.multi is not None:  # segments with tails: head and tails into the head
                _level(nxt.gather(1, parts).view(G, plan.D2, -1), tmp, plan.M_sum)
                nxt.scatter_(1, multi, tmp)
    table.mul_(_LN2)  # back to natural log units
    return [table[:, :, h:h + S] for h in plan.heads]


def forward(da: DeviceAutomaton, svals: torch.Tensor, start: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """``[L+1, G, S]`` log mass (``op="max"``: best score) of prefixes ending in each state; ``svals [L, G, T+1]``."""
    first = svals.new_full((start.numel(), 1, da.n_states), _NEG)
    first[:, 0].scatter_(1, start[:, None], 0.0)
    return _scan(da, ("fwd",), int(op == "sum"), svals, first)[0]


def backward(da: DeviceAutomaton, svals: torch.Tensor, end_ok: torch.Tensor, full: bool = True) -> torch.Tensor:
    """``[L+1, G, S]`` log mass of valid suffixes from each state (``end_ok [G, S]`` bool); ``full=False``: ``[G, S]`` at 0."""
    first = torch.where(end_ok, 0.0, _NEG).to(svals.dtype)[:, None]
    table = _scan(da, ("bwd",), 1, svals.flip(0), first)[0]
    return table.flip(0) if full else table[-1]


def forward_backward(da: DeviceAutomaton, svals: torch.Tensor, start: torch.Tensor, end_ok: torch.Tensor,
                     best: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``forward`` and ``backward`` of ``svals [L, G, T+1]`` (and ``forward(op="max")`` of ``best``, when given) in
    one loop over positions: (``[L+1, G, S]`` each, the last ``None`` without ``best``)."""
    G = start.numel()
    lanes = ("fwd", "bwd") if best is None else ("fwd", "bwd", "fwd")
    parts = [svals, svals.flip(0)] + ([] if best is None else [best])
    first = svals.new_full((G, len(lanes), da.n_states), _NEG)
    first[:, 0].scatter_(1, start[:, None], 0.0)
    first[:, 1] = torch.where(end_ok, 0.0, _NEG)
    if best is not None:
        first[:, 2].scatter_(1, start[:, None], 0.0)
    tables = _scan(da, lanes, 2, torch.cat(parts, -1), first)
    return tables[0], tables[1].flip(0), None if best is None else tables[2]


def class_posteriors(da: DeviceAutomaton, lm: torch.Tensor, la: torch.Tensor, lb: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(constrained log marginal of every class ``[G, L, C]``, ``log Z [G]``); ``log Z = -inf``: no valid canvas.

    The mass through class ``c`` at a position is the sum, over the class sets holding ``c``, of the set's
    pairs' ``alpha(src) + beta(dst)``: ``O(P + K)`` per position, not ``O(E)``.
    """
    G, L, C = lm.shape
    P = int(da.pair_src.numel()) - 1
    log_z = torch.logsumexp(la[L] + lb[L], dim=-1)  # [G]
    post = torch.empty((L, G, C), dtype=lm.dtype, device=lm.device)
    step = max(1, _CHUNK_ELEMS // max(1, G * max(P, int(da.set_cls.numel()))))
    src, dst = da.pair_src[:P], da.pair_dst[:P]
    inc = _incidence(da)
    for i in range(0, L, step):
        j = min(L, i + step)
        pv = la[i:j].gather(2, src.expand(j - i, G, P)) + lb[i + 1:j + 1].gather(2, dst.expand(j - i, G, P))  # [l,G,P]
        sv = _sum_into(pv.reshape(-1, P), da.pair_set[:P], da.n_sets)  # [l*G, T]
        cls = _segment_lse(take(sv, da.set_id), da.set_cls, C) if inc is None else _sum_by(sv, inc.T)  # [l*G, C]
        post[i:j] = cls.view(j - i, G, C)
    return post.transpose(0, 1) + lm - log_z[:, None, None], log_z


def _pick(w: torch.Tensor, u: torch.Tensor | None, log: bool, rest: bool = False):
    """Index ``[...]`` drawn from weights ``w [..., K]`` (log weights when ``log``) with ``u [...]``; ``u=None``: argmax.

    Never returns a zero-weight index while some weight is positive. ``rest=True``: also the uniform left inside
    the drawn index (``[...]`` in [0, 1)), for a second level. Log weights under ``e^-80`` of the largest are
    dropped (an exponential of them would be a float32 subnormal).
    """
    best = w.argmax(-1)  # [...]
    if u is None:
        return (best, None) if rest else best
    if log:
        d = w - w.amax(-1, keepdim=True).clamp_(min=-3e38)  # [..., K]; -inf rows: all -inf, never NaN
        p = d.clamp(min=_FLOOR).exp_().masked_fill_(d < _FLOOR, 0.0)
    else:
        p = w
    cdf = p.cumsum(-1)  # [..., K]
    total = cdf[..., -1].double()
    target = (u * total).to(cdf.dtype)  # [...]
    k = torch.searchsorted(cdf, target[..., None], right=True).squeeze(-1).clamp_(max=w.shape[-1] - 1)
    mass = p.gather(-1, k[..., None]).squeeze(-1)
    k = torch.where(mass > 0, k, best)
    if not rest:
        return k
    mass = p.gather(-1, k[..., None]).squeeze(-1).double()
    before = cdf.gather(-1, k[..., None]).squeeze(-1).double() - mass
    return k, ((u * total - before) / mass).nan_to_num_(0.0).clamp_(0.0, 1.0 - 2 ** -53)


def _reduce_pick(red: Reduce, vals: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
    """Per segment of ``red``, the item ``[N, S]`` drawn (``u [N]`` uniforms) or best (``u=None``) by log weights
    ``vals [N, R*D]`` of its slots; the pad item where a segment has no finite weight."""
    N = vals.shape[0]
    R = red.slot.numel() // red.D
    v1 = vals.view(N, R, red.D)
    if red.rows is None:
        k = _pick(v1, None if u is None else u[:, None].expand(N, R), True)  # [N, S]
        return red.slot[torch.arange(R, device=vals.device) * red.D + k]
    S = red.rows.numel() // red.D2
    tot = _lse(v1) if u is not None else v1.amax(-1)  # [N, R]
    v2 = take(tot, red.rows).view(N, S, red.D2)
    k2, r = _pick(v2, None if u is None else u[:, None].expand(N, S), True, rest=True)  # [N, S]
    row = red.rows[torch.arange(S, device=vals.device) * red.D2 + k2]  # [N, S]
    k1 = _pick(v1.gather(1, row[..., None].expand(N, S, red.D)), r, True)  # [N, S]
    return red.slot[row * red.D + k1]


def _choices(da: DeviceAutomaton, table: torch.Tensor, sv: torch.Tensor, w: torch.Tensor, u_pair: torch.Tensor | None,
             u_cls: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """For every position ``i`` and state ``q`` after it: (the state before ``[L, G, S]``, the class ``[L, G, S]``)
    of the step into ``q``, drawn from the constrained joint (``u_* [G, L]``) or best (``None``).

    A pair by ``table[i][src] + sv[i][set]``, then a class of the pair's set by ``w``: exactly an edge by
    ``table[i][src] + w[cls]``. Vectorised over positions and states, so the backward chase is two gathers a step.
    """
    L, G, S = table.shape[0] - 1, table.shape[1], da.n_states
    red, sets = da.fwd, da.sets
    P = int(da.pair_src.numel()) - 1
    slot_src, slot_set = da.pair_src[red.slot], da.pair_set[red.slot]  # [R*D]
    wp = torch.cat([w, w.new_full((G, L, 1), _NEG)], -1).transpose(0, 1)  # [L, G, C+1]; column C: pad
    ent_cls = torch.cat([da.set_cls, da.set_cls.new_full((1,), da.n_classes)])[sets.slot]  # [R'*D']
    prev = torch.empty((L, G, S), dtype=torch.long, device=w.device)
    cls = torch.empty((L, G, S), dtype=torch.long, device=w.device)
    width = max(red.slot.numel(), sets.slot.numel(), S * max(red.D, sets.D))
    step = max(1, _CHUNK_ELEMS // max(1, G * width))
    for i in range(0, L, step):
        j = min(L, i + step)
        n = (j - i) * G
        vals = take(table[i:j], slot_src) + take(sv[i:j], slot_set)  # [l, G, R*D]
        up = None if u_pair is None else u_pair[:, i:j].transpose(0, 1).reshape(n)
        pair = _reduce_pick(red, vals.view(n, -1), up).clamp_(max=P)  # [l*G, S]
        uc = None if u_cls is None else u_cls[:, i:j].transpose(0, 1).reshape(n)
        ent = _reduce_pick(sets, take(wp[i:j], ent_cls).view(n, -1), uc)  # [l*G, T]
        ent = torch.cat([ent, ent.new_zeros(n, 1)], -1).clamp_(max=int(da.set_cls.numel()) - 1)  # the pad set
        prev[i:j] = da.pair_src[pair].view(j - i, G, S)
        cls[i:j] = da.set_cls[ent.gather(1, da.pair_set[pair])].view(j - i, G, S)
    return prev, cls


def backtrack(da: DeviceAutomaton, paths: list) -> torch.Tensor:
    """Class paths ``[sum G, L]``, one per row of every ``(table, sv, w, end_ok, u)`` in ``paths``, backwards
    through ``table [L+1, G, S]`` (set weights ``sv [L, G, T+1]``, class weights ``w [G, L, C]``, ``end_ok [G, S]``).

    ``table`` from ``forward(op="sum")`` and ``u [G, 2L+1]`` uniforms: a draw from the constrained joint;
    from ``forward(op="max")`` and ``u=None``: the best valid path. Rows without a valid path get garbage.
    Up to ``_CHASE_STATES`` states the choices of every step are computed for all states at once (``_choices``)
    and the chase is two gathers per position; above, the chase reads the incoming pairs of each row's state
    (``_chase_pairs``). Either way all rows of all paths go backwards together.
    """
    if _chases(da):
        return _chase_pairs(da, paths)
    prevs, clss, states = [], [], []
    for table, sv, w, end_ok, u in paths:
        L = w.shape[1]
        up, uc, ue = (None, None, None) if u is None else (u[:, :L], u[:, L:2 * L], u[:, 2 * L])
        p, c = _choices(da, table, sv, w, up, uc)
        prevs.append(p)
        clss.append(c)
        states.append(_pick(table[L].masked_fill(~end_ok, _NEG), ue, True))  # [G]
    prev, cls = torch.cat(prevs, 1), torch.cat(clss, 1)  # [L, sum G, S]
    state = torch.cat(states)[:, None]  # [sum G, 1]
    L = prev.shape[0]
    classes = torch.empty((state.shape[0], L), dtype=torch.long, device=state.device)
    for i in range(L - 1, -1, -1):
        classes[:, i] = cls[i].gather(1, state).squeeze(1)
        state = prev[i].gather(1, state)
    return classes


def backtrack_draws(da: DeviceAutomaton, L: int) -> int:
    """How many uniforms per row a sampled path of ``backtrack`` reads for ``L`` positions: ``2L+1``, and one per
    (position, incoming pair slot) where the chase over pairs draws by Gumbel-max (while that stays under 2^19)."""
    if not _chases(da):
        return 2 * L + 1
    extra = L * int(_in_pairs(da).shape[1])
    return 2 * L + 1 + (extra if extra <= 1 << 19 else 0)


def _chases(da: DeviceAutomaton) -> bool:
    """Whether ``backtrack`` chases incoming pairs: above ``_CHASE_STATES`` states, unless the ``[S, most pairs
    into one state]`` table would pass ``_IN_PAIRS_MAX`` entries (one hub state in a huge automaton): then the
    choices for all states at once, which need no such table."""
    if da.n_states <= _CHASE_STATES:
        return False
    mkey = ("most_in", da.key, str(da.pair_dst.device))
    most = _MEMO.get(mkey)
    if most is None:  # once per automaton and device (a host read)
        P = int(da.pair_src.numel()) - 1
        most = _remember(mkey, int(np.bincount(da.pair_dst[:P].cpu().numpy(), minlength=1).max()) if P else 1)
    return da.n_states * max(1, most) <= _IN_PAIRS_MAX


def _in_pairs(da: DeviceAutomaton) -> torch.Tensor:
    """Memoised ``[S, D]`` long: the pairs into every state, padded with the pad pair ``P``."""
    dev = da.pair_src.device
    mkey = ("in_pairs", da.key, str(dev))
    hit = _MEMO.get(mkey)
    if hit is not None:
        return hit
    S, P = da.n_states, int(da.pair_src.numel()) - 1
    dst = da.pair_dst[:P].cpu().numpy()
    order = np.argsort(dst, kind="stable")
    counts = np.bincount(dst, minlength=S)
    rank = np.arange(P) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    ids = np.full((S, max(1, int(counts.max(initial=1)))), P, dtype=np.int64)
    ids[dst[order], rank] = order
    out = torch.from_numpy(ids).to(dev)
    return _remember(mkey, out)


def _chase_pairs(da: DeviceAutomaton, paths: list) -> torch.Tensor:
    """``backtrack`` position by position over the incoming pairs of each row's state (a pair by
    ``table[i][src] + sv[i][set]``), all rows of all paths at once; then, for all positions at once, a class
    of each chosen pair's set by ``w``: exactly an edge by ``table[i][src] + w[cls]``."""
    table = torch.cat([p[0] for p in paths], 1)  # [L+1, N, S]
    sv = torch.cat([p[1] for p in paths], 1)  # [L, N, T+1]
    w = torch.cat([p[2] for p in paths])  # [N, L, C]
    end_ok = torch.cat([p[3] for p in paths])  # [N, S]
    N, L, C = w.shape
    dev = w.device
    # uniforms [N, 2L+1] (rows of a best path: any) and which rows take the best choice instead of a draw
    n_u = min([p[4].shape[1] for p in paths if p[4] is not None] + [2 * L + 1 + L * _in_pairs(da).shape[1]])
    u = torch.cat([torch.zeros((p[2].shape[0], n_u), dtype=torch.float64, device=dev) if p[4] is None
                   else p[4][:, :n_u] for p in paths])
    best = torch.cat([torch.full((p[2].shape[0],), p[4] is None, device=dev) for p in paths])  # [N]

    def pick(v, uu):  # [N, K] log weights, [N] uniforms -> [N]
        return torch.where(best, v.argmax(-1), _pick(v, uu, True))

    ins = _in_pairs(da)  # [S, D]
    D = ins.shape[1]
    gumbel = None
    if u.shape[1] >= 2 * L + 1 + L * D:  # a pair by Gumbel-max: the draw is one argmax a step
        e = -u[:, 2 * L + 1:2 * L + 1 + L * D].clamp(min=2.0 ** -53).log()  # [N, L*D] > 0
        gumbel = (-e.log()).to(table.dtype).masked_fill_(best[:, None], 0.0).view(N, L, D).transpose(0, 1)
    state = pick(table[L].masked_fill(~end_ok, _NEG), u[:, 2 * L])  # [N]
    chosen = torch.empty((N, L), dtype=torch.long, device=dev)  # pair of every step
    P = int(da.pair_src.numel())  # with the pad pair (always -inf)
    bulk = L * N * P <= _CHUNK_ELEMS
    if bulk:  # every pair's weight at every position at once: a step then reads one gather
        pv = (table[:L].gather(2, da.pair_src.expand(L, N, P)) + sv.gather(2, da.pair_set.expand(L, N, P))).unbind(0)
    for i in range(L - 1, -1, -1):
        pid = ins[state]  # [N, D]
        if bulk:
            vals = pv[i].gather(1, pid)  # [N, D]
        else:
            vals = table[i].gather(1, da.pair_src[pid]).add_(sv[i].gather(1, da.pair_set[pid]))  # [N, D]
        k = pick(vals, u[:, i]) if gumbel is None else vals.add_(gumbel[i]).argmax(-1)  # [N]
        pair = pid.gather(1, k[:, None]).squeeze(1)  # [N]
        chosen[:, i] = pair
        state = da.pair_src[pair]
    # a class of every chosen pair's class set, all positions at once
    K = int(da.set_cls.numel())
    first = torch.searchsorted(da.set_id, torch.arange(da.n_sets + 1, device=dev))  # [T+1] first entry of each set
    size = first[1:] - first[:-1]  # [T]
    width = max(1, int(size.max())) if size.numel() else 1
    sets = da.pair_set[chosen].clamp_(max=da.n_sets - 1)  # [N, L] (the pad pair only where no path is valid)
    ent = first[sets][..., None] + torch.arange(width, device=dev)  # [N, L, width]
    inside = ent < (first[sets] + size[sets])[..., None]
    cls = torch.where(inside, da.set_cls[ent.clamp_(max=K - 1)], C)  # [N, L, width]; C: pad
    wv = torch.cat([w, w.new_full((N, L, 1), _NEG)], -1).gather(2, cls)  # [N, L, width]
    k = torch.where(best[:, None], wv.argmax(-1), _pick(wv, u[:, L:2 * L], True))  # [N, L]
    return cls.gather(2, k[..., None]).squeeze(2)


def _class_cells(lay: Layout, stats: torch.Tensor, classes: torch.Tensor, pad: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-cell ``stats [G, L, N]`` of the cells of class ``classes [G, L]``, padded with ``pad`` ``[G, L, D]``,
    first cell of the class ``[G, L]``)."""
    first = lay.class_cell[classes]  # [G, L]
    k = torch.arange(lay.D, device=classes.device)
    idx = first[..., None] + k  # [G, L, D]
    inside = idx < lay.class_cell[classes + 1][..., None]
    vals = stats.gather(-1, idx.clamp_(max=stats.shape[-1] - 1)).masked_fill_(~inside, pad)
    return vals, first


def _cell_read(x: torch.Tensor, lay: Layout, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits ``[G, L, K]`` of the columns of ``cell [G, L]``, bool ``[G, L, K]`` the slot holds one, the columns)."""
    cell = cell.clamp(max=lay.cell_class.numel() - 1)
    start, end = lay.cell_start[cell], lay.cell_start[cell + 1]  # [G, L]
    rank = start[..., None] + torch.arange(lay.K, device=cell.device)  # [G, L, K]
    inside = rank < end[..., None]
    cols = lay.by_rank[rank.clamp_(max=lay.n_cols - 1)]  # [G, L, K]
    return x.gather(-1, cols), inside, cols


def draw_in_class(x: torch.Tensor, lay: Layout, ms: Masses, classes: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """A column ``[G, L]`` of class ``classes [G, L]`` drawn by softmax weight of ``x [G, L, V']`` with uniforms ``u``.

    Inverse CDF in two levels: a cell of the class by the cells' masses, then a column inside that one cell
    (the same floored exponentials as ``class_masses``); the logits are read only there.
    """
    wb, first = _class_cells(lay, ms.cell_sum, classes, 0.0)  # [G, L, D]
    j, r = _pick(wb, u, False, rest=True)  # [G, L] cell of the class, uniform left inside it
    xb, inside, cols = _cell_read(x, lay, first + j)  # [G, L, K]
    w = torch.where(inside, _rel_exp(xb, ms.top), 0.0)  # [G, L, K]
    return cols.gather(-1, _pick(w, r, False)[..., None]).squeeze(-1)


def best_in_class(x: torch.Tensor, lay: Layout, ms: Masses, classes: torch.Tensor) -> torch.Tensor:
    """The best column ``[G, L]`` of class ``classes [G, L]`` in ``x [G, L, V']`` (the first on ties), reading one cell."""
    wb, first = _class_cells(lay, ms.cell_max, classes, _NEG)  # [G, L, D]
    xb, inside, cols = _cell_read(x, lay, first + wb.argmax(-1))  # [G, L, K]
    return cols.gather(-1, torch.where(inside, xb, _NEG).argmax(-1, keepdim=True)).squeeze(-1)


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
