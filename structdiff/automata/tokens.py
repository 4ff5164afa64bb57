"""Lift a byte DFA to a tokenizer: token classes with identical transition behaviour.

Every token's byte string is walked through the byte DFA from every state at once,
vectorised over the vocabulary one byte position at a time. Tokens are merged on the
fly when their prefixes have the same *byte classes* (bytes no DFA state tells apart),
and, after every byte, prefixes whose (start -> current) state maps are equal become one
group (their futures are the same), so the work per byte is bounded by the number of
distinct maps, not by the size of the vocabulary's trie; a prefix that is dead from every
state collapses to one "dead" group. Tokens whose (start -> end) state maps are equal
form one class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bytedfa import ByteDFA

__all__ = ["VocabBytes", "vocab_bytes", "lift_to_classes"]

@dataclass(frozen=True, eq=False)
class VocabBytes:
    """The text tokens of a tokenizer, sorted by byte length (longest first), one byte column per depth."""

    order: np.ndarray  # [T] token ids of non-special tokens, longest first
    lens: np.ndarray  # [T] byte lengths
    cols: tuple  # cols[j]: [n_j] uint8 byte j of the first n_j tokens (those longer than j)
    special: np.ndarray  # [S] ids of special tokens
    vocab_size: int


_VOCAB_CACHE: dict[str, VocabBytes] = {}


def vocab_bytes(tokenizer) -> VocabBytes:
    """Per-tokenizer byte columns (memoised by ``tokenizer.fingerprint``)."""
    key = tokenizer.fingerprint
    hit = _VOCAB_CACHE.get(key)
    if hit is not None:
        return hit
    table = tokenizer.token_bytes
    special = np.array(sorted(set(tokenizer.special_ids) | {i for i, b in enumerate(table) if b is None}),
                       dtype=np.int64)
    is_special = np.zeros(len(table), dtype=bool)
    is_special[special] = True
    text_ids = np.flatnonzero(~is_special)
    lens_all = np.fromiter((len(table[i]) for i in text_ids), dtype=np.int64, count=text_ids.size)
    perm = np.argsort(-lens_all, kind="stable")
    order, lens = text_ids[perm], lens_all[perm]
    flat = np.frombuffer(b"".join(table[i] for i in order), dtype=np.uint8)
    offs = np.zeros(order.size, dtype=np.int64)
    np.cumsum(lens[:-1], out=offs[1:])
    maxlen = int(lens[0]) if lens.size else 0
    n_at = np.searchsorted(-lens, -np.arange(maxlen), side="left")  # [maxlen] tokens longer than j
    cols = tuple(flat[offs[: int(n)] + j] for j, n in enumerate(n_at))
    vb = VocabBytes(order, lens, cols, special, len(table))
    _VOCAB_CACHE[key] = vb
    return vb


def _byte_classes(trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes that every state treats alike share a class: ``[Q, 256] -> ([256] class, [Q, K] table)``."""
    _, first, inverse = np.unique(trans.T, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), np.ascontiguousarray(trans[:, first])


