"""JSON Schema -> regex over canonical JSON text (our own translator, drafts 4 to 2020-12).

Everything regular goes into the pattern; each keyword occurrence is recorded as enforced by
the ``automaton``, by the ``validator`` (post hoc, with the full schema) or ``ignored``
(annotations, unknown keywords/formats). ``None`` stands for the empty language throughout:
a ``false`` schema, a contradiction, or a recursive ``$ref`` cut at the depth bound.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from ..errors import SchemaError
from . import json_regex as R
from .json_merge import ANNOTATIONS, merge
from .json_pattern import PatternUnsupported, pattern_to_string_body
from .json_refs import RefContext

__all__ = ["AUTOMATON", "UNSUPPORTED", "VALIDATOR", "Translator"]

AUTOMATON = frozenset({"type", "enum", "const", "properties", "required", "additionalProperties",
                       "patternProperties", "items", "prefixItems", "additionalItems", "minItems", "maxItems",
                       "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                       "exclusiveMaximum", "anyOf", "oneOf", "allOf", "$ref", "propertyNames", "multipleOf",
                       "minProperties", "maxProperties"})
VALIDATOR = frozenset({"uniqueItems", "contains", "minContains", "maxContains", "dependentRequired",
                       "dependentSchemas", "dependencies", "if", "then", "else", "not", "unevaluatedProperties",
                       "unevaluatedItems"})
UNSUPPORTED = frozenset({"$dynamicRef", "$recursiveRef"})
_ALL_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


class Translator:
    """One schema -> one pattern. Options as in ``from_json_schema``."""

    def __init__(self, refs: RefContext, *, whitespace: str = "", extra_properties: bool = False,
                 max_depth: int = 3, any_depth: int = 2, max_repeat: int = 64, max_pattern_chars: int = 2_000_000,
                 post_hoc: bool = False):
        self.refs = refs
        self.draft = refs.draft
        self.ws = whitespace
        self.extra_properties = extra_properties
        self.max_depth = max_depth
        self.any_depth = any_depth
        self.max_repeat = max_repeat
        self.max_chars = max_pattern_chars
        self.post_hoc = post_hoc
        self.report: dict[str, set] = {"automaton": set(), "validator": set(), "ignored": set()}
        self._size = 0
        self._any_cache: dict[int, str] = {}

    # ------------------------------------------------------------------ bookkeeping
    def _auto(self, kw: str) -> None:
        self.report["automaton"].add(kw)

    def _val(self, kw: str) -> None:
        self.report["validator"].add(kw)

    def _grow(self, piece: str | None, where: str) -> str | None:
        if piece is not None:
            self._size += len(piece)
            if self._size > self.max_chars * 25 or len(piece) > self.max_chars:
                raise SchemaError(f"the schema is too large to compile into an automaton (pattern over "
                                  f"{self.max_chars} characters near {where or '/'}): lower max_depth/any_depth, "
                                  f"bound fewer optional properties, or split the schema", pointer=where or "/")
        return piece

    # ------------------------------------------------------------------ entry
    def translate(self) -> str | None:
        """The whole schema -> pattern (``None``: empty language)."""
        return self.node(self.refs.root, self.refs.root_scope(), (), "")

    def any_value(self, depth: int | None = None) -> str:
        """Any JSON value nested at most ``depth`` containers deep."""
        d = self.any_depth if depth is None else depth
        if d not in self._any_cache:
            scal = R.alt([R.NULL, R.BOOLEAN, R.NUMBER, R.STRING])
            if d <= 0:
                self._any_cache[d] = scal
            else:
                inner = self.any_value(d - 1)
                w = self.ws
                arr = r"\[" + w + "(?:" + inner + "(?:" + w + "," + w + inner + ")*)?" + w + r"\]"
                kv = R.STRING + w + ":" + w + inner
                obj = r"\{" + w + "(?:" + kv + "(?:" + w + "," + w + kv + ")*)?" + w + r"\}"
                self._any_cache[d] = R.alt([scal, arr, obj])
        return self._any_cache[d]

    # ------------------------------------------------------------------ schema nodes
    def flatten(self, schema: Any, scope: Any, stack: tuple, ptr: str) -> tuple[Any, Any, tuple]:
        """Resolve ``$ref`` and merge ``allOf`` at the top of ``schema`` -> (schema, scope, stack).

        Returns ``False`` as the schema when a recursive reference passes the depth bound.
        """
        if isinstance(schema, bool):
            return schema, scope, stack
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, got {type(schema).__name__}", pointer=ptr)
        scope = self.refs.enter(schema, scope)
        for kw in UNSUPPORTED:
            if kw in schema:
                if not self.post_hoc:
                    raise SchemaError(f"keyword {kw!r} (dynamic scoping) is not supported by the automaton; pass "
                                      f"post_hoc=True to enforce it by validation only", pointer=ptr + "/" + kw)
                self._val(kw)
                schema = {k: v for k, v in schema.items() if k != kw}
        if "$ref" in schema:
            self._auto("$ref")
            target, tscope, key = self.refs.lookup(schema["$ref"], scope, ptr + "/$ref")
            if stack.count(key) >= self.max_depth:
                return False, scope, stack
            stack = stack + (key,)
            target, tscope, stack = self.flatten(target, tscope, stack, ptr + "/$ref")
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            if self.draft <= 7 or not any(k not in ANNOTATIONS for k in siblings):
                return target, tscope, stack
            if target is False:
                return False, scope, stack
            if target is True:
                return self.flatten(siblings, scope, stack, ptr)
            schema = {**siblings, "allOf": [target] + list(siblings.get("allOf", []))}
        if "allOf" in schema:
            self._auto("allOf")
            base = {k: v for k, v in schema.items() if k != "allOf"}
            for i, sub in enumerate(schema["allOf"]):
                flat, _, stack = self.flatten(sub, scope, stack, f"{ptr}/allOf/{i}")
                if flat is False:
                    return False, scope, stack
                if flat is True:
                    continue
                base = merge(base, flat, self._val)
            if "allOf" in base or "$ref" in base:
                return self.flatten(base, scope, stack, ptr)
            schema = base
        return schema, scope, stack

    def node(self, schema: Any, scope: Any, stack: tuple, ptr: str) -> str | None:
        """Regex for the JSON text of any instance of ``schema``."""
        schema, scope, stack = self.flatten(schema, scope, stack, ptr)
        if schema is True:
            return self.any_value()
        if schema is False:
            return None
        for key in ("anyOf", "oneOf"):
            if key in schema:
                self._auto(key)
                if key == "oneOf":
                    self._val("oneOf")
                rest = {k: v for k, v in schema.items() if k != key}
                opts = []
                for i, branch in enumerate(schema[key]):
                    b, _, bstack = self.flatten(branch, scope, stack, f"{ptr}/{key}/{i}")
                    if b is False:
                        continue
                    combined = rest if b is True else merge(rest, b, self._val)
                    opts.append(self.node(combined, scope, bstack, f"{ptr}/{key}/{i}"))
                return self._grow(R.alt(opts), ptr)
        for kw in schema:
            if kw in VALIDATOR:
                self._val(kw)
            elif kw not in AUTOMATON and kw not in UNSUPPORTED:
                self.report["ignored"].add(kw)
        if "not" in schema and schema["not"] in (True, {}):
            return None
        types = self._types(schema)
        if "enum" in schema or "const" in schema:
            return self._grow(self._enum(schema, scope, types, ptr), ptr)
        parts = []
        for t in types:
            if t == "integer" and "number" in types:
                continue
            parts.append(getattr(self, "_t_" + t)(schema, scope, stack, ptr))
        return self._grow(R.alt(parts), ptr)

    def _types(self, schema: dict) -> list[str]:
        t = schema.get("type")
        if t is None:
            return list(_ALL_TYPES)
        self._auto("type")
        ts = {t} if isinstance(t, str) else set(t)
        return [x for x in _ALL_TYPES if x in ts]

    def _enum(self, schema: dict, scope: Any, types: list, ptr: str) -> str | None:
        values = [schema["const"]] if "const" in schema else list(schema["enum"])
        self._auto("const" if "const" in schema else "enum")
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        ok = [v for v in values if self.refs.is_valid(v, rest, scope)]
        return R.alt(R.value_literal(v, self.ws) for v in ok)

    # ------------------------------------------------------------------ scalar types
    def _t_null(self, s, scope, stack, ptr):
        return R.NULL

    def _t_boolean(self, s, scope, stack, ptr):
        return R.BOOLEAN

    def _bounds(self, s: dict) -> tuple:
        """(lo, lo_strict, hi, hi_strict) as Decimals (draft 4 boolean exclusives included)."""
        lo = hi = None
        lo_s = hi_s = False
        for key, val in s.items():
            if isinstance(val, bool) or not isinstance(val, (int, float)):
                continue
            d = Decimal(str(val)) if isinstance(val, float) else Decimal(val)
            if key == "minimum" and (lo is None or d > lo):
                lo, lo_s = d, bool(s.get("exclusiveMinimum") is True)
            elif key == "exclusiveMinimum" and (lo is None or d >= lo):
                lo, lo_s = d, True
            elif key == "maximum" and (hi is None or d < hi):
                hi, hi_s = d, bool(s.get("exclusiveMaximum") is True)
            elif key == "exclusiveMaximum" and (hi is None or d <= hi):
                hi, hi_s = d, True
        for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if k in s:
                self._auto(k)
        return lo, lo_s, hi, hi_s

    def _t_integer(self, s, scope, stack, ptr):
        lo, lo_s, hi, hi_s = self._bounds(s)
        ilo = None if lo is None else (math.floor(lo) + 1 if lo_s else math.ceil(lo))
        ihi = None if hi is None else (math.ceil(hi) - 1 if hi_s else math.floor(hi))
        m = s.get("multipleOf")
        if m is not None:
            return self._multiple_int(m, ilo, ihi)
        return R.signed_int_range(ilo, ihi)

    def _multiple_int(self, m, ilo, ihi) -> str | None:
        dm = Decimal(str(m))
        if ilo is not None and ihi is not None and ihi - ilo <= 256:
            self._auto("multipleOf")
            vals = [v for v in range(ilo, ihi + 1) if Decimal(v) % dm == 0]
            return R.alt(str(v) for v in vals)
        if dm == dm.to_integral_value() and ilo is None and ihi is None and 10 ** 3 % int(dm) == 0:
            self._auto("multipleOf")
            k = next(k for k in range(4) if 10 ** k % int(dm) == 0)
            if k == 0:
                return R.INTEGER
            tails = [str(v).zfill(k) for v in range(0, 10 ** k, int(dm))]
            return R.alt(["0", "-?" + "(?:[1-9][0-9]*" + R.alt(tails) + "|" +
                          R.alt(t.lstrip("0") for t in tails if t.strip("0")) + ")"])
        self._val("multipleOf")
        return R.signed_int_range(ilo, ihi)

    def _t_number(self, s, scope, stack, ptr):
        lo, lo_s, hi, hi_s = self._bounds(s)
        m = s.get("multipleOf")
        if m is not None:
            dm = Decimal(str(m))
            if dm == 1 or (dm == dm.to_integral_value() and lo is None and hi is None):
                ilo = None if lo is None else (math.floor(lo) + 1 if lo_s else math.ceil(lo))
                ihi = None if hi is None else (math.ceil(hi) - 1 if hi_s else math.floor(hi))
                return self._multiple_int(m, ilo, ihi)
            exp = dm.normalize().as_tuple()
            if lo is None and hi is None and exp.digits == (1,) and exp.exponent < 0:
                self._auto("multipleOf")
                return r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]{1,%d})?" % -exp.exponent
            self._val("multipleOf")
        if lo is None and hi is None:
            return R.NUMBER
        return R.decimal_range(lo, lo_s, hi, hi_s)

    def _t_string(self, s, scope, stack, ptr):
        return None if (b := self.string_body(s, ptr)) is None else '"' + b + '"'

    def string_body(self, s: dict, ptr: str) -> str | None:
        """Regex of the canonical body (between the quotes) of strings valid under ``s``."""
        lo = int(s.get("minLength", 0))
        hi = s.get("maxLength")
        hi = None if hi is None else int(hi)
        if hi is not None and hi < lo:
            return None
        body = None
        fmt = s.get("format")
        if isinstance(fmt, str):
            if fmt in R.FORMATS:
                body, semantic = R.FORMATS[fmt]
                self._auto("format")
                if semantic:
                    self._val("format")
            elif fmt in ("regex", "json-pointer", "relative-json-pointer", "uri-reference", "iri", "iri-reference",
                         "idn-email", "idn-hostname", "uri-template", "duration"):
                self._val("format")
            else:
                self.report["ignored"].add("format:" + fmt)
        if "pattern" in s:
            if body is None:
                try:
                    body = pattern_to_string_body(s["pattern"])
                    self._auto("pattern")
                    if body is None:
                        return None
                except PatternUnsupported:
                    self._val("pattern")
                except re.error as e:
                    raise SchemaError(f"invalid regex in 'pattern': {e}", pointer=ptr + "/pattern") from None
            else:
                self._val("pattern")
        if body is not None:
            if lo or hi is not None:
                self._val("minLength" if lo else "maxLength")
            return body
        cap = self.max_repeat * 4
        if lo > cap or (hi is not None and hi > cap):
            self._val("maxLength")
            hi = None
            lo = min(lo, cap)
        for k in ("minLength", "maxLength"):
            if k in s:
                self._auto(k)
        if lo == 0 and hi is None:
            return R.STRING_CHAR + "*"
        return R.repeat(R.PLAIN_CHAR, lo, hi)

    # ------------------------------------------------------------------ containers
    def _t_array(self, s, scope, stack, ptr):
        w = self.ws
        sep = w + "," + w
        lo = int(s.get("minItems", 0))
        hi = s.get("maxItems")
        hi = None if hi is None else int(hi)
        if hi is not None and hi < lo:
            return None
        items = s.get("items", True)
        if self.draft >= 2020:
            prefix = list(s.get("prefixItems", []))
            rest_schema = items
        elif isinstance(items, list):
            prefix, rest_schema = list(items), s.get("additionalItems", True)
        else:
            prefix, rest_schema = [], items
        for k in ("items", "prefixItems", "additionalItems", "minItems", "maxItems"):
            if k in s:
                self._auto(k)
        if s.get("uniqueItems") is True and hi is not None and hi <= 1:
            self._auto("uniqueItems")
        if hi is not None and hi < len(prefix):
            prefix = prefix[:hi]
        pre = [self.node(p, scope, stack, f"{ptr}/prefixItems/{i}") for i, p in enumerate(prefix)]
        for i, p in enumerate(pre):
            if p is None:  # no element can sit here: the array stops before it
                if lo > i:
                    return None
                pre, hi = pre[:i], i
                break
        rest = self.node(rest_schema, scope, stack, ptr + "/items") if (hi is None or hi > len(pre)) else None
        a = max(0, lo - len(pre))
        b = None if hi is None else hi - len(pre)
        if rest is None:
            if a > 0:
                return None
            b = 0
        if b is not None and (b > self.max_repeat or b * len(rest or "") > self.max_chars // 4):
            self._val("maxItems")
            b = None
        if a * len(rest or "") > self.max_chars // 4 or a > self.max_repeat:
            self._val("minItems")
            a = min(a, 1)
        if not pre:
            if b == 0:
                body = ""
            else:
                first = rest
                more = R.repeat(sep + rest, max(0, a - 1), None if b is None else b - 1)
                body = first + more if a >= 1 else R.group(first + more) + "?"
            return r"\[" + w + body + w + r"\]"
        cur = "" if b == 0 else R.repeat(sep + rest, a, b)
        for j in range(len(pre), 0, -1):
            term = (sep if j > 1 else "") + pre[j - 1] + cur
            cur = term if j <= lo else R.group(term) + "?"
        return r"\[" + w + cur + w + r"\]"

    def _t_object(self, s, scope, stack, ptr):
        from .json_objects import object_regex

        return object_regex(self, s, scope, stack, ptr)
