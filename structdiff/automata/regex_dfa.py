"""A plain subset-construction byte DFA for regexes in the portable dialect (no match priorities).

Why a second builder. outlines-core determinises with leftmost-first semantics: its DFA
states are *ordered* sets of NFA states, and continuations after a match are pruned.
``bytedfa`` works around the pruning with an end marker, but with the marker nothing
matches until the very end, so every priority order of the same NFA set is a distinct
state: for grammar regexes whose alternatives stay alive side by side (Python's
``target = expr | expr``) that is exponential. The language we need is a plain set, so
this module builds the textbook automaton instead: a Thompson NFA over bytes (code-point
classes split into UTF-8 byte ranges), determinised over the byte classes each state
actually distinguishes. Its size is that of the unordered subset construction (python
expressions: ~1,600 raw states, 52 minimal), and ``minimize`` then merges equivalent ones.

Scope: the dialect ``constraints.lark_regex`` emits (and that Python ``re`` and Rust
``regex`` read alike): literals, classes, ``.``, groups, alternation, greedy or lazy
repeats. Anything else raises ``Unsupported`` and the caller falls back to outlines-core.
"""

from __future__ import annotations

import re
import re._constants as sre_c
import re._parser as sre_p

import numpy as np

from .charsets import MAX_CP as _MAX_CP
from .charsets import complement_ranges as _complement
from .charsets import normalise_ranges as _normalise

__all__ = ["TooManyStates", "Unsupported", "regex_to_byte_dfa"]

