"""Typed JSON Schema (``json_model``) -> IR nodes of its JSON text (no regex text anywhere).

Shared structure stays shared: a ``$ref`` target is emitted once per recursion context and the
same IR node is reused by every use; any-JSON values are built once per depth. Recursion is
unrolled ``max_depth`` times per recursive target and then cut, and the cut is written into
the report (``bounded``). Objects: declared properties in schema order, every optional one
free to be absent (an O(n) construction: one node per (position, "a member came before")),
undeclared keys exclude the declared names; with ``extra_properties=True`` (JSON Schema
semantics) they may stand between declared ones too. What the automaton does not carry is
reported as validator-checked.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache

from ..automata import ir
from . import json_numbers as N
from .json_model import (
    AnyValue,
    ArrayT,
    BoolT,
    Literal,
    Nothing,
    NullT,
    NumberT,
    ObjectT,
    Ref,
    Report,
    Schema,
    StringT,
    Union,
    canonical_dumps,
)
from .json_strings import (
    ANY_UNIT,
    STRING,
    UnsupportedPattern,
    format_body,
    pattern_body,
    plain_char_or_escape,
)

__all__ = ["Emitter", "value_ir"]

NULL = ir.literal("null")
BOOLEAN = ir.alt(ir.literal("true"), ir.literal("false"))
_WS_CHAR = ir.byteset([(0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20)])
_QUOTE = ir.literal('"')
_MAX_COUNTED_SIZE = 2_000  # IR nodes of an item times its count, above which the count goes to the validator
_ZERO_FRACTION = ir.opt(ir.concat(ir.literal("."), ir.plus(ir.literal("0"))))  # 1.0 is an integer too


def whitespace(flexible: bool, max_run: int | None = None) -> ir.Node:
    """JSON whitespace between tokens: none (compact), any run, or runs of at most ``max_run``."""
    if not flexible:
        return ir.EMPTY
    return ir.repeat(_WS_CHAR, 0, max_run)


def value_ir(v, ws: ir.Node = ir.EMPTY) -> ir.Node:
    """The JSON text of the value ``v`` (integral numbers also as ``2.0``), ``ws`` between tokens."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return ir.literal(canonical_dumps(v))
    if isinstance(v, (int, float)):
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
            v = int(v)
        if isinstance(v, int):
            return ir.concat(ir.literal(str(v)), _ZERO_FRACTION)
        return ir.literal(canonical_dumps(v))
    sep = ir.concat(ws, ir.literal(","), ws)
    if isinstance(v, list):
        items = [value_ir(x, ws) for x in v]
        body = [x for i, it in enumerate(items) for x in ((sep, it) if i else (it,))]
        return ir.concat(ir.literal("["), ws, *body, ws, ir.literal("]"))
    colon = ir.concat(ws, ir.literal(":"), ws)
    members = [ir.concat(ir.literal(canonical_dumps(str(k))), colon, value_ir(x, ws)) for k, x in v.items()]
    if not members:
        return ir.concat(ir.literal("{"), ws, ir.literal("}"))
    # members in any order (JSON objects are unordered), as many as the literal has: the validator sees
    # that each one is there exactly once; n! orders would not fit an automaton
    member = ir.alt(*members)
    body = ir.concat(member, ir.repeat(ir.concat(sep, member), len(members) - 1, len(members) - 1))
    return ir.concat(ir.literal("{"), ws, body, ws, ir.literal("}"))


@lru_cache(maxsize=1024)
def _not_names(names: tuple[str, ...]) -> ir.Node:
    """String bodies that are none of ``names`` (each a run of plain characters): a trie complement."""
    words = sorted(set(names))

    def build(group: list[str], depth: int) -> ir.Node:
        parts = [] if any(len(w) == depth for w in group) else [ir.EMPTY]
        kids: dict[str, list[str]] = {}
        for w in group:
            if len(w) > depth:
                kids.setdefault(w[depth], []).append(w)
        others = plain_char_or_escape([ord(c) for c in kids])
        parts.append(ir.concat(others, ir.star(ANY_UNIT)))
        parts += [ir.concat(ir.char(ord(c)), build(g, depth + 1)) for c, g in kids.items()]
        return ir.alt(*parts)

    return build(words, 0)


