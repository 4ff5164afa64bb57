"""Minimise a trimmed byte DFA (Moore partition refinement over byte classes).

outlines-core determinises a regex without minimising it. For a bounded-depth grammar
the pattern holds many copies of the same recursive rule, so the raw DFA has many
equivalent states (JSON at depth 3: ~4,600 raw states, a few hundred minimal). The
canvas DP costs ``O(L x edges)`` per pass, so merging them pays on every pass.
"""

from __future__ import annotations

import numpy as np

__all__ = ["minimize_dfa"]


def minimize_dfa(trans: np.ndarray, accept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimal DFA equivalent to a trimmed one, with state 0 still the start.

    Parameters
    ----------
    trans : np.ndarray
        ``[Q, 256]`` int32 next state (``-1`` dead); state 0 is the start.
    accept : np.ndarray
        ``[Q]`` bool accepting states.

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``[Q', 256]`` int32 transitions and ``[Q']`` bool accepting states, ``Q' <= Q``.
    """
    q = trans.shape[0]
    # bytes with identical columns behave alike everywhere: refine over one column per class
    _, rep_cols = np.unique(trans.T, axis=0, return_index=True)
    compact = trans[:, rep_cols]  # [Q, K]
    block = accept.astype(np.int64)  # [Q] block id per state
    n_blocks = int(block.max()) + 1 if q else 0
    while True:
        succ = np.where(compact >= 0, block[np.maximum(compact, 0)], -1)  # [Q, K] block of each successor
        signature = np.concatenate([block[:, None], succ], axis=1)  # [Q, K + 1]
        _, new_block = np.unique(signature, axis=0, return_inverse=True)
        new_block = new_block.reshape(-1)
        n_new = int(new_block.max()) + 1
        block = new_block
        if n_new == n_blocks:
            break
        n_blocks = n_new
    # renumber blocks so the start state's block is 0, in first-seen order
    order = np.full(n_blocks, -1, dtype=np.int64)
    first_state = np.full(n_blocks, -1, dtype=np.int64)
    seen = 0
    for s in [0, *range(q)]:
        b = block[s]
        if order[b] < 0:
            order[b] = seen
            first_state[seen] = s
            seen += 1
    reps = first_state[:seen]  # [Q'] one representative state per block
    new_trans = np.where(trans[reps] >= 0, order[block[np.maximum(trans[reps], 0)]], -1).astype(np.int32)
    return np.ascontiguousarray(new_trans), accept[reps].copy()


def trim_dfa(trans: np.ndarray, accept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep states reachable from 0 that can still reach acceptance (``[Q, 256]``, ``[Q]`` -> trimmed)."""
    q = trans.shape[0]
    live = accept.copy()  # [Q] co-reachable
    while True:
        nxt = live | np.where(trans >= 0, live[np.maximum(trans, 0)], False).any(axis=1)
        if (nxt == live).all():
            break
        live = nxt
    trans = np.where((trans >= 0) & live[np.maximum(trans, 0)], trans, -1)
    reach = np.zeros(q, dtype=bool)
    reach[0] = live[0]
    frontier = np.array([0]) if live[0] else np.array([], dtype=np.int64)
    while frontier.size:
        nxt = np.unique(trans[frontier])
        nxt = nxt[(nxt >= 0)]
        nxt = nxt[~reach[nxt]]
        reach[nxt] = True
        frontier = nxt
    keep = np.flatnonzero(reach)
    remap = np.full(q + 1, -1, dtype=np.int32)
    remap[keep] = np.arange(keep.size, dtype=np.int32)
    return np.ascontiguousarray(remap[trans[keep]], dtype=np.int32), accept[keep].copy()
