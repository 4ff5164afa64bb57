"""The typed, resolved form of a JSON Schema (what ``json_normalize`` builds and the IR emitter reads).

One node per schema *meaning*, not per keyword: ``$ref`` targets are ``RefSlot`` objects built
once and shared by every ``Ref`` that points at them (cycles stay cycles: the emitter bounds
them); ``allOf`` is already intersected; ``type`` unions are ``Union`` nodes of typed
branches. Every node keeps ``ptr``, the JSON pointer it came from, for error messages.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["AnyValue", "ArrayT", "BoolT", "Literal", "Nothing", "NullT", "NumberT", "ObjectT", "Ref", "RefSlot",
           "Report", "Schema", "StringT", "Union", "admits", "canonical_dumps", "json_equal", "json_type"]


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality (1 == 1.0, but True != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def canonical_dumps(value: Any) -> str:
    """Compact JSON text (non-ASCII kept, floats in plain decimal notation, never with an exponent)."""
    if isinstance(value, dict):
        return "{" + ",".join(canonical_dumps(str(k)) + ":" + canonical_dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_dumps(v) for v in value) + "]"
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
            if "." not in text:
                text += ".0"
        return text
    return json.dumps(value, ensure_ascii=False)


def json_type(v: Any) -> str:
    """JSON type name of a Python JSON value (``integer`` for integral numbers)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


@dataclass(eq=False)
class Schema:
    """Base of the typed nodes; ``ptr`` is the JSON pointer of the schema it came from."""

    ptr: str


@dataclass(eq=False)
class AnyValue(Schema):
    """Any JSON value (``{}``/``true``)."""


@dataclass(eq=False)
class Nothing(Schema):
    """The empty language (``false``, a contradiction); ``reason`` says which."""

    reason: str = "false schema"


@dataclass(eq=False)
class NullT(Schema):
    """``null``."""


@dataclass(eq=False)
class BoolT(Schema):
    """``true``/``false``."""


@dataclass(eq=False)
class NumberT(Schema):
    """A number (``integer=True``: integral ones only) within bounds, optionally a multiple of ``multiple_of``."""

    lo: Decimal | None = None
    lo_strict: bool = False
    hi: Decimal | None = None
    hi_strict: bool = False
    integer: bool = False
    multiple_of: Decimal | None = None


@dataclass(eq=False)
class StringT(Schema):
    """A string with length bounds (code points), ECMA-262 ``patterns`` (search semantics) and ``formats``."""

    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()


@dataclass(eq=False)
class ArrayT(Schema):
    """An array: ``prefix`` item schemas by position, then ``items`` for the rest."""

    min_items: int = 0
    max_items: int | None = None
    prefix: tuple[Schema, ...] = ()
    items: Schema | None = None  # None: any value


@dataclass(eq=False)
class ObjectT(Schema):
    """An object. ``additional`` is ``None`` when the schema leaves ``additionalProperties`` unset."""

    properties: dict[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    pattern_properties: tuple[tuple[str, Schema], ...] = ()
    additional: Schema | None = None
    property_names: Schema | None = None
    min_properties: int = 0
    max_properties: int | None = None

    def schema_for(self, key: str) -> Schema | None:
        """The schema this object applies to the value of ``key`` (``None``: unset additionalProperties)."""
        if key in self.properties:
            return self.properties[key]
        hits = [s for p, s in self.pattern_properties if _search(p, key)]
        if hits:
            return hits[0] if len(hits) == 1 else AnyValue(self.ptr)
        return self.additional


@dataclass(eq=False)
class Literal(Schema):
    """One of a finite list of JSON values (``enum``/``const``)."""

    values: tuple = ()


@dataclass(eq=False)
class Union(Schema):
    """Any of ``options`` (``anyOf``, ``oneOf`` with the exclusivity left to the validator, type unions)."""

    options: tuple[Schema, ...] = ()


@dataclass(eq=False)
class RefSlot:
    """A ``$ref`` target, built once. ``schema`` is ``None`` while it is being built."""

    key: str
    ptr: str
    schema: Schema | None = None
    recursive: bool = False


@dataclass(eq=False)
class Ref(Schema):
    """A use of a shared ``$ref`` target."""

    slot: RefSlot = None  # type: ignore[assignment]


def _search(pattern: str, text: str) -> bool:
    """ECMA-262 search approximated with Python ``re`` (keys only; unreadable patterns match nothing)."""
    try:
        return re.search(pattern, text) is not None
    except (re.error, RecursionError):
        return False


def admits(s: Schema, v: Any, depth: int = 0) -> bool:
    """Whether ``v`` may be valid under ``s``: exact for types, bounds and literals; ``True`` when unsure."""
    if depth > 32:
        return True
    if isinstance(s, Ref):
        return s.slot.schema is None or admits(s.slot.schema, v, depth + 1)
    if isinstance(s, AnyValue):
        return True
    if isinstance(s, Nothing):
        return False
    if isinstance(s, Literal):
        return any(json_equal(v, x) for x in s.values)
    if isinstance(s, Union):
        return any(admits(o, v, depth + 1) for o in s.options)
    t = json_type(v)
    if isinstance(s, NullT):
        return t == "null"
    if isinstance(s, BoolT):
        return t == "boolean"
    if isinstance(s, NumberT):
        if t not in ("integer", "number") or (s.integer and t != "integer"):
            return False
        d = Decimal(str(v))
        if s.lo is not None and (d < s.lo or (s.lo_strict and d == s.lo)):
            return False
        if s.hi is not None and (d > s.hi or (s.hi_strict and d == s.hi)):
            return False
        return s.multiple_of is None or d % s.multiple_of == 0
    if isinstance(s, StringT):
        return t == "string" and len(v) >= s.min_length and (s.max_length is None or len(v) <= s.max_length)
    if isinstance(s, ArrayT):
        if t != "array" or len(v) < s.min_items or (s.max_items is not None and len(v) > s.max_items):
            return False
        for i, x in enumerate(v):
            sub = s.prefix[i] if i < len(s.prefix) else s.items
            if sub is not None and not admits(sub, x, depth + 1):
                return False
        return True
    if isinstance(s, ObjectT):
        if t != "object" or any(k not in v for k in s.required):
            return False
        if len(v) < s.min_properties or (s.max_properties is not None and len(v) > s.max_properties):
            return False
        for k, x in v.items():
            sub = s.schema_for(k)
            if sub is not None and not admits(sub, x, depth + 1):
                return False
        return True
    return True


class Report:
    """Where each keyword of the schema is enforced: ``automaton``, ``validator`` or ``ignored``.

    ``bounded`` lists the places where the automaton is cut short of the schema (recursion cut at
    ``max_depth``, unconstrained values nested past ``any_depth``); ``unchecked_formats`` the formats
    nothing checks (annotations only, as the spec allows).
    """

    def __init__(self) -> None:
        self.automaton: set[str] = set()
        self.validator: set[str] = set()
        self.ignored: set[str] = set()
        self.bounded: set[str] = set()
        self.unchecked_formats: set[str] = set()

    def auto(self, kw: str) -> None:
        self.automaton.add(kw)

    def val(self, kw: str) -> None:
        self.validator.add(kw)

    def as_dict(self) -> dict:
        """Sorted lists per category (what ``JsonSchemaConstraint.report`` returns)."""
        return {"automaton": sorted(self.automaton), "validator": sorted(self.validator),
                "ignored": sorted(self.ignored), "bounded": sorted(self.bounded),
                "unchecked_formats": sorted(self.unchecked_formats)}
