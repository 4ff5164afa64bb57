"""A Lark grammar (its BNF rules) -> one IR node (``automata.ir``), exact up to a recursion depth.

Why this is exact where it matters: a context-free language cut at a bounded nesting
depth is regular, and everything a diffusion canvas can hold is bounded anyway. The
translation works on the rules Lark itself compiled (``Lark(...).rules``, EBNF already
expanded to BNF) and the terminals' regexes (parsed once by ``automata.regex_parse``); no
parser generator here. Each (rule, depth) is built once and shared by every use, so the IR
grows linearly with the depth (the regex text this replaced grew ~4x per level).

Recursion is handled in two ways:

* **Linear self-recursion is a loop, not depth.** For a rule ``A`` whose productions
  are ``α`` (no ``A``), ``A β`` (left), ``γ A`` (right) and ``A δ A`` (infix), the
  language is exactly ``X (δ X)*`` with ``X = γ* α β*``. Lark's own ``x*``/``x+``
  helpers, left-recursive expression rules (``sum: sum "+" product``) and list rules
  therefore cost nothing and have no length bound.
* **Every other cycle is unrolled.** A depth-first walk from the start rule marks the
  edges that close a cycle (back edges); following one costs one unit of depth, and at
  depth 0 productions that need one are dropped. Depth ``d`` therefore generates every
  sentence whose derivation nests at most ``d`` such cycles (``d`` levels of
  parentheses in arithmetic, of objects/arrays in JSON).

``%ignore`` terminals (whitespace, comments) may appear between any two tokens. Where
both sides of a boundary may be a word character (``NAME NAME``, ``SELECT a``), the
separator is mandatory, so Lark's longest-match lexer cuts the text the same way.

The automaton (not the IR) grows with the depth; callers choose the largest depth whose
automaton fits their state budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..automata import ir
from ..automata.regex_parse import parse_regex
from ..errors import GrammarError

__all__ = ["Fragment", "GrammarRules", "Unroller", "terminal_node"]

_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_WORD_MASK = sum(((1 << (hi - lo + 1)) - 1) << lo for lo, hi in _WORD)
# Lark's common.ESCAPED_STRING / C_COMMENT are lazy, with a look-behind: their exact regular equivalents
_LAZY_TERMINALS = {
    r'".*?(?<!\\)(\\\\)*?"': r'"(?:[^"\\\n]|\\[^\n])*"',
    "/\\*(.|\n)*?\\*/": r"/\*(?:[^*]|\*+[^*/])*\*+/",
}


def terminal_node(pattern: str, name: str) -> ir.Node:
    """IR of one Lark terminal regex (Python syntax; ``\\d \\w \\s`` ASCII, see ``automata.regex_parse``)."""
    for lazy, regular in _LAZY_TERMINALS.items():
        pattern = pattern.replace(lazy, regular)
    return parse_regex(pattern, dialect="python", error=GrammarError, where=f"terminal {name}")


def _ends_word(node: ir.Node, memo: dict) -> bool:
    """Whether some sentence of ``node`` ends with an ASCII word character."""
    hit = memo.get(node)
    if hit is not None:
        return hit
    k = node.kind
    if k == ir.BYTES:
        out = bool(node.mask & _WORD_MASK)
    elif k == ir.CHARS:
        out = any(lo <= b and a <= hi for lo, hi in node.ranges for a, b in _WORD)
    elif k == ir.CONCAT:
        head, tail = node.kids
        out = _ends_word(tail, memo) or (tail.nullable and _ends_word(head, memo))
    elif k in (ir.ALT, ir.REPEAT):
        out = any(_ends_word(c, memo) for c in node.kids)
    else:
        out = False
    memo[node] = out
    return out


@dataclass(frozen=True)
class Fragment:
    """The IR of a sub-language, with what its neighbours need to know."""

    node: ir.Node      # ir.EMPTY only for the empty-string language
    nullable: bool     # the language contains ""
    starts_word: bool  # some sentence may start with [0-9A-Za-z_]
    ends_word: bool    # some sentence may end with one
    loop: Fragment | None = None  # set: this is ``loop`` repeated (>= 1 times, >= 0 when nullable)


EMPTY = Fragment(ir.EMPTY, True, False, False)


@dataclass(frozen=True)
class GrammarRules:
    """The BNF view of a grammar: productions per rule, terminal IR nodes, ignored terminals."""

    productions: dict[str, list[tuple[tuple[bool, str], ...]]]  # rule -> [((is_terminal, name), ...), ...]
    terminals: dict[str, ir.Node]                                # terminal name -> its IR
    ignore: tuple[str, ...]                                      # names of %ignore terminals

    @classmethod
    def from_lark(cls, parser) -> GrammarRules:
        """Read rules, terminals and ``%ignore`` from a built ``lark.Lark`` object."""
        productions: dict[str, list] = {}
        for rule in parser.rules:
            prod = tuple((sym.is_term, sym.name) for sym in rule.expansion)
            productions.setdefault(rule.origin.name, [])
            if prod not in productions[rule.origin.name]:
                productions[rule.origin.name].append(prod)
        terminals = {t.name: terminal_node(t.pattern.to_regexp(), t.name) for t in parser.terminals}
        return cls(productions, terminals, tuple(parser.ignore_tokens))


def _strip_optional(node: ir.Node) -> ir.Node | None:
    """``X`` for a node ``X?``, else None."""
    if node.kind == ir.REPEAT and node.lo == 0 and node.hi == 1:
        return node.kids[0]
    return None


def _alt(frags: list[Fragment]) -> Fragment | None:
    """Union; ``None`` stands for the empty language."""
    frags = [f for f in frags if f is not None]
    if not frags:
        return None
    node = ir.alt(*(f.node for f in frags))
    if node is ir.EMPTY:
        return EMPTY
    return Fragment(node, node.nullable, any(f.starts_word for f in frags), any(f.ends_word for f in frags))


def _names(sym) -> set[str]:
    return {sym[1]} if isinstance(sym[1], str) else set(sym[1])


def _merge_pair(a: tuple, b: tuple) -> tuple | None:
    """One production for ``a | b`` when they differ in one terminal or by an optional run; else None."""
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        if len(diff) == 1 and a[diff[0]][0] is True and b[diff[0]][0] is True:
            k = diff[0]
            return a[:k] + ((True, tuple(sorted(_names(a[k]) | _names(b[k])))),) + a[k + 1:]
        return None
    if len(a) < len(b):
        a, b = b, a
    i = 0
    while i < len(b) and a[i] == b[i]:
        i += 1
    j = i + len(a) - len(b)
    if a[j:] == b[i:]:
        return a[:i] + (("opt", a[i:j]),) + a[j:]
    return None


def _factor(prods: list[tuple]) -> list[tuple]:
    """Merge alternatives that share everything but one terminal or an optional run.

    ``a "+" b | a "-" b`` -> ``a ("+"|"-") b``; ``"[" v s "]" | "[" v "]"`` -> ``"[" v [s] "]"``.
    Every copy of a recursive rule multiplies the pattern (and the unminimised DFA built
    from it), so shared parts are kept once.
    """
    prods = list(prods)
    changed = True
    while changed:
        changed = False
        for i in range(len(prods)):
            for j in range(i + 1, len(prods)):
                merged = _merge_pair(prods[i], prods[j])
                if merged is not None:
                    prods[i] = merged
                    del prods[j]
                    changed = True
                    break
            if changed:
                break
    return prods


def _rule_refs(prod: tuple):
    """Rule names referenced by a production, optional runs included."""
    for kind, payload in prod:
        if kind == "opt":
            yield from _rule_refs(payload)
        elif kind is False:
            yield payload


class Unroller:
    """Memoised translation of (rule, depth) -> Fragment (one instance serves every depth of a grammar)."""

    def __init__(self, rules: GrammarRules, start: str):
        if start not in rules.productions:
            raise GrammarError(f"unknown start rule {start!r}; the grammar defines: "
                               f"{', '.join(sorted(rules.productions))}")
        self.rules = rules
        self.start = start
        self.memo: dict[tuple[str, int], Fragment | None] = {}
        if rules.ignore:
            sep = ir.alt(*(rules.terminals[n] for n in rules.ignore))
            self.sep_star, self.sep_plus = ir.star(sep), ir.plus(sep)
        else:
            self.sep_star = self.sep_plus = ir.EMPTY
        self.terms = {}
        ends: dict = {}
        for name, node in rules.terminals.items():
            self.terms[name] = Fragment(node, node.nullable, bool(node.first & _WORD_MASK), _ends_word(node, ends))
        self.shapes = {name: self._classify(name) for name in rules.productions}
        self.back_edges = self._back_edges(start)

    def _classify(self, name: str):
        """Split the productions of ``name`` into base, left-loop, right-loop and infix-loop parts."""
        me = (False, name)
        base, left, right, infix = [], [], [], []
        for prod in self.rules.productions[name]:
            k = prod.count(me)
            if prod == (me,):
                continue  # A -> A adds nothing
            if k == 1 and prod[0] == me:
                left.append(prod[1:])
            elif k == 1 and prod[-1] == me:
                right.append(prod[:-1])
            elif k == 2 and len(prod) > 2 and prod[0] == me and prod[-1] == me:
                infix.append(prod[1:-1])
            else:
                base.append(prod)
        return tuple(_factor(part) for part in (base, left, right, infix))

    def _back_edges(self, start: str) -> set[tuple[str, str]]:
        """Edges (rule -> rule) that close a cycle in a depth-first walk from ``start``."""
        back: set[tuple[str, str]] = set()
        state: dict[str, int] = {}  # 1 on the stack, 2 done

        def children(name):
            for part in self.shapes[name]:
                for prod in part:
                    yield from _rule_refs(prod)

        stack = [(start, iter(children(start)))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            child = next(it, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(children(child))))
        return back

    def symbol(self, owner: str, sym: tuple, depth: int) -> Fragment | None:
        kind, name = sym
        if kind == "opt":
            inner = self.seq([self.symbol(owner, s, depth) for s in name])
            return EMPTY if inner is None else self.optional(inner)
        if kind is True:
            return self.terms[name] if isinstance(name, str) else _alt([self.terms[n] for n in name])
        if (owner, name) in self.back_edges:
            return None if depth == 0 else self.rule(name, depth - 1)
        return self.rule(name, depth)

    def _sep(self, need: bool) -> ir.Node:
        return self.sep_plus if need else self.sep_star

    def repeat(self, body: Fragment, at_least_one: bool) -> Fragment:
        """``body`` one-or-more (or zero-or-more) times, separated where words would touch."""
        if body is EMPTY:
            return EMPTY
        sep = self._sep(body.ends_word and body.starts_word)
        if sep is ir.EMPTY:
            node = ir.repeat(body.node, 1 if at_least_one else 0, None)
        else:
            node = ir.concat(body.node, ir.star(ir.concat(sep, body.node)))
            node = node if at_least_one else ir.opt(node)
        return Fragment(node, body.nullable or not at_least_one, body.starts_word, body.ends_word, loop=body)

    def optional(self, frag: Fragment) -> Fragment:
        if frag.nullable:
            return frag
        if frag.loop is not None:
            return self.repeat(frag.loop, at_least_one=False)
        return Fragment(ir.opt(frag.node), True, frag.starts_word, frag.ends_word)

    def seq(self, items: list) -> Fragment | None:
        """Concatenate fragments with ignored separators (``None`` anywhere: the empty language)."""
        if any(it is None for it in items):
            return None
        items = [it for it in items if it is not EMPTY]
        if len(items) == 1:
            return items[0]
        out: list[ir.Node] = []
        left_word = False      # the text so far may end with a word char
        leading = True         # nothing emitted yet but leading repetitions (which carry their separator)
        nullable, starts_word = True, False
        for i, frag in enumerate(items):
            body = frag.loop
            if nullable:
                starts_word = starts_word or frag.starts_word
            lo = 0 if frag.nullable else 1
            if leading and body is not None and i + 1 < len(items):
                nxt = items[i + 1]
                sep = self._sep(body.ends_word and (body.starts_word or nxt.starts_word))
                out.append(ir.repeat(ir.concat(body.node, sep), lo, None))
            elif leading and frag.nullable and i + 1 < len(items) and _strip_optional(frag.node) is not None:
                # an optional head: its separator goes inside the option, or "" + next would need one too
                nxt = items[i + 1]
                sep = self._sep(frag.ends_word and nxt.starts_word)
                out.append(ir.opt(ir.concat(_strip_optional(frag.node), sep)))
            elif leading:
                out.append(frag.node)
                leading = False
            elif body is not None:
                sep = self._sep((left_word or body.ends_word) and body.starts_word)
                out.append(ir.repeat(ir.concat(sep, body.node), lo, None))
            else:
                sep = self._sep(left_word and frag.starts_word)
                if frag.nullable:
                    out.append(ir.opt(ir.concat(sep, frag.node)))
                else:
                    out.append(ir.concat(sep, frag.node))
            left_word = frag.ends_word or (frag.nullable and left_word)
            nullable = nullable and frag.nullable
        ends_word = False
        for frag in reversed(items):
            ends_word = ends_word or frag.ends_word
            if not frag.nullable:
                break
        return Fragment(ir.concat(*out), nullable, starts_word, ends_word)

    def production(self, owner: str, prod, depth: int) -> Fragment | None:
        return self.seq([self.symbol(owner, sym, depth) for sym in prod])

    def rule(self, name: str, depth: int) -> Fragment | None:
        key = (name, depth)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # never read: the graph without back edges is acyclic
        base, left, right, infix = self.shapes[name]
        alpha = _alt([self.production(name, p, depth) for p in base])
        if alpha is None:
            return None
        beta = _alt([self.production(name, p, depth) for p in left])
        gamma = _alt([self.production(name, p, depth) for p in right])
        delta = _alt([self.production(name, p, depth) for p in infix])
        if beta is not None and gamma is None and beta.node is alpha.node:
            x = self.repeat(alpha, at_least_one=True)  # A: x | A x  ==  x+
        elif gamma is not None and beta is None and gamma.node is alpha.node:
            x = self.repeat(alpha, at_least_one=True)
        else:
            x = self.seq(([self.repeat(gamma, False)] if gamma is not None else []) + [alpha] +
                         ([self.repeat(beta, False)] if beta is not None else []))
        if delta is not None:
            x = self.seq([x, self.repeat(self.seq([delta, x]), at_least_one=False)])
        self.memo[key] = x
        return x
