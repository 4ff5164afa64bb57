"""IR -> minimal byte DFA by Brzozowski derivatives over byte classes, under an explicit budget.

A DFA state *is* an IR node (the language still to be read). From each state the bytes
split into the classes its ``cuts`` mask names; one derivative per class gives the next
state. Hash-consing makes equal derivatives the same object, so state identity is object
identity, and derivatives of shared sub-expressions are memoised once per build (a grammar
rule or ``$ref`` used in ten places is differentiated once per byte class, not ten
times). Right-nested concatenation makes ``d(a·t) = d(a)·t`` re-use the tail ``t``.

The build is bounded by a ``Budget``: states discovered and derivative steps (a
deterministic counter, so the same input fails the same way on every machine). Past
either, the caller's error class is raised naming what blew up and the knob to turn.
The result is trimmed (states that cannot reach acceptance dropped) and minimised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import SchemaError
from . import ir
from .bytedfa import MAX_DFA_STATES, ByteDFA
from .minimize import minimize_dfa

__all__ = ["Budget", "matches", "to_byte_dfa"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """Limits of one IR -> DFA build.

    Attributes
    ----------
    max_states : int
        DFA states discovered before minimisation.
    max_work : int
        Derivative steps (memo misses), a machine-independent measure of build time.
    """

    max_states: int = MAX_DFA_STATES
    max_work: int = 4_000_000


class _OverBudget(Exception):
    """Internal: (what, limit)."""


class _Deriv:
    """Memoised derivatives for one build (memo keyed by node and the start of its byte class)."""

    def __init__(self, budget: Budget):
        self.memo: dict[Node, dict[int, ir.Node]] = {}
        self.work = 0
        self.limit = budget.max_work

    def __call__(self, n: ir.Node, b: int) -> ir.Node:
        if not (n.first >> b) & 1:
            return ir.NOTHING
        k = n.kind
        if k == ir.BYTES:
            return ir.EMPTY
        cls = (n.cuts & ((2 << b) - 1)).bit_length() - 1  # first byte of b's class for this node
        per = self.memo.get(n)
        if per is None:
            per = self.memo[n] = {}
        else:
            hit = per.get(cls)
            if hit is not None:
                return hit
        self.work += 1
        if self.work > self.limit:
            raise _OverBudget("work", self.limit)
        if k == ir.CHARS:
            out = self(n.kids[0], b)
        elif k == ir.ALT:
            out = ir.alt(*(self(c, b) for c in n.kids if (c.first >> b) & 1))
        elif k == ir.REPEAT:
            c = n.kids[0]
            rest = ir.repeat(c, max(n.lo - 1, 0), None if n.hi is None else n.hi - 1)
            out = ir.concat(self(c, b), rest)
        else:  # CONCAT: walk the right spine while the heads are nullable (no recursion on long sequences)
            parts = []
            cur = n
            while cur.kind == ir.CONCAT:
                head, tail = cur.kids
                parts.append(ir.concat(self(head, b), tail))
                if not head.nullable:
                    break
                cur = tail
            else:
                parts.append(self(cur, b))
            out = ir.alt(*parts)
        per[cls] = out
        return out


Node = ir.Node


def _intervals(cuts: int) -> list[tuple[int, int]]:
    """Byte classes ``[(start, end_exclusive), ...]`` of a cuts mask (byte 0 kept apart: it is never text)."""
    cuts |= 0b11
    starts = []
    c = cuts
    while c:
        low = c & -c
        starts.append(low.bit_length() - 1)
        c ^= low
    starts.append(256)
    return [(starts[i], starts[i + 1]) for i in range(1, len(starts) - 1)]


def matches(node: ir.Node, data: bytes, *, budget: Budget | None = None) -> bool:
    """Whether ``data`` is in ``node``'s language, by derivatives along ``data`` only (no DFA is built).

    What checking one text costs: the states that text visits, not the whole automaton. Past the
    budget's ``max_work`` derivative steps the answer is ``False`` (never a wrong ``True``).
    """
    d = _Deriv(budget or Budget())
    n = node
    try:
        for b in data:
            n = d(n, b)
            if n is ir.NOTHING:
                return False
    except _OverBudget:
        return False
    return n.nullable


def to_byte_dfa(node: ir.Node, *, budget: Budget | None = None, error: type = SchemaError,
                what: str = "the constraint", raw_states: bool = False):
    """Determinise ``node`` into a trimmed, minimal ``ByteDFA`` (state 0 the start).

    Parameters
    ----------
    node : ir.Node
        The language (full match).
    budget : Budget, optional
        Build limits (``Budget()`` by default).
    error : type
        Exception class raised on an empty language or an exceeded budget (``SchemaError``,
        ``GrammarError``...); it is called with one message argument.
    what : str
        Names the thing being compiled in messages (``"regex 'a+'"``, ``"rule expr"``).

    raw_states : bool
        Also return the number of states before minimisation.

    Returns
    -------
    ByteDFA, or (ByteDFA, int) with ``raw_states``

    Raises
    ------
    error
        The language is empty (or only spelled with NUL bytes), or the build passed the budget.
    """
    budget = budget or Budget()
    d = _Deriv(budget)
    ids: dict[ir.Node, int] = {node: 0}
    states = [node]
    rows: list[list[tuple[int, int, int]]] = []
    i = 0
    try:
        while i < len(states):
            n = states[i]
            row = []
            first = n.first
            for s, e in _intervals(n.cuts):
                if not (first >> s) & 1:
                    continue
                nxt = d(n, s)
                if nxt is ir.NOTHING:
                    continue
                sid = ids.get(nxt)
                if sid is None:
                    if len(states) >= budget.max_states:
                        raise _OverBudget("states", budget.max_states)
                    sid = ids[nxt] = len(states)
                    states.append(nxt)
                row.append((s, e, sid))
            rows.append(row)
            i += 1
    except _OverBudget as exc:
        kind, limit = exc.args
        size = f"more than {limit} DFA states" if kind == "states" else f"more than {limit} derivative steps"
        knob = "max_states" if kind == "states" else "max_work"
        raise error(f"{what} needs {size} (budget {knob}={limit}): bound its repetitions (e.g. {{0,20}} instead "
                    f"of large counts after an unbounded loop), simplify nested alternatives, or raise the limit "
                    f"with budget=Budget({knob}=...)") from None
    q = len(states)
    trans = np.full((q, 256), -1, dtype=np.int32)  # [Q, 256]
    for k, row in enumerate(rows):
        t = trans[k]
        for s, e, sid in row:
            t[s:e] = sid
    accept = np.fromiter((n.nullable for n in states), dtype=bool, count=q)  # [Q]
    log.debug("IR DFA for %s: %d raw states, %d derivative steps", what, q, d.work)
    dfa = _trim(trans, accept, error, what)
    return (dfa, q) if raw_states else dfa


def _trim(trans: np.ndarray, accept: np.ndarray, error: type, what: str) -> ByteDFA:
    """Drop states that cannot reach acceptance (all are reachable by construction), then minimise."""
    q = trans.shape[0]
    src, byte = np.nonzero(trans >= 0)
    pairs = np.unique(src.astype(np.int64) * q + trans[src, byte])  # distinct (src, dst) edges
    src, dst = pairs // q, pairs % q
    order = np.argsort(dst, kind="stable")
    src = src[order]
    starts = np.searchsorted(dst[order], np.arange(q + 1))  # CSR by destination
    live = accept.copy()
    frontier = np.flatnonzero(accept)
    while frontier.size:  # backward BFS from the accepting states
        cnt = starts[frontier + 1] - starts[frontier]
        idx = np.repeat(starts[frontier] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt) + np.arange(cnt.sum())
        pred = np.unique(src[idx])
        frontier = pred[~live[pred]]
        live[frontier] = True
    if not live[0]:
        raise error(f"{what} matches nothing: no output can satisfy it")
    trans = np.where((trans >= 0) & live[np.maximum(trans, 0)], trans, -1)
    keep = np.flatnonzero(live)
    remap = np.full(q + 1, -1, dtype=np.int32)
    remap[keep] = np.arange(keep.size, dtype=np.int32)
    new = remap[trans[keep]]
    t, a = minimize_dfa(np.ascontiguousarray(new, dtype=np.int32), accept[keep].copy())
    return ByteDFA(t, a)


def build_byte_dfa(pattern: str, builder: str = "ir", *, budget: Budget | None = None) -> ByteDFA:
    """Regex text (python dialect, full match; see ``regex_parse``) -> its minimal ``ByteDFA``.

    ``builder`` is accepted for old callers; the IR is the only builder. Raises ``SchemaError``
    on invalid or refused syntax (with the position), an empty language, or a build over ``budget``.
    """
    from .regex_parse import parse_regex

    if builder not in ("ir", "outlines", "native"):
        raise ValueError(f"unknown DFA builder {builder!r}")
    shown = pattern if not isinstance(pattern, str) or len(pattern) <= 60 else pattern[:57] + "..."
    return to_byte_dfa(parse_regex(pattern), budget=budget, what=f"regex {shown!r}")