_SURROGATES = (0xD800, 0xDFFF)
_MAX_COUNT = 1000
_DIGIT = [(0x30, 0x39)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE = [(0x09, 0x0D), (0x20, 0x20)]


class Unsupported(Exception):
    """The pattern uses a construct this builder does not read (internal: fall back to outlines-core)."""


class TooManyStates(Exception):
    """Determinisation passed the state cap (``args[0]``: the cap)."""


def _utf8_sequences(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Code points ``[lo, hi]`` (no surrogates) -> UTF-8 byte-range sequences covering exactly them."""
    for a, b in ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, _MAX_CP)):
        if lo < a <= hi or lo <= b < hi:  # crosses an encoding-length boundary
            parts = []
            for x, y in ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, _MAX_CP)):
                s, e = max(lo, x), min(hi, y)
                if s <= e:
                    parts += _utf8_sequences(s, e)
            return parts
    n = len(chr(lo).encode("utf-8"))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if lo & ~m != hi & ~m:
            if lo & m:
                return _utf8_sequences(lo, lo | m) + _utf8_sequences((lo | m) + 1, hi)
            if hi & m != m:
                return _utf8_sequences(lo, (hi & ~m) - 1) + _utf8_sequences(hi & ~m, hi)
    a, b = chr(lo).encode("utf-8"), chr(hi).encode("utf-8")
    return [list(zip(a, b))]


def _cp_ranges_to_bytes(ranges) -> list[list[tuple[int, int]]]:
    seqs = []
    for lo, hi in _normalise(ranges):
        for s, e in ((lo, min(hi, _SURROGATES[0] - 1)), (max(lo, _SURROGATES[1] + 1), hi)):
            if s <= e:
                seqs += _utf8_sequences(s, e)
    return seqs


class _NFA:
    """Thompson NFA: every state has epsilon edges and at most one byte-set edge."""

    def __init__(self):
        self.eps: list[list[int]] = []
        self.edge: list[tuple[int, int, int] | None] = []  # (lo byte, hi byte, target)

    def new(self) -> int:
        self.eps.append([])
        self.edge.append(None)
        return len(self.eps) - 1

    def chars(self, ranges) -> tuple[int, int]:
        s, e = self.new(), self.new()
        for seq in _cp_ranges_to_bytes(ranges):
            cur = s
            for k, (lo, hi) in enumerate(seq):
                nxt = e if k == len(seq) - 1 else self.new()
                if k == 0:  # a fresh state per sequence: a state has one byte edge
                    mid = self.new()
                    self.eps[cur].append(mid)
                    cur = mid
                self.edge[cur] = (lo, hi, nxt)
                cur = nxt
        return s, e

    def seq(self, data) -> tuple[int, int]:
        s = e = self.new()
        for op, av in data:
            a, b = self.node(op, av)
            self.eps[e].append(a)
            e = b
        return s, e

    def charset(self, items) -> list[tuple[int, int]]:
        ranges, negate = [], False
        for op, av in items:
            if op is sre_c.NEGATE:
                negate = True
            elif op is sre_c.LITERAL:
                ranges.append((av, av))
            elif op is sre_c.RANGE:
                ranges.append(tuple(av))
            elif op is sre_c.CATEGORY:
                ranges += self.category(av)
            else:
                raise Unsupported(str(op))
        return _complement(ranges) if negate else _normalise(ranges)

    @staticmethod
    def category(cat) -> list[tuple[int, int]]:
        name = str(cat)
        base = _DIGIT if "DIGIT" in name else _WORD if "WORD" in name else _SPACE if "SPACE" in name else None
        if base is None:
            raise Unsupported(name)
        return _complement(base) if "NOT" in name else list(base)

    def node(self, op, av) -> tuple[int, int]:
        if op is sre_c.LITERAL:
            return self.chars([(av, av)])
        if op is sre_c.NOT_LITERAL:
            return self.chars(_complement([(av, av)]))
        if op is sre_c.ANY:
            return self.chars(_complement([(10, 10)]))
        if op is sre_c.IN:
            return self.chars(self.charset(av))
        if op is sre_c.CATEGORY:
            return self.chars(self.category(av))
        if op is sre_c.SUBPATTERN:
            if av[1] or av[2]:
                raise Unsupported("inline flags")
            return self.seq(av[3].data)
        if op is sre_c.BRANCH:
            s, e = self.new(), self.new()
            for alt in av[1]:
                a, b = self.seq(alt.data)
                self.eps[s].append(a)
                self.eps[b].append(e)
            return s, e
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            unbounded = hi is sre_c.MAXREPEAT
            if lo > _MAX_COUNT or (not unbounded and hi > _MAX_COUNT):
                raise Unsupported("large counted repeat")
            s = e = self.new()
            for _ in range(lo):
                a, b = self.seq(sub.data)
                self.eps[e].append(a)
                e = b
            if unbounded:
                a, b = self.seq(sub.data)
                self.eps[e].append(a)
                self.eps[b].append(a)
                end = self.new()
                self.eps[e].append(end)
                self.eps[b].append(end)
                return s, end
            end = self.new()
            for _ in range(hi - lo):
                a, b = self.seq(sub.data)
                self.eps[e].append(a)
                self.eps[e].append(end)
                e = b
            self.eps[e].append(end)
            return s, end
        raise Unsupported(str(op))


def regex_to_byte_dfa(pattern: str, max_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Determinise ``pattern`` (portable dialect, full match) into an untrimmed byte DFA.

    Parameters
    ----------
    pattern : str
        The regex.
    max_states : int
        Raise ``TooManyStates`` beyond this many DFA states.

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``[Q, 256]`` int32 transitions (``-1`` dead; byte 0x00 never allowed: it is not text)
        and ``[Q]`` bool accepting states; state 0 is the start.

    Raises
    ------
    Unsupported
        A construct outside the dialect (the caller uses outlines-core instead).
    """
    try:
        tree = sre_p.parse(pattern, 0)
    except (re.error, OverflowError, RecursionError) as exc:
        raise Unsupported(str(exc)) from None
    if tree.state.flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE):
        raise Unsupported("flags")
    nfa = _NFA()
    start, final = nfa.seq(tree.data)
    n = len(nfa.eps)
    has_edge = np.array([e is not None for e in nfa.edge])
    masks = np.zeros((n, 256), dtype=bool)  # [N, 256] bytes each state's edge reads
    target = np.full(n, -1, dtype=np.int64)  # [N]
    for i, e in enumerate(nfa.edge):
        if e is not None:
            masks[i, e[0]:e[1] + 1] = True
            target[i] = e[2]
    masks[:, 0] = False

    def closure(seeds) -> tuple[tuple[int, ...], bool]:
        seen, stack = set(seeds), list(seeds)
        while stack:
            for t in nfa.eps[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return tuple(sorted(s for s in seen if has_edge[s])), final in seen

    ids: dict[tuple, int] = {}
    order: list[tuple[tuple[int, ...], bool]] = []

    def state_id(key) -> int:
        sid = ids.get(key)
        if sid is None:
            if len(order) >= max_states:
                raise TooManyStates(max_states)
            sid = ids[key] = len(order)
            order.append(key)
        return sid

    state_id(closure([start]))
    # bytes no NFA edge tells apart form one class: determinise over classes, not 256 bytes
    cols, byte_class = np.unique(masks.T, axis=0, return_inverse=True)  # [C, N], [256]
    byte_class = byte_class.reshape(-1)
    class_masks = np.ascontiguousarray(cols.T)  # [N, C]
    rows: list[np.ndarray] = []
    memo: dict[tuple[int, ...], int] = {}
    i = 0
    while i < len(order):
        members = np.asarray(order[i][0], dtype=np.int64)
        row_c = np.full(cols.shape[0], -1, dtype=np.int32)  # [C]
        if members.size:
            m = class_masks[members]  # [k, C]
            packed = np.packbits(m, axis=0).T  # [C, ceil(k/8)] member subset per class
            groups: dict[bytes, list[int]] = {}
            for c in np.flatnonzero(m.any(axis=0)).tolist():
                groups.setdefault(packed[c].tobytes(), []).append(c)
            for cs in groups.values():
                seeds = tuple(target[members[m[:, cs[0]]]].tolist())
                sid = memo.get(seeds)
                if sid is None:
                    sid = memo[seeds] = state_id(closure(seeds))
                row_c[cs] = sid
        rows.append(row_c[byte_class])  # [256]
        i += 1
    trans = np.stack(rows)  # [Q, 256]
    accept = np.array([fin for _, fin in order], dtype=bool)  # [Q]
    return trans, accept
