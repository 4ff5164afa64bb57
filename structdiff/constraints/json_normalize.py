"""JSON Schema -> the typed, resolved form of ``json_model`` (normalise before translating).

Every keyword is handled here, once: ``KEYWORDS`` says which ones shape the automaton, which
only the validator can check, which are annotations; anything the automaton cannot carry and
the validator should not silently take (dynamic scoping) is refused here with a ``SchemaError``
naming the JSON pointer. ``$ref`` targets are built once into shared ``RefSlot`` objects (a
recursive reference stays a cycle between slots; the emitter bounds it, and says so in the
report). ``allOf`` is intersected (``json_intersect``). Nesting is bounded explicitly
(``max_nesting``), never by Python's recursion limit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ..errors import SchemaError
from .json_intersect import Intersector, union
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
    RefSlot,
    Report,
    Schema,
    StringT,
)
from .json_refs import RefContext
from .json_strings import FORMATS

__all__ = ["ANNOTATIONS", "KEYWORDS", "Normaliser", "normalise"]

ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
                         "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$schema", "$id", "id",
                         "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$vocabulary", "$defs", "definitions"})
# keyword -> the JSON type it constrains (None: any instance)
TYPED = {"minimum": "number", "maximum": "number", "exclusiveMinimum": "number", "exclusiveMaximum": "number",
         "multipleOf": "number", "minLength": "string", "maxLength": "string", "pattern": "string",
         "format": "string", "items": "array", "prefixItems": "array", "additionalItems": "array",
         "minItems": "array", "maxItems": "array", "properties": "object", "required": "object",
         "additionalProperties": "object", "patternProperties": "object", "propertyNames": "object",
         "minProperties": "object", "maxProperties": "object"}
# validator-only keywords that still say which type they constrain (so {"uniqueItems": true} is "any value,
# arrays checked by the validator", built like {"type": [...all types]} with an array branch)
TYPED_VALIDATOR = {"uniqueItems": "array", "contains": "array", "minContains": "array", "maxContains": "array",
                   "unevaluatedItems": "array", "dependentRequired": "object", "dependentSchemas": "object",
                   "dependencies": "object", "unevaluatedProperties": "object"}
APPLICATORS = ("type", "$ref", "allOf", "anyOf", "oneOf", "enum", "const", "not")
VALIDATOR_ONLY = frozenset({"uniqueItems", "contains", "minContains", "maxContains", "dependentRequired",
                            "dependentSchemas", "dependencies", "if", "then", "else", "unevaluatedProperties",
                            "unevaluatedItems"})
UNSUPPORTED = frozenset({"$dynamicRef", "$recursiveRef"})
KEYWORDS = frozenset(TYPED) | frozenset(APPLICATORS) | VALIDATOR_ONLY | UNSUPPORTED | ANNOTATIONS
ALL_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
MAX_NESTING = 64


def _esc(name: str) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


class Normaliser:
    """One schema -> one typed tree (``normalise``); ``report`` records where each keyword went.

    Parameters
    ----------
    refs : RefContext
        The root schema, its draft, validator class and offline ``$ref`` registry.
    post_hoc : bool
        Accept ``$dynamicRef``/``$recursiveRef`` and leave them to the validator.
    max_nesting : int
        Deepest schema nesting (sub-schemas and ``$ref`` chains) before a ``SchemaError``.
    max_nodes : int
        Bound on typed nodes built (intersections included) before a ``SchemaError``.
    assert_formats : bool
        ``format`` constrains (automaton and validator) or is an annotation (listed as unchecked).
    """

    def __init__(self, refs: RefContext, *, post_hoc: bool = False, max_nesting: int = MAX_NESTING,
                 max_nodes: int = 200_000, assert_formats: bool = True):
        self.refs = refs
        self.assert_formats = assert_formats
        self.draft = refs.draft
        self.post_hoc = post_hoc
        self.max_nesting = max_nesting
        self.max_nodes = max_nodes
        self.report = Report()
        self.slots: dict[Any, RefSlot] = {}
        self._count = 0
        self.meet = Intersector(self.report, self._tick)

    def _tick(self, ptr: str) -> None:
        self._count += 1
        if self._count > self.max_nodes:
            raise SchemaError(f"the schema is too large to normalise (over {self.max_nodes} typed nodes near "
                              f"{ptr or '/'}, intersections included): split it or simplify its allOf/anyOf",
                              pointer=ptr or "/")

    def normalise(self) -> Schema:
        """The typed form of the whole schema."""
        return self.build(self.refs.root, self.refs.root_scope(), "", 0)

    # ------------------------------------------------------------------ schema objects
    def build(self, schema: Any, scope: Any, ptr: str, depth: int) -> Schema:
        """Typed node for ``schema`` (a dict or bool) found at ``ptr``, resolved in ``scope``."""
        self._tick(ptr)
        if schema is True:
            return AnyValue(ptr)
        if schema is False:
            return Nothing(ptr, "false schema")
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, got {type(schema).__name__}", pointer=ptr)
        if depth > self.max_nesting:
            raise SchemaError(f"the schema nests more than {self.max_nesting} levels deep (sub-schemas and $ref "
                              f"chains) at {ptr or '/'}: flatten it, or pass a larger max_nesting",
                              pointer=ptr or "/")
        scope = self.refs.enter(schema, scope)
        schema = self._screen(schema, ptr)
        if "$ref" in schema and (self.draft <= 7 or all(k in ANNOTATIONS for k in schema if k != "$ref")):
            return self._ref(schema["$ref"], scope, ptr, depth)
        result: Schema = self._typed(schema, scope, ptr, depth)
        if "$ref" in schema:
            result = self.meet(result, self._ref(schema["$ref"], scope, ptr, depth), ptr)
        for i, sub in enumerate(schema.get("allOf", ())):
            self.report.auto("allOf")
            result = self.meet(result, self.build(sub, scope, f"{ptr}/allOf/{i}", depth + 1), ptr)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                self.report.auto(key)
                if key == "oneOf":
                    self.report.val("oneOf")  # exclusivity: the validator
                opts = [self.build(sub, scope, f"{ptr}/{key}/{i}", depth + 1) for i, sub in enumerate(schema[key])]
                result = self.meet(result, union(ptr + "/" + key, opts), ptr)
        if "enum" in schema or "const" in schema:
            result = self.meet(result, self._literal(schema, scope, ptr), ptr)
        if "not" in schema:
            if schema["not"] is True or schema["not"] == {}:
                self.report.auto("not")
                return Nothing(ptr + "/not", "'not' of a schema every value satisfies")
            self.report.val("not")
        return result

    def _screen(self, schema: dict, ptr: str) -> dict:
        """Sort the keywords into the report; refuse the unsupported ones (``post_hoc``: drop them)."""
        for kw in schema:
            if kw in UNSUPPORTED:
                if not self.post_hoc:
                    raise SchemaError(f"keyword {kw!r} (dynamic scoping) is not supported by the automaton; pass "
                                      f"post_hoc=True to enforce it by validation only", pointer=ptr + "/" + kw)
                self.report.val(kw)
            elif kw in VALIDATOR_ONLY:
                self.report.val(kw)
            elif kw not in KEYWORDS:
                self.report.ignored.add(kw)
        if self.post_hoc and any(kw in UNSUPPORTED for kw in schema):
            schema = {k: v for k, v in schema.items() if k not in UNSUPPORTED}
        return schema

    def _ref(self, ref: Any, scope: Any, ptr: str, depth: int) -> Schema:
        self.report.auto("$ref")
        target, tscope, key = self.refs.lookup(ref, scope, ptr + "/$ref")
        slot = self.slots.get(key)
        if slot is None:
            where = ref[1:] if isinstance(ref, str) and ref.startswith("#/") else ptr + "/$ref"
            slot = self.slots[key] = RefSlot(str(ref), where)
            slot.schema = self.build(target, tscope, where, depth + 1)
        elif slot.schema is None:
            slot.recursive = True
        return Ref(ptr, slot)

    def _literal(self, schema: dict, scope: Any, ptr: str) -> Schema:
        """``enum``/``const`` filtered by the rest of the same schema object (exact: jsonschema decides)."""
        kw = "const" if "const" in schema else "enum"
        self.report.auto(kw)
        values = [schema["const"]] if "const" in schema else list(schema["enum"])
        if "const" in schema and "enum" in schema:
            from .json_model import json_equal

            values = [v for v in values if any(json_equal(v, e) for e in schema["enum"])]
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        ok = tuple(v for v in values if self.refs.is_valid(v, rest, scope))
        return Literal(ptr + "/" + kw, ok) if ok else Nothing(ptr + "/" + kw, f"no {kw} value satisfies the schema")

    # ------------------------------------------------------------------ typed keywords
    def _typed(self, schema: dict, scope: Any, ptr: str, depth: int) -> Schema:
        t = schema.get("type")
        if t is None and not any(k in TYPED or k in TYPED_VALIDATOR for k in schema):
            return AnyValue(ptr)
        if t is not None:
            self.report.auto("type")
        ts = set(ALL_TYPES) if t is None else ({t} if isinstance(t, str) else set(t))
        opts: list[Schema] = []
        for name in ALL_TYPES:
            if name not in ts or (name == "integer" and "number" in ts):
                continue
            if name == "null":
                opts.append(NullT(ptr))
            elif name == "boolean":
                opts.append(BoolT(ptr))
            elif name in ("integer", "number"):
                opts.append(self._number(schema, ptr, name == "integer"))
            elif name == "string":
                opts.append(self._string(schema, ptr))
            elif name == "array":
                opts.append(self._array(schema, scope, ptr, depth))
            else:
                opts.append(self._object(schema, scope, ptr, depth))
        if not opts:
            return Nothing(ptr + "/type", "empty type list")
        return union(ptr, opts)

    def _number(self, s: dict, ptr: str, integer: bool) -> Schema:
        lo = hi = None
        lo_s = hi_s = False
        for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            val = s.get(key)
            if isinstance(val, bool) or not isinstance(val, (int, float)):
                continue
            self.report.auto(key)
            d = _dec(val)
            strict = key.startswith("exclusive") or s.get("exclusive" + key[:1].upper() + key[1:]) is True
            if key.endswith("inimum") and (lo is None or d > lo or (d == lo and strict)):
                lo, lo_s = d, strict
            elif key.endswith("aximum") and (hi is None or d < hi or (d == hi and strict)):
                hi, hi_s = d, strict
        m = s.get("multipleOf")
        mult = _dec(m) if isinstance(m, (int, float)) and not isinstance(m, bool) and m > 0 else None
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_s or hi_s))):
            return Nothing(ptr, "empty numeric range")
        return NumberT(ptr, lo, lo_s, hi, hi_s, integer, mult)

    def _string(self, s: dict, ptr: str) -> Schema:
        lo = int(s.get("minLength", 0))
        hi = s.get("maxLength")
        hi = None if hi is None else int(hi)
        if hi is not None and hi < lo:
            return Nothing(ptr, "maxLength below minLength")
        pats = (s["pattern"],) if isinstance(s.get("pattern"), str) else ()
        fmts = (s["format"],) if isinstance(s.get("format"), str) else ()
        if fmts and not self.assert_formats:
            self.report.unchecked_formats.update(fmts)
            fmts = ()
        for fmt in fmts:
            if fmt in _checked_formats():
                self.report.val("format")
            elif fmt not in FORMATS:  # an annotation only (the spec allows it): say so, never claim it
                self.report.unchecked_formats.add(fmt)
        return StringT(ptr, lo, hi, pats, fmts)

    def _array(self, s: dict, scope: Any, ptr: str, depth: int) -> Schema:
        lo = int(s.get("minItems", 0))
        hi = s.get("maxItems")
        hi = None if hi is None else int(hi)
        if hi is not None and hi < lo:
            return Nothing(ptr, "maxItems below minItems")
        items = s.get("items")
        if self.draft >= 2020 and not isinstance(items, list):
            prefix, rest, rest_key = list(s.get("prefixItems", [])), items, "items"
            pkey = "prefixItems"
        elif isinstance(items, list):
            prefix, rest, rest_key, pkey = items, s.get("additionalItems"), "additionalItems", "items"
        else:
            prefix, rest, rest_key, pkey = [], items, "items", "items"
        for k in ("items", "prefixItems", "additionalItems", "minItems", "maxItems"):
            if k in s:
                self.report.auto(k)
        pre = tuple(self.build(p, scope, f"{ptr}/{pkey}/{i}", depth + 1) for i, p in enumerate(prefix))
        rest_node = None if rest is None else self.build(rest, scope, f"{ptr}/{rest_key}", depth + 1)
        return ArrayT(ptr, lo, hi, pre, rest_node)

    def _object(self, s: dict, scope: Any, ptr: str, depth: int) -> Schema:
        for k in ("properties", "required", "additionalProperties", "patternProperties", "propertyNames",
                  "minProperties", "maxProperties"):
            if k in s:
                self.report.auto(k)
        props = {name: self.build(sub, scope, f"{ptr}/properties/{_esc(name)}", depth + 1)
                 for name, sub in (s.get("properties") or {}).items()}
        pats = tuple((p, self.build(sub, scope, f"{ptr}/patternProperties/{_esc(p)}", depth + 1))
                     for p, sub in (s.get("patternProperties") or {}).items())
        ap = s.get("additionalProperties")
        add = None if ap is None else self.build(ap, scope, ptr + "/additionalProperties", depth + 1)
        names = s.get("propertyNames")
        pn = None if names is None else self.meet(
            self.build(names, scope, ptr + "/propertyNames", depth + 1), StringT(ptr + "/propertyNames"), ptr)
        lo = int(s.get("minProperties", 0))
        hi = s.get("maxProperties")
        hi = None if hi is None else int(hi)
        required = tuple(dict.fromkeys(s.get("required") or ()))
        if hi is not None and hi < max(lo, len(required)):
            return Nothing(ptr, "maxProperties below minProperties or the required count")
        return ObjectT(ptr, props, required, pats, add, pn, lo, hi)


@lru_cache(maxsize=1)
def _checked_formats() -> frozenset:
    from ..validators.json_schema import checked_formats

    return checked_formats()


def _dec(v: float) -> Decimal:
    try:
        return Decimal(str(v)) if isinstance(v, float) else Decimal(v)
    except InvalidOperation:  # pragma: no cover - JSON numbers are finite
        return Decimal(0)


def normalise(refs: RefContext, **kw: Any) -> tuple[Schema, Report]:
    """``Normaliser(refs, **kw).normalise()`` and its report."""
    n = Normaliser(refs, **kw)
    return n.normalise(), n.report
