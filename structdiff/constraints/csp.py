"""Finite-domain constraint satisfaction: variables, domains, rules with propagation, exact search.

A ``CSP`` has ``n`` variables over one tuple of value labels (``values``); a domain is a
bitmask over value indices (bit ``k`` set = ``values[k]`` still allowed). Rules narrow
domains (``propagate``) and check complete assignments (``satisfied``):

* ``AllDifferent(scope)``: singles elimination, hidden singles when the scope must use
  every value of its union, and pigeonhole failure.
* ``Predicate(scope, fn)``: any predicate over a small scope; generalised arc consistency
  by enumerating the product of the scope's domains (bounded).

``CSP.propagate`` runs the rules to a fixpoint and raises ``Conflict`` (carrying the
variables where it was found) on an empty domain. ``CSP.solve`` is an exact, complete
search (MRV + propagation) that counts solutions up to a limit, under a node/time budget.
The canvas hook (``csp_hook.py``) drives the model with these domains.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from ..errors import GenerationError, InputError

__all__ = ["CSP", "AllDifferent", "Conflict", "Predicate", "Rule", "SearchLimitError", "bits", "popcount"]


def popcount(mask: int) -> int:
    """Number of values in a domain bitmask."""
    return mask.bit_count()


def bits(mask: int) -> list[int]:
    """Value indices set in a domain bitmask, ascending."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class Conflict(Exception):
    """Propagation found an empty domain; ``vars`` are the variables where it showed up."""

    def __init__(self, variables: Iterable[int], reason: str = ""):
        super().__init__(reason or "empty domain")
        self.vars = frozenset(variables)
        self.reason = reason


class SearchLimitError(GenerationError):
    """The exact search ran out of its node or time budget before it could decide."""


class Rule:
    """A constraint over ``scope`` (variable indices). Subclasses implement both methods."""

    scope: tuple[int, ...] = ()
    name: str = "rule"

    def propagate(self, doms: list[int]) -> set[int]:
        """Narrow ``doms`` in place; return the variables whose domain shrank; raise ``Conflict``."""
        raise NotImplementedError

    def satisfied(self, vals: Sequence[int]) -> bool:
        """Whether the complete assignment ``vals`` (value index per variable of the CSP) meets the rule."""
        raise NotImplementedError


class AllDifferent(Rule):
    """The variables of ``scope`` take pairwise different values."""

    def __init__(self, scope: Sequence[int], name: str = "all-different"):
        self.scope = tuple(scope)
        self.name = name
        if len(set(self.scope)) != len(self.scope):
            raise InputError(f"{name}: a variable appears twice in the scope {self.scope}")

    def propagate(self, doms: list[int]) -> set[int]:
        changed: set[int] = set()
        scope = self.scope
        again = True
        while again:
            again = False
            for v in scope:  # singles: a decided variable's value leaves its peers
                d = doms[v]
                if d and not d & (d - 1):
                    for w in scope:
                        if w != v and doms[w] & d:
                            doms[w] &= ~d
                            changed.add(w)
                            again = True
                            if not doms[w]:
                                raise Conflict((w,), f"{self.name}: no value left")
            union = 0
            for v in scope:
                union |= doms[v]
            n_values = popcount(union)
            if n_values < len(scope):
                raise Conflict(scope, f"{self.name}: {len(scope)} variables share only {n_values} values")
            if n_values == len(scope):  # every value must be used: hidden singles
                for k in bits(union):
                    b = 1 << k
                    places = [v for v in scope if doms[v] & b]
                    if len(places) == 1 and doms[places[0]] != b:
                        doms[places[0]] = b
                        changed.add(places[0])
                        again = True
        return changed

    def satisfied(self, vals: Sequence[int]) -> bool:
        seen = [vals[v] for v in self.scope]
        return len(set(seen)) == len(seen)


class Predicate(Rule):
    """``fn(labels)`` must hold on the scope's value labels; propagated by enumerating supports.

    Parameters
    ----------
    scope : sequence of int
        Variables the predicate reads, in the order ``fn`` receives their labels.
    fn : callable
        ``fn(tuple_of_labels) -> bool``.
    labels : sequence
        The CSP's value labels (``CSP.values``).
    max_combinations : int
        Above this many domain combinations propagation waits until domains are smaller.
    """

    def __init__(self, scope: Sequence[int], fn: Callable[[tuple], bool], labels: Sequence,
                 name: str = "predicate", max_combinations: int = 20000):
        self.scope = tuple(scope)
        self.fn = fn
        self.labels = tuple(labels)
        self.name = name
        self.max_combinations = max_combinations

    def propagate(self, doms: list[int]) -> set[int]:
        options = [bits(doms[v]) for v in self.scope]
        size = 1
        for o in options:
            size *= len(o)
        if size > self.max_combinations:
            return set()
        support = [0] * len(self.scope)
        for combo in itertools.product(*options):
            if self.fn(tuple(self.labels[k] for k in combo)):
                for i, k in enumerate(combo):
                    support[i] |= 1 << k
        if self.scope and not support[0]:
            raise Conflict(self.scope, f"{self.name}: no combination of the allowed values holds")
        changed = set()
        for i, v in enumerate(self.scope):
            if doms[v] & ~support[i]:
                doms[v] &= support[i]
                changed.add(v)
        return changed

    def satisfied(self, vals: Sequence[int]) -> bool:
        return bool(self.fn(tuple(self.labels[vals[v]] for v in self.scope)))