def lift_to_classes(dfa: ByteDFA, vb: VocabBytes) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group the text tokens by their state maps.

    Parameters
    ----------
    dfa : ByteDFA
        The trimmed byte DFA (``Q`` states).
    vb : VocabBytes
        The tokenizer's byte columns.

    Returns
    -------
    token_class : np.ndarray
        ``[V]`` int64 class per token id, ``-1`` for tokens dead from every state (and specials).
    class_maps : list of np.ndarray
        Per class, ``[n, 2]`` int64 rows ``(from_state, to_state)`` of its defined transitions.
    """
    q = dfa.n_states
    bcls, ktab = _byte_classes(dfa.trans)  # [256], [Q, K]
    k = ktab.shape[1]
    rng = np.random.default_rng(0x5D1FF)
    r1 = rng.integers(1, 2**63, size=q, dtype=np.uint64) | np.uint64(1)
    r2 = rng.integers(1, 2**63, size=q, dtype=np.uint64) | np.uint64(1)
    t_all = vb.order.size
    tok_cls = np.full(t_all, -1, dtype=np.int64)  # per sorted text token
    index: dict[tuple[int, int], int] = {}
    class_maps: list[np.ndarray] = []

    # group 0 = dead prefix, group 1 = the empty prefix with the identity map
    pq = np.arange(q, dtype=np.int64)  # pairs (start state, current state), grouped by group id
    pcur = pq.copy()
    pstart = np.array([0, 0, q], dtype=np.int64)  # CSR over groups
    gid = np.ones(t_all, dtype=np.int64)  # current group of every still-walking token

    def record(ids: np.ndarray, groups: np.ndarray) -> None:
        """Class of the tokens ``ids`` that end in ``groups`` (new state maps open new classes)."""
        if ids.size == 0:
            return
        live = groups > 0
        if not live.any():
            return
        ug = np.unique(groups[live])
        h1, h2 = _group_hashes(pq, pcur, pstart, ug, r1, r2)
        gcls = np.full(pstart.size - 1, -1, dtype=np.int64)
        for g, a, b in zip(ug.tolist(), h1.tolist(), h2.tolist()):
            c = index.get((a, b))
            if c is None:
                c = index[(a, b)] = len(class_maps)
                s, e = pstart[g], pstart[g + 1]
                class_maps.append(np.stack([pq[s:e], pcur[s:e]], axis=1))
            gcls[g] = c
        tok_cls[ids] = gcls[groups]

    n_prev = t_all
    for j, col in enumerate(vb.cols):
        n = col.size
        record(np.arange(n, n_prev), gid[n:n_prev])  # tokens of length j end here
        n_prev = n
        n_groups = pstart.size - 1
        key = gid[:n] * k + bcls[col]  # [n] (parent group, byte class)
        seen = np.zeros(n_groups * k, dtype=bool)
        seen[key] = True
        seen[:k] = False  # children of the dead group stay dead
        child_keys = np.flatnonzero(seen)
        parent, ccls = child_keys // k, child_keys % k  # [G]
        cnt = pstart[parent + 1] - pstart[parent]
        tot = int(cnt.sum())
        child_rep = np.repeat(np.arange(child_keys.size), cnt)
        base = np.repeat(pstart[parent] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
        src = base + np.arange(tot)
        nq, ncur = pq[src], ktab[pcur[src], ccls[child_rep]]
        alive = ncur >= 0
        nq, ncur, child_rep = nq[alive], ncur[alive], child_rep[alive]
        ccount = np.bincount(child_rep, minlength=child_keys.size)
        live_idx = np.flatnonzero(ccount > 0)  # [G'] children that are alive from some state
        lcount = ccount[live_idx]
        lstart = np.concatenate([[0], np.cumsum(lcount)])  # CSR of the pairs per live child
        # children whose (start -> current) maps are equal behave alike from here on: keep one group each
        uid, reps = _dedupe_maps(nq, ncur, lstart, r1, r2)  # [G'] group of each live child, [U] its representative
        new_id = np.zeros(child_keys.size, dtype=np.int64)
        new_id[live_idx] = uid + 2  # ids 0 (dead), 1 (unused), 2..
        lookup = np.zeros(n_groups * k, dtype=np.int64)
        lookup[child_keys] = new_id
        gid = lookup[key]
        rcount = lcount[reps]
        src = np.repeat(lstart[reps] - np.concatenate([[0], np.cumsum(rcount)[:-1]]), rcount) + np.arange(rcount.sum())
        pq, pcur = nq[src], ncur[src]
        pstart = np.concatenate([[0, 0, 0], np.cumsum(rcount)])
    record(np.arange(0, n_prev), gid[:n_prev])

    token_class = np.full(vb.vocab_size, -1, dtype=np.int64)
    token_class[vb.order] = tok_cls
    return token_class, class_maps


def _dedupe_maps(q, cur, start, r1, r2) -> tuple[np.ndarray, np.ndarray]:
    """Groups of equal pair sets: ``start`` is the CSR over groups -> ([G] unique id, [U] first group of each id)."""
    g = start.size - 1
    if g == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    h1, h2 = _group_hashes(q, cur, start, np.arange(g), r1, r2)
    order = np.lexsort((h2, h1))
    new = np.ones(g, dtype=bool)
    new[1:] = (h1[order][1:] != h1[order][:-1]) | (h2[order][1:] != h2[order][:-1])
    uid = np.empty(g, dtype=np.int64)
    uid[order] = np.cumsum(new) - 1
    return uid, order[new]


def _group_hashes(pq, pcur, pstart, groups, r1, r2) -> tuple[np.ndarray, np.ndarray]:
    """Order-free hashes of the pair sets of (non-empty) ``groups`` (uint64 wrap-around sums)."""
    cnt = pstart[groups + 1] - pstart[groups]
    src = np.repeat(pstart[groups] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt) + np.arange(int(cnt.sum()))
    q, cur = pq[src], pcur[src].astype(np.uint64)
    v1 = r1[q] * (cur + np.uint64(1))
    v2 = r2[q] * (cur * np.uint64(0x9E3779B97F4A7C15) + np.uint64(7))
    starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    return np.add.reduceat(v1, starts), np.add.reduceat(v2, starts)
