"""Canvas DP over (position x automaton state) on token-class masses, in log space (float64).

For one canvas row with log class masses ``lm[i, c] = log sum_{t in c} p_i(t)`` (``-inf``
where a class is not allowed, e.g. pinned positions are one class), a start state and a
set of allowed end states:

* ``forward``/``backward`` give ``log alpha [L+1, S]`` / ``log beta [L+1, S]``;
* ``class_posteriors`` gives the constrained marginal of every class ``[L, C]``;
* ``sample_classes`` draws one valid class path from the constrained joint (forward
  filter, backward sample);
* ``best_classes`` is the max-product (Viterbi) path on per-class scores.

Log space keeps every valid path representable whatever the logit range, so the
support (hence validity) never depends on underflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .automaton import TokenAutomaton

__all__ = ["EdgeIndex", "edge_index", "forward", "backward", "class_posteriors", "sample_classes",
           "best_classes"]

_NEG = -np.inf


@dataclass(frozen=True, eq=False)
class EdgeIndex:
    """Edges of an automaton in the three orders the DP reduces over."""

    n_states: int
    n_classes: int
    src: np.ndarray  # [E] sorted by dst
    cls: np.ndarray
    dst: np.ndarray
    by_dst: tuple  # (targets with edges [G], segment starts [G]) over the dst-sorted edges
    src_perm: np.ndarray  # [E] permutation sorting edges by src
    by_src: tuple
    cls_perm: np.ndarray  # [E] permutation sorting edges by class
    by_cls: tuple
    dst_start: np.ndarray  # [S+1] CSR of incoming edges


def _segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else np.zeros(0, int)
    return keys[starts], starts


_EDGE_MEMO: dict[str, EdgeIndex] = {}


def edge_index(auto: TokenAutomaton) -> EdgeIndex:
    """Memoised ``EdgeIndex`` of an automaton."""
    hit = _EDGE_MEMO.get(auto.key)
    if hit is not None:
        return hit
    src, cls, dst = auto.e_src, auto.e_cls, auto.e_dst
    sp = np.argsort(src, kind="stable")
    cp = np.argsort(cls, kind="stable")
    ei = EdgeIndex(auto.n_states, auto.n_classes, src, cls, dst, _segments(dst), sp, _segments(src[sp]), cp,
                   _segments(cls[cp]), np.searchsorted(dst, np.arange(auto.n_states + 1)))
    _EDGE_MEMO[auto.key] = ei
    return ei


def _grouped_lse(vals: np.ndarray, seg: tuple, size: int) -> np.ndarray:
    """Log-sum-exp of ``vals`` over sorted segments -> ``[size]`` (``-inf`` where empty)."""
    keys, starts = seg
    out = np.full(size, _NEG)
    if vals.size == 0:
        return out
    mx = np.maximum.reduceat(vals, starts)  # [G]
    safe = np.where(np.isfinite(mx), mx, 0.0)
    counts = np.diff(np.append(starts, vals.size))
    s = np.add.reduceat(np.exp(vals - np.repeat(safe, counts)), starts)
    with np.errstate(divide="ignore"):
        out[keys] = np.where(np.isfinite(mx), safe + np.log(s), _NEG)
    return out


def forward(ei: EdgeIndex, lm: np.ndarray, start: int) -> np.ndarray:
    """``log alpha [L+1, S]``: log mass of prefixes ending in each state (``lm`` is ``[L, C]``)."""
    n = lm.shape[0]
    la = np.full((n + 1, ei.n_states), _NEG)
    la[0, start] = 0.0
    for i in range(n):
        la[i + 1] = _grouped_lse(la[i][ei.src] + lm[i][ei.cls], ei.by_dst, ei.n_states)
    return la


def backward(ei: EdgeIndex, lm: np.ndarray, end_ok: np.ndarray) -> np.ndarray:
    """``log beta [L+1, S]``: log mass of valid suffixes from each state (``end_ok`` is ``[S]`` bool)."""
    n = lm.shape[0]
    lb = np.full((n + 1, ei.n_states), _NEG)
    lb[n, end_ok] = 0.0
    s, c, d = ei.src[ei.src_perm], ei.cls[ei.src_perm], ei.dst[ei.src_perm]
    for i in range(n - 1, -1, -1):
        lb[i] = _grouped_lse(lm[i][c] + lb[i + 1][d], ei.by_src, ei.n_states)
    return lb


def class_posteriors(ei: EdgeIndex, lm: np.ndarray, la: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, float]:
    """Constrained log marginal of every class at every position ``[L, C]``, and ``log Z``.

    ``log Z = -inf`` means no valid canvas exists for these masses.
    """
    n = lm.shape[0]
    log_z = float(np.logaddexp.reduce(la[n] + lb[n]))
    out = np.full((n, ei.n_classes), _NEG)
    if not np.isfinite(log_z):
        return out, log_z
    s, c, d = ei.src[ei.cls_perm], ei.cls[ei.cls_perm], ei.dst[ei.cls_perm]
    vals = la[:-1][:, s] + lm[:, c] + lb[1:][:, d] - log_z  # [L, E]
    keys, starts = ei.by_cls
    if vals.shape[1]:
        mx = np.maximum.reduceat(vals, starts, axis=1)  # [L, G]
        safe = np.where(np.isfinite(mx), mx, 0.0)
        counts = np.diff(np.append(starts, vals.shape[1]))
        tot = np.add.reduceat(np.exp(vals - np.repeat(safe, counts, axis=1)), starts, axis=1)
        with np.errstate(divide="ignore"):
            out[:, keys] = np.where(np.isfinite(mx), safe + np.log(tot), _NEG)
    return out, log_z


def _pick(logw: np.ndarray, u: float) -> int:
    w = np.exp(logw - logw.max())
    cdf = np.cumsum(w)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), w.size - 1))


def sample_classes(ei: EdgeIndex, lm: np.ndarray, la: np.ndarray, end_ok: np.ndarray, uniforms: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One class path from the constrained joint: (classes ``[L]``, states ``[L+1]``).

    ``uniforms`` is ``[L+1]`` in [0, 1). Requires a finite ``log Z``.
    """
    n = lm.shape[0]
    states = np.empty(n + 1, dtype=np.int64)
    classes = np.empty(n, dtype=np.int64)
    fin = np.where(end_ok, la[n], _NEG)
    states[n] = _pick(fin, uniforms[n])
    for i in range(n - 1, -1, -1):
        a, b = ei.dst_start[states[i + 1]], ei.dst_start[states[i + 1] + 1]
        src, cls = ei.src[a:b], ei.cls[a:b]
        e = _pick(la[i][src] + lm[i][cls], uniforms[i])
        states[i], classes[i] = src[e], cls[e]
    return classes, states


def best_classes(ei: EdgeIndex, score: np.ndarray, start: int, end_ok: np.ndarray) -> tuple[np.ndarray, float]:
    """Max-product path on class scores ``[L, C]`` (e.g. best token logit per class): (classes ``[L]``, score)."""
    n = score.shape[0]
    keys, starts = ei.by_dst
    cur = np.full(ei.n_states, _NEG)
    cur[start] = 0.0
    back = np.zeros((n, ei.n_states), dtype=np.int64)  # best incoming edge per state
    idx = np.arange(ei.src.size)
    for i in range(n):
        vals = cur[ei.src] + score[i][ei.cls]  # [E]
        nxt = np.full(ei.n_states, _NEG)
        if vals.size:
            mx = np.maximum.reduceat(vals, starts)
            nxt[keys] = mx
            hit = np.where(vals == np.repeat(mx, np.diff(np.append(starts, vals.size))), idx, vals.size)
            back[i, keys] = np.minimum.reduceat(hit, starts)
        cur = nxt
    fin = np.where(end_ok, cur, _NEG)
    q = int(np.argmax(fin))
    total = float(fin[q])
    classes = np.empty(n, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        e = back[i, q]
        classes[i], q = ei.cls[e], ei.src[e]
    return classes, total
