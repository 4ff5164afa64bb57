"""Schema resolution helpers for the JSON Schema translation: drafts, ``$ref`` lookup, ``allOf`` merging.

``merge`` intersects two schema objects keyword by keyword where the intersection is again
a plain schema (types, bounds, properties, required, enum, ...). What does not merge exactly
(two different patterns, two multipleOf, ...) keeps the first and reports the keyword as
validator-enforced: the validator always checks the full schema, so the automaton may be
looser than the schema but never silently wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = [
    "ANNOTATIONS",
    "SCHEMA_KEYWORDS_LIST",
    "SCHEMA_KEYWORDS_MAP",
    "SCHEMA_KEYWORDS_SINGLE",
    "json_equal",
    "merge",
]

SCHEMA_KEYWORDS_SINGLE = ("additionalProperties", "additionalItems", "items", "contains", "propertyNames", "not",
                          "if", "then", "else", "unevaluatedProperties", "unevaluatedItems", "contentSchema")
SCHEMA_KEYWORDS_LIST = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
SCHEMA_KEYWORDS_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
                       "dependencies")

ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
                         "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$schema", "$id",
                         "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$vocabulary", "$defs",
                         "definitions"})

_MIN_KEYS = ("minLength", "minItems", "minProperties", "minContains")
_MAX_KEYS = ("maxLength", "maxItems", "maxProperties", "maxContains")


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


def _types(s: dict) -> set | None:
    t = s.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else set(t)


def _and_schema(a: Any, b: Any) -> Any:
    """Intersection of two subschemas, kept lazy as an ``allOf`` (merged when translated)."""
    if a is True or a == {}:
        return b
    if b is True or b == {}:
        return a
    if a is False or b is False:
        return False
    return {"allOf": [a, b]}


def _schema_for_key(s: dict, key: str) -> Any:
    """The subschema ``s`` applies to property ``key`` (properties, then patternProperties, then additional)."""
    props = s.get("properties") or {}
    if key in props:
        return props[key]
    hits = [v for p, v in (s.get("patternProperties") or {}).items() if _search(p, key)]
    if hits:
        out: Any = True
        for h in hits:
            out = _and_schema(out, h)
        return out
    return s.get("additionalProperties", True)


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False


def merge(a: dict, b: dict, note: Callable[[str], None]) -> dict:
    """Intersect schema objects ``a`` and ``b`` (no ``$ref``/``allOf`` at their top); ``note(kw)`` marks
    keywords whose intersection is left to the validator."""
    out = dict(a)
    for k, vb in b.items():
        if k not in out:
            out[k] = vb
            continue
        va = out[k]
        if json_equal(va, vb):
            continue
        if k == "type":
            ta, tb = _types(a) or set(), _types(b) or set()
            inter = ta & tb
            if "integer" in ta and "number" in tb:
                inter.add("integer")
            if "integer" in tb and "number" in ta:
                inter.add("integer")
            out[k] = sorted(inter)
        elif k in _MIN_KEYS or k in ("minimum",):
            out[k] = max(va, vb)
        elif k in _MAX_KEYS or k in ("maximum",):
            out[k] = min(va, vb)
        elif k in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(va, bool) and not isinstance(vb, bool):
            out[k] = max(va, vb) if k == "exclusiveMinimum" else min(va, vb)
        elif k == "required":
            out[k] = list(dict.fromkeys(list(va) + list(vb)))
        elif k == "enum":
            out[k] = [x for x in va if any(json_equal(x, y) for y in vb)]
        elif k == "const":
            out["enum"] = [va] if json_equal(va, vb) else []
            del out["const"]
        elif k in ("properties", "patternProperties"):
            m = dict(va)
            for pk, ps in vb.items():
                m[pk] = _and_schema(m[pk], ps) if pk in m else ps
            out[k] = m
        elif k in ("additionalProperties", "items", "additionalItems", "propertyNames", "contains",
                   "unevaluatedProperties", "unevaluatedItems") and not isinstance(va, list) \
                and not isinstance(vb, list):
            out[k] = _and_schema(va, vb)
        elif k in ("anyOf", "oneOf"):
            if len(va) * len(vb) <= 64:
                out[k] = [_and_schema(x, y) for x in va for y in vb]
            else:
                note(k)
        elif k in ("uniqueItems",):
            out[k] = bool(va) or bool(vb)
        elif k in ANNOTATIONS:
            continue
        else:
            note(k)  # first one kept in the automaton, the validator checks both
    # keys one side declares are constrained by the other side's additional/pattern properties
    for side, other in ((a, b), (b, a)):
        if "additionalProperties" in other or "patternProperties" in other:
            m = dict(out.get("properties") or {})
            for pk in (side.get("properties") or {}):
                if pk not in (other.get("properties") or {}):
                    m[pk] = _and_schema(m.get(pk, True), _schema_for_key(other, pk))
            if m:
                out["properties"] = m
    if "enum" in out and "const" in out:
        out["enum"] = [x for x in out["enum"] if json_equal(x, out["const"])]
        del out["const"]
    return out


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