class CSP:
    """Variables ``0..n-1`` over ``values``, initial domains, and rules.

    Parameters
    ----------
    n : int
        Number of variables.
    values : sequence
        Value labels (e.g. ``range(1, 10)``); domains are bitmasks over their indices.
    rules : sequence of Rule
        The constraints.
    domains : sequence of int, optional
        Initial domain bitmask per variable (default: every value).
    """

    def __init__(self, n: int, values: Sequence, rules: Sequence[Rule], domains: Sequence[int] | None = None):
        if n <= 0 or not values:
            raise InputError("a CSP needs at least one variable and one value")
        self.n = n
        self.values = tuple(values)
        self.full = (1 << len(self.values)) - 1
        self.rules = tuple(rules)
        self.domains = tuple(domains) if domains is not None else (self.full,) * n
        if len(self.domains) != n:
            raise InputError(f"{len(self.domains)} domains given for {n} variables")
        self.var_rules: list[list[Rule]] = [[] for _ in range(n)]
        for r in self.rules:
            for v in r.scope:
                if not 0 <= v < n:
                    raise InputError(f"{r.name}: variable {v} out of range 0..{n - 1}")
                self.var_rules[v].append(r)
        self.neighbours = [frozenset(w for r in self.var_rules[v] for w in r.scope if w != v) for v in range(n)]

    # -- propagation ------------------------------------------------------------------------
    def propagate(self, doms: Sequence[int]) -> list[int]:
        """Domains -> domains at the rules' fixpoint. Raises ``Conflict`` on an empty domain."""
        doms = list(doms)
        for v, d in enumerate(doms):
            if not d:
                raise Conflict((v,), "empty domain given")
        queue = deque(self.rules)
        queued = set(map(id, self.rules))
        while queue:
            rule = queue.popleft()
            queued.discard(id(rule))
            for v in rule.propagate(doms):
                for r in self.var_rules[v]:
                    if id(r) not in queued:
                        queued.add(id(r))
                        queue.append(r)
        return doms

    def domains_for(self, assignment: dict[int, int], base: Sequence[int] | None = None) -> list[int]:
        """Propagated domains with ``assignment`` (variable -> value index) fixed on top of ``base``."""
        doms = list(self.domains if base is None else base)
        for v, k in assignment.items():
            doms[v] &= 1 << k
        return self.propagate(doms)

    def explain(self, conflict: Conflict, doms: Sequence[int]) -> set[int]:
        """Decided variables that removed values from the conflict's variables (their neighbours)."""
        out: set[int] = set()
        for v in conflict.vars:
            for w in self.neighbours[v]:
                d = doms[w]
                if d and not d & (d - 1):
                    out.add(w)
        return out

    def is_solution(self, vals: Sequence[int]) -> bool:
        """Whether a complete assignment (value index per variable) is in the domains and meets every rule."""
        if len(vals) != self.n:
            return False
        if any(not (self.domains[v] >> k) & 1 for v, k in enumerate(vals)):
            return False
        return all(r.satisfied(vals) for r in self.rules)

    # -- exact search -----------------------------------------------------------------------
    def solve(self, doms: Sequence[int] | None = None, *, limit: int = 1, max_nodes: int = 200_000,
              time_limit: float = 30.0) -> list[list[int]]:
        """Up to ``limit`` solutions (value index per variable) extending ``doms``; ``[]`` when none.

        Complete: MRV branching with propagation at every node. Raises ``SearchLimitError``
        when ``max_nodes`` nodes or ``time_limit`` seconds are spent before it can decide.
        """
        deadline = time.perf_counter() + time_limit
        found: list[list[int]] = []
        nodes = 0
        try:
            start = self.propagate(self.domains if doms is None else doms)
        except Conflict:
            return []
        stack = [start]
        while stack:
            cur = stack.pop()
            nodes += 1
            if nodes > max_nodes or (nodes & 255 == 0 and time.perf_counter() > deadline):
                raise SearchLimitError(f"the exact CSP search gave up after {nodes} nodes / {time_limit:g} s; "
                                       "add rules that propagate more, or raise max_nodes/time_limit")
            open_vars = [v for v in range(self.n) if cur[v] & (cur[v] - 1)]
            if not open_vars:
                vals = [bits(d)[0] for d in cur]
                if self.is_solution(vals):
                    found.append(vals)
                    if len(found) >= limit:
                        break
                continue
            v = min(open_vars, key=lambda u: popcount(cur[u]))
            for k in reversed(bits(cur[v])):
                child = list(cur)
                child[v] = 1 << k
                try:
                    stack.append(self.propagate(child))
                except Conflict:
                    pass
        return found