class Emitter:
    """One typed schema -> one IR node; options as in ``JsonSchemaConstraint``."""

    def __init__(self, report: Report, *, flexible: bool = False, max_whitespace: int | None = None,
                 extra_properties: bool = False, property_order: str = "schema", max_depth: int = 3,
                 any_depth: int = 2, max_repeat: int = 64):
        self.report = report
        self.any_order = property_order == "any"
        self.ws = whitespace(flexible, max_whitespace)
        self.sep = ir.concat(self.ws, ir.literal(","), self.ws)
        self.colon = ir.concat(self.ws, ir.literal(":"), self.ws)
        self.extra_properties = extra_properties
        self.max_depth = max_depth
        self.any_depth = any_depth
        self.max_repeat = max_repeat
        self._memo: dict[tuple, ir.Node] = {}
        self._rec: dict[int, bool] = {}
        self._any: dict[int, ir.Node] = {}

    def emit(self, s: Schema) -> ir.Node:
        """IR of the JSON text of every instance of ``s``."""
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 20_000))
        try:
            return self._node(s, 0)
        finally:
            sys.setrecursionlimit(old)

    # ------------------------------------------------------------------ dispatch
    def _node(self, s: Schema, ctx: int) -> ir.Node:
        """``ctx``: recursive ``$ref`` entries on the path so far (only matters below a recursive target)."""
        key = (id(s), ctx if self._recursive_below(s) else 0)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if isinstance(s, Ref):
            out = self._ref(s, ctx)
        elif isinstance(s, AnyValue):
            out = self.any_value(self.any_depth)
        elif isinstance(s, Nothing):
            out = ir.NOTHING
        elif isinstance(s, NullT):
            out = NULL
        elif isinstance(s, BoolT):
            out = BOOLEAN
        elif isinstance(s, Literal):
            strs = [v for v in s.values if isinstance(v, str)]
            rest = [value_ir(v, self.ws) for v in s.values if not isinstance(v, str)]
            out = ir.alt(ir.choices(_dumps(x) for x in strs) if strs else ir.NOTHING, *rest)
        elif isinstance(s, Union):
            out = ir.alt(*(self._node(o, ctx) for o in s.options))
        elif isinstance(s, NumberT):
            out = self._number(s)
        elif isinstance(s, StringT):
            out = self._string(s)
        elif isinstance(s, ArrayT):
            out = self._array(s, ctx)
        else:
            out = self._object(s, ctx)
        self._memo[key] = out
        return out

    def _ref(self, s: Ref, ctx: int) -> ir.Node:
        slot = s.slot
        if not slot.recursive:
            return self._node(slot.schema, ctx)
        if ctx >= self.max_depth:
            self.report.bounded.add(f"{slot.ptr or '/'}: recursive $ref {slot.key} cut after {self.max_depth} "
                                    f"recursive entries on one path (max_depth); deeper values are outside the "
                                    f"automaton")
            return ir.NOTHING
        return self._node(slot.schema, ctx + 1)

    def _recursive_below(self, s: Schema) -> bool:
        """Whether a recursive ``$ref`` is reachable from ``s`` (else its IR is the same at every depth)."""
        hit = self._rec.get(id(s))
        if hit is not None:
            return hit
        self._rec[id(s)] = False  # cycles only pass through recursive slots, which answer True below
        if isinstance(s, Ref):
            out = s.slot.recursive or self._recursive_below(s.slot.schema)
        elif isinstance(s, Union):
            out = any(self._recursive_below(o) for o in s.options)
        elif isinstance(s, ArrayT):
            out = any(self._recursive_below(p) for p in (*s.prefix, *((s.items,) if s.items else ())))
        elif isinstance(s, ObjectT):
            subs = [*s.properties.values(), *(x for _, x in s.pattern_properties)]
            subs += [x for x in (s.additional, s.property_names) if x is not None]
            out = any(self._recursive_below(x) for x in subs)
        else:
            out = False
        self._rec[id(s)] = out
        return out

    def any_value(self, depth: int) -> ir.Node:
        """Any JSON value nested at most ``depth`` containers deep (built once per depth)."""
        if depth not in self._any:
            scalar = ir.alt(NULL, BOOLEAN, N.NUMBER, STRING)
            if depth <= 0:
                self._any[depth] = scalar
            else:
                inner = self.any_value(depth - 1)
                arr = ir.concat(ir.literal("["), self.ws, ir.opt(ir.concat(inner, ir.star(ir.concat(self.sep, inner)))),
                                self.ws, ir.literal("]"))
                member = ir.concat(STRING, self.colon, inner)
                obj = ir.concat(ir.literal("{"), self.ws,
                                ir.opt(ir.concat(member, ir.star(ir.concat(self.sep, member)))), self.ws,
                                ir.literal("}"))
                self._any[depth] = ir.alt(scalar, arr, obj)
            self.report.bounded.add(f"values the schema leaves open nest at most {self.any_depth} arrays/objects "
                                    f"deep (any_depth)")
        return self._any[depth]

    # ------------------------------------------------------------------ scalars
    def _number(self, s: NumberT) -> ir.Node:
        lo, hi, m = s.lo, s.hi, s.multiple_of
        integral_m = m is not None and m == m.to_integral_value()
        if s.integer or integral_m:
            ilo = None if lo is None else (math.floor(lo) + 1 if s.lo_strict and lo == lo.to_integral_value()
                                           else math.ceil(lo))
            ihi = None if hi is None else (math.ceil(hi) - 1 if s.hi_strict and hi == hi.to_integral_value()
                                           else math.floor(hi))
            node = None
            if m is not None:
                node = N.multiple_of_int(int(m), ilo, ihi) if integral_m else None
                if node is None:
                    self.report.val("multipleOf")
            return ir.concat(node or N.signed_int_range(ilo, ihi), _ZERO_FRACTION)
        if m is not None:
            exp = m.normalize().as_tuple()
            if lo is None and hi is None and exp.digits == (1,) and exp.exponent < 0:
                frac = ir.opt(ir.concat(N.DOT, ir.repeat(N.DIGIT, 1, -exp.exponent)))
                return ir.concat(N.INTEGER, frac)
            self.report.val("multipleOf")
        if lo is None and hi is None:
            return N.NUMBER
        return N.decimal_range(lo, s.lo_strict, hi, s.hi_strict)

    def _string(self, s: StringT) -> ir.Node:
        body = None
        for fmt in s.formats:
            node = format_body(fmt)
            if node is not None and body is None:
                body = node
                self.report.auto("format")
        for i, pat in enumerate(s.patterns):
            if body is None:
                try:
                    body = pattern_body(pat, s.ptr + "/pattern")
                    self.report.auto("pattern")
                    continue
                except UnsupportedPattern:
                    pass
            self.report.val("pattern")
        if body is not None:
            if s.min_length or s.max_length is not None:
                self.report.val("maxLength" if s.max_length is not None else "minLength")
            return ir.concat(_QUOTE, body, _QUOTE)
        lo, hi = s.min_length, s.max_length
        if hi is not None and hi > self.max_repeat:  # long maxima: counted by the validator
            self.report.val("maxLength")
            hi = None
        if lo > self.max_repeat * 4:  # a minimum stays in the automaton further (the token budget check needs it)
            self.report.val("minLength")
            lo = self.max_repeat * 4
        if lo:
            self.report.auto("minLength")
        if hi is not None:
            self.report.auto("maxLength")
        if lo == 0 and hi is None:
            return STRING
        return ir.concat(_QUOTE, ir.repeat(ANY_UNIT, lo, hi), _QUOTE)

    # ------------------------------------------------------------------ containers
    def _array(self, s: ArrayT, ctx: int) -> ir.Node:
        lo, hi = s.min_items, s.max_items
        if hi is not None and hi > self.max_repeat:
            self.report.val("maxItems")
            hi = None
        if lo > self.max_repeat:
            self.report.val("minItems")
            lo = self.max_repeat
        item = None if s.items is None or (hi is not None and hi <= len(s.prefix)) else self._node(s.items, ctx)
        if item is not None and max(lo, hi or 0) - len(s.prefix) > 4 and \
                max(lo, hi or 0) * item.size > _MAX_COUNTED_SIZE:  # copies of a big item: count by validation
            if hi is not None:
                self.report.val("maxItems")
                hi = None
            if lo > 1:
                self.report.val("minItems")
                lo = 1
        prefix = s.prefix[:hi] if hi is not None else s.prefix
        pre = []
        for i, p in enumerate(prefix):
            node = self._node(p, ctx)
            if node is ir.NOTHING:  # no item fits here: the array stops before it
                if lo > i:
                    return ir.NOTHING
                hi = i
                break
            pre.append(node)
        rest = ir.NOTHING
        if hi is None or hi > len(pre):
            rest = self.any_value(self.any_depth) if s.items is None else self._node(s.items, ctx)
        a, b = max(0, lo - len(pre)), None if hi is None else hi - len(pre)
        if rest is ir.NOTHING:
            if a > 0:
                return ir.NOTHING
            b = 0
        if not pre:
            if b == 0:
                body = ir.EMPTY
            else:
                more = ir.repeat(ir.concat(self.sep, rest), max(0, a - 1), None if b is None else b - 1)
                body = ir.concat(rest, more) if a >= 1 else ir.opt(ir.concat(rest, more))
        else:
            cur = ir.EMPTY if b == 0 else ir.repeat(ir.concat(self.sep, rest), a, b)
            for j in range(len(pre), 0, -1):
                term = ir.concat(self.sep if j > 1 else ir.EMPTY, pre[j - 1], cur)
                cur = term if j <= lo else ir.opt(term)
            body = cur
        return ir.concat(ir.literal("["), self.ws, body, self.ws, ir.literal("]"))

    def _object(self, s: ObjectT, ctx: int) -> ir.Node:
        entries: list[tuple[ir.Node, bool]] = []
        taken: list[str] = []
        for name in list(s.properties) + [r for r in s.required if r not in s.properties]:
            sub = s.schema_for(name)
            value = self.any_value(self.any_depth) if sub is None else self._node(sub, ctx)
            req = name in s.required
            taken.append(name)
            if value is ir.NOTHING:
                if req:
                    return ir.NOTHING
                continue
            entries.append((ir.concat(ir.literal(_dumps(name)), self.colon, value), req))
        extra = self._extras(s, ctx, taken)
        if self.any_order:
            return self._unordered(s, [e for e, _ in entries], extra)
        n_req = sum(r for _, r in entries)
        n_opt = len(entries) - n_req
        lo, hi = s.min_properties, s.max_properties
        nonempty = False
        tail = ir.EMPTY
        anywhere = self.extra_properties and extra is not ir.NOTHING
        if lo > n_req or hi is not None:
            if n_opt == 0 and extra is not ir.NOTHING:
                xlo, xhi = max(0, lo - n_req), None if hi is None else hi - n_req
                if xhi is not None and xhi > self.max_repeat:
                    self.report.val("maxProperties")
                    xhi = None
                tail = self._run(extra, xlo, xhi, prefixed=n_req > 0)
                extra, anywhere = ir.NOTHING, False
            elif lo == 1 and hi is None and n_req == 0:
                nonempty = True
            else:
                for k, v in (("minProperties", lo > n_req), ("maxProperties", hi is not None)):
                    if v:
                        self.report.val(k)
                if extra is ir.NOTHING and lo > len(entries):
                    return ir.NOTHING
        items: list[tuple[ir.Node, str]] = []
        for node, req in entries:
            if anywhere:
                items.append((extra, "star"))
            items.append((node, "req" if req else "opt"))
        if extra is not ir.NOTHING:
            items.append((extra, "star"))
        body = self._sequence(items, nonempty)
        if tail is not ir.EMPTY:
            body = ir.concat(body, tail) if entries else tail
        return ir.concat(ir.literal("{"), self.ws, body, self.ws, ir.literal("}"))

    def _unordered(self, s: ObjectT, entries: list[ir.Node], extra: ir.Node) -> ir.Node:
        """Members in any order: each declared one with its schema, undeclared ones as ``extra``.

        Which members are present, how often and how many is the validator's to check (``required``,
        duplicates, min/maxProperties): tracking the set of keys seen would take 2**n states.
        """
        member = ir.alt(*entries, extra)
        if member is ir.NOTHING:
            return ir.concat(ir.literal("{"), self.ws, ir.literal("}"))
        lo = max(s.min_properties, 1 if s.required else 0)
        hi = s.max_properties if s.max_properties is not None and s.max_properties <= self.max_repeat else None
        for kw, used in (("required", s.required), ("minProperties", s.min_properties),
                         ("maxProperties", s.max_properties is not None)):
            if used:
                self.report.val(kw)
        return ir.concat(ir.literal("{"), self.ws, self._run(member, lo, hi, prefixed=False), self.ws,
                         ir.literal("}"))

    def _extras(self, s: ObjectT, ctx: int, taken: list[str]) -> ir.Node:
        """One undeclared member (``patternProperties``, ``additionalProperties``), or ``NOTHING``."""
        opts = []
        for pat, sub in s.pattern_properties:
            value = self._node(sub, ctx)
            if value is ir.NOTHING:
                continue
            try:
                key = ir.concat(_QUOTE, pattern_body(pat, s.ptr + "/patternProperties"), _QUOTE)
            except UnsupportedPattern:
                self.report.val("patternProperties")
                key = STRING
            opts.append(ir.concat(key, self.colon, value))
        add = s.additional
        # an object schema that declares no member at all means any members, whatever extra_properties says
        if add is not None or self.extra_properties or not (s.properties or s.pattern_properties or s.required):
            value = self.any_value(self.any_depth) if add is None else self._node(add, ctx)
            if value is not ir.NOTHING:
                key = self._extra_key(s, taken)
                opts.append(ir.concat(key, self.colon, value))
        if s.pattern_properties and add is not None and not isinstance(add, AnyValue):
            self.report.val("additionalProperties")  # keys matching no pattern: the validator has the last word
        return ir.alt(*opts)

    def _extra_key(self, s: ObjectT, taken: list[str]) -> ir.Node:
        names = s.property_names
        if isinstance(names, Literal):
            return ir.choices(_dumps(v) for v in names.values if isinstance(v, str) and v not in taken)
        if isinstance(names, StringT) and (names.patterns or names.formats or names.min_length or names.max_length):
            return self._string(names)  # declared names are not excluded here: the validator sees duplicates
        plain = [t for t in taken if _dumps(t)[1:-1] == t]
        if not plain or self.any_order:  # unordered members: the validator sees duplicates, the trie is not needed
            return STRING
        return ir.concat(_QUOTE, _not_names(tuple(plain)), _QUOTE)

    def _run(self, item: ir.Node, lo: int, hi: int | None, prefixed: bool) -> ir.Node:
        """``lo..hi`` comma-separated ``item``s, after a member when ``prefixed``."""
        if hi == 0:
            return ir.EMPTY
        if prefixed:
            return ir.repeat(ir.concat(self.sep, item), lo, hi)
        run = ir.concat(item, ir.repeat(ir.concat(self.sep, item), max(lo, 1) - 1, None if hi is None else hi - 1))
        return run if lo > 0 else ir.opt(run)

    def _sequence(self, items: list[tuple[ir.Node, str]], nonempty: bool) -> ir.Node:
        """Comma-joined members in order: ``req`` once, ``opt`` at most once, ``star`` any number of times.

        Built from the end, two nodes per position (a member already written before it or not), so
        any number of optional members costs O(n) nodes and DFA states, no narrowing.
        """
        after = ir.EMPTY  # rest, when a member came before
        first = ir.NOTHING if nonempty else ir.EMPTY  # rest, when none did
        for node, kind in reversed(items):
            with_sep = ir.concat(self.sep, node)
            if kind == "req":
                after, first = ir.concat(with_sep, after), ir.concat(node, after)
            elif kind == "opt":
                after, first = ir.concat(ir.opt(with_sep), after), ir.alt(ir.concat(node, after), first)
            else:
                loop = ir.star(with_sep)
                after, first = ir.concat(loop, after), ir.alt(ir.concat(node, loop, after), first)
        return first


def _dumps(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)
