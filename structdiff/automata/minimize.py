"""Minimise a trimmed byte DFA (Moore partition refinement, vectorised over states).

Neither outlines-core nor the derivative builder (``ir_dfa``) yields minimal DFAs. For a bounded-depth grammar the
pattern holds many copies of the same rule, so the raw DFA has many equivalent states
(arithmetic at depth 3: 2,252 raw states, 26 minimal). The canvas DP costs
``O(L x edges)`` per pass and the token lift ``O(Q x V)`` once, so merging pays twice.

Each round splits blocks by the rows ``(block, block of successor per byte class)``. Rows
are compared through two independent 64-bit hashes (1-D sorts, fast) and the result is
verified exactly: a block whose members' rows differ (a hash collision) makes that round
fall back to ``np.unique`` over the rows themselves. Counting automata (``x{1,200}``) need
one round per count, so a round must cost microseconds, not a structured sort.
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["MAX_REFINE_WORK", "minimize_dfa"]

log = logging.getLogger(__name__)
MAX_REFINE_WORK = 4_000_000  # rounds x states of Moore refinement (a 2,000-state chain; ~0.3 s quiet)


def minimize_dfa(trans: np.ndarray, accept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimal DFA equivalent to a trimmed one, with state 0 still the start.

    Parameters
    ----------
    trans : np.ndarray
        ``[Q, 256]`` int32 next state (``-1`` dead); state 0 is the start, every state live.
    accept : np.ndarray
        ``[Q]`` bool accepting states.

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``[Q', 256]`` int32 transitions and ``[Q']`` bool accepting states, ``Q' <= Q``;
        states are numbered in order of their first representative (state 0 stays 0).
    """
    q = trans.shape[0]
    if q == 0:
        return trans, accept
    # bytes with identical columns behave alike everywhere: refine over one column per class
    _, rep_cols = np.unique(trans.T, axis=0, return_index=True)
    compact = trans[:, np.sort(rep_cols)]  # [Q, K]
    dead = compact < 0  # [Q, K]
    block = accept.astype(np.int64)  # [Q] block id per state
    n_blocks = int(np.unique(block).size)
    rng = np.random.default_rng(0x3A1)
    w1, w2 = (rng.integers(1, 2**62, size=compact.shape[1] + 1, dtype=np.int64) | 1 for _ in range(2))  # [K + 1]
    rounds = 0
    while True:
        rounds += 1
        if rounds * q > MAX_REFINE_WORK:
            # counting automata need one round per count: past the work cap keep the DFA as it is
            # (equivalent, just not minimal) rather than spend quadratic time; stopping a refinement
            # early would merge states that differ, so it is all or nothing
            log.debug("minimisation skipped: %d states still splitting after %d rounds", q, rounds)
            return trans, accept
        succ = np.where(dead, -1, block[np.maximum(compact, 0)])  # [Q, K] block of each successor
        signature = np.concatenate([block[:, None], succ], axis=1)  # [Q, K + 1]
        block = _split(signature, w1, w2)
        n_new = int(block.max()) + 1
        if n_new == n_blocks:
            break
        n_blocks = n_new
    # renumber blocks by their first state, so the start state's block is 0
    _, first = np.unique(block, return_index=True)  # [B] first state of each block
    rank = np.empty(n_blocks, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(n_blocks)
    reps = np.sort(first)  # [Q'] one representative state per block
    rows = trans[reps]  # [Q', 256]
    new_trans = np.where(rows >= 0, rank[block[np.maximum(rows, 0)]], -1).astype(np.int32)
    return np.ascontiguousarray(new_trans), accept[reps].copy()


def _split(signature: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Dense ids of the distinct rows of ``signature`` [Q, K+1] -> [Q] (hashed, then verified exactly)."""
    sig = signature.astype(np.uint64) + np.uint64(1)
    h1 = (sig * w1.astype(np.uint64)).sum(axis=1)  # [Q] wrap-around sums
    h2 = ((sig ^ np.uint64(0x9E3779B97F4A7C15)) * w2.astype(np.uint64)).sum(axis=1)
    order = np.lexsort((h2, h1))
    new_group = np.ones(order.size, dtype=bool)
    new_group[1:] = (h1[order][1:] != h1[order][:-1]) | (h2[order][1:] != h2[order][:-1])
    ids = np.empty(order.size, dtype=np.int64)
    ids[order] = np.cumsum(new_group) - 1
    first = order[new_group]  # one representative row per id
    if not (signature == signature[first[ids]]).all():  # a collision: exact (slow) path
        _, ids = np.unique(signature, axis=0, return_inverse=True)
        return ids.reshape(-1)
    return ids
