"""Intersection of typed schema nodes (``allOf``, ``$ref`` with siblings, ``anyOf`` under a typed schema).

Exact where the meet is again a typed node (bounds, lengths, required, properties, items, type
sets, literals); where it is not (two ``multipleOf`` of fractions, a recursive ``$ref`` met
while it is still being built, unions whose product passes ``MAX_UNION``) the result is a
*superset* of the intersection and the keyword is reported as validator-checked: the validator
always runs the full schema, so the automaton may be looser than the schema, never wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

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
    admits,
)

__all__ = ["MAX_UNION", "Intersector"]

MAX_UNION = 256
_MAX_LEVEL = 48


def _lower(a, a_s, b, b_s):
    if a is None:
        return b, b_s
    if b is None or a > b:
        return a, a_s
    if b > a:
        return b, b_s
    return a, a_s or b_s


def _upper(a, a_s, b, b_s):
    if a is None:
        return b, b_s
    if b is None or a < b:
        return a, a_s
    if b < a:
        return b, b_s
    return a, a_s or b_s


def _min_opt(a, b):
    return b if a is None else a if b is None else min(a, b)


class Intersector:
    """``meet(a, b, ptr)``: a node for values valid under both (or a superset, reported)."""

    def __init__(self, report: Report, tick: Callable[[str], None]):
        self.report = report
        self.tick = tick

    def __call__(self, a: Schema, b: Schema, ptr: str, level: int = 0) -> Schema:
        self.tick(ptr)
        if level > _MAX_LEVEL:  # deep structural meet: keep the left side, the validator has the rest
            self.report.val("allOf")
            return a
        if isinstance(a, AnyValue):
            return b
        if isinstance(b, AnyValue):
            return a
        if isinstance(a, Nothing):
            return a
        if isinstance(b, Nothing):
            return b
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Ref):
                if x.slot.schema is None:  # recursive target still being built: keep the other side
                    self.report.val("$ref")
                    self.report.bounded.add(f"{ptr or '/'}: $ref {x.slot.key} meets a sibling inside its own "
                                            f"recursion; the validator checks the rest")
                    return y
                return self(x.slot.schema, y, ptr, level + 1)
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Literal):
                vals = tuple(v for v in x.values if admits(y, v))
                return Literal(x.ptr, vals) if vals else Nothing(x.ptr, "no enum/const value satisfies the schema")
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Union):
                ys = y.options if isinstance(y, Union) else (y,)
                if len(x.options) * len(ys) > MAX_UNION:
                    self.report.val("anyOf")
                    return x
                opts = [self(o, p, ptr, level + 1) for o in x.options for p in ys]
                return union(x.ptr, opts)
        return self._same_type(a, b, ptr, level)

    def _same_type(self, a: Schema, b: Schema, ptr: str, level: int) -> Schema:
        if type(a) is not type(b):
            return Nothing(ptr, f"incompatible types ({type(a).__name__[:-1].lower()} and "
                                f"{type(b).__name__[:-1].lower()})")
        if isinstance(a, (NullT, BoolT)):
            return a
        if isinstance(a, NumberT):
            return self._numbers(a, b, ptr)
        if isinstance(a, StringT):
            lo, hi = max(a.min_length, b.min_length), _min_opt(a.max_length, b.max_length)
            if hi is not None and hi < lo:
                return Nothing(ptr, "string length bounds contradict")
            return StringT(a.ptr, lo, hi, tuple(dict.fromkeys(a.patterns + b.patterns)),
                           tuple(dict.fromkeys(a.formats + b.formats)))
        if isinstance(a, ArrayT):
            return self._arrays(a, b, ptr, level)
        return self._objects(a, b, ptr, level)

    def _numbers(self, a: NumberT, b: NumberT, ptr: str) -> Schema:
        lo, lo_s = _lower(a.lo, a.lo_strict, b.lo, b.lo_strict)
        hi, hi_s = _upper(a.hi, a.hi_strict, b.hi, b.hi_strict)
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_s or hi_s))):
            return Nothing(ptr, "numeric bounds contradict")
        m = a.multiple_of if b.multiple_of is None else b.multiple_of if a.multiple_of is None else None
        if a.multiple_of is not None and b.multiple_of is not None:
            ma, mb = a.multiple_of, b.multiple_of
            if ma == ma.to_integral_value() and mb == mb.to_integral_value():
                m = Decimal(math.lcm(int(ma), int(mb)))
            else:
                m = ma
                self.report.val("multipleOf")
        return NumberT(a.ptr, lo, lo_s, hi, hi_s, a.integer or b.integer, m)

    def _arrays(self, a: ArrayT, b: ArrayT, ptr: str, level: int) -> Schema:
        lo, hi = max(a.min_items, b.min_items), _min_opt(a.max_items, b.max_items)
        if hi is not None and hi < lo:
            return Nothing(ptr, "array length bounds contradict")
        n = max(len(a.prefix), len(b.prefix))
        pa = list(a.prefix) + [a.items or AnyValue(a.ptr)] * (n - len(a.prefix))
        pb = list(b.prefix) + [b.items or AnyValue(b.ptr)] * (n - len(b.prefix))
        prefix = tuple(self(x, y, ptr, level + 1) for x, y in zip(pa, pb))
        items = b.items if a.items is None else a.items if b.items is None else self(a.items, b.items, ptr, level + 1)
        return ArrayT(a.ptr, lo, hi, prefix, items)

    def _objects(self, a: ObjectT, b: ObjectT, ptr: str, level: int) -> Schema:
        props: dict[str, Schema] = {}
        for name in list(a.properties) + [k for k in b.properties if k not in a.properties]:
            sa, sb = a.schema_for(name), b.schema_for(name)
            props[name] = sa if sb is None else sb if sa is None else self(sa, sb, ptr, level + 1)
        pats = tuple(a.pattern_properties) + tuple(b.pattern_properties)
        if a.pattern_properties and b.additional is not None or b.pattern_properties and a.additional is not None:
            self.report.val("patternProperties")  # pattern keys of one side vs the other's additionalProperties
        add = b.additional if a.additional is None else a.additional if b.additional is None else \
            self(a.additional, b.additional, ptr, level + 1)
        pn = b.property_names if a.property_names is None else a.property_names if b.property_names is None else \
            self(a.property_names, b.property_names, ptr, level + 1)
        required = tuple(dict.fromkeys(a.required + b.required))
        lo, hi = max(a.min_properties, b.min_properties), _min_opt(a.max_properties, b.max_properties)
        if hi is not None and hi < max(lo, len(required)):
            return Nothing(ptr, "property count bounds contradict")
        return ObjectT(a.ptr, props, required, pats, add, pn, lo, hi)


def union(ptr: str, options: list[Schema]) -> Schema:
    """Flattened union without empty options (``Nothing`` if none is left, ``AnyValue`` if one is)."""
    flat: list[Schema] = []
    for o in options:
        if isinstance(o, AnyValue):
            return o
        if isinstance(o, Union):
            flat.extend(o.options)
        elif not isinstance(o, Nothing):
            flat.append(o)
    if not flat:
        reasons = [o.reason for o in options if isinstance(o, Nothing)]
        return Nothing(ptr, reasons[0] if reasons else "empty anyOf")
    return flat[0] if len(flat) == 1 else Union(ptr, tuple(flat))
