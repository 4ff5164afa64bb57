"""JSON Schema and pydantic constraints: a translated pattern plus a semantic validator.

>>> c = Constraint.from_json_schema({"type": "object", "properties": {"n": {"type": "integer"}}})
>>> c.parse('{"n":3}')
{'n': 3}

The pattern (our own translation, ``json_translate``) carries every regular keyword; the
validator (``validators.json_schema``) checks the full schema on each candidate and names the
offending character spans; ``report`` says which keywords went where.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import InputError, SchemaError, UnsatisfiableError
from .base import RegexConstraint
from .json_merge import _schema_for_key, canonical_dumps, merge
from .json_refs import RefContext
from .json_translate import Translator

__all__ = ["WHITESPACE", "JsonSchemaConstraint", "from_json_schema", "from_pydantic"]

WHITESPACE = {"compact": "", "flexible": r"[ \t\n\r]*"}


class JsonSchemaConstraint(RegexConstraint):
    """A JSON value valid under a JSON Schema (or a pydantic model); ``parse`` returns the value.

    Parameters
    ----------
    schema : dict, bool or str
        The JSON Schema (draft 4 to 2020-12; ``$schema`` picks the draft, default 2020-12).
    whitespace : {"compact", "flexible"}
        ``compact``: canonical compact JSON (no whitespace); ``flexible``: JSON whitespace
        allowed between tokens.
    extra_properties : bool
        Where a schema leaves ``additionalProperties`` unset, allow undeclared keys (JSON Schema
        semantics). Default False: only declared (and pattern) keys are generated.
    max_depth : int
        How many times one recursive ``$ref`` may re-enter itself on a path (deeper: cut off).
    any_depth : int
        Nesting depth of values the schema leaves unconstrained (``{}``/``true``).
    max_repeat : int
        Counted repetitions above this (maxItems, long maxLength) are checked by the validator.
    max_pattern_chars : int
        Bound on the pattern size; larger schemas raise ``SchemaError``.
    post_hoc : bool
        Accept keywords the automaton cannot carry at all (``$dynamicRef``, ``$recursiveRef``) and
        enforce them by validation only.
    resources : mapping of str to schema, optional
        Documents for non-local ``$ref`` URIs (nothing is fetched).
    validators : iterable of Validator
        Extra semantic checks.
    """

    dfa_builder = "outlines"  # the translation still emits Rust-syntax regex text (until it builds automata.ir)

    def __init__(self, schema: Any, *, whitespace: str = "compact", extra_properties: bool = False,
                 max_depth: int = 3, any_depth: int = 2, max_repeat: int = 64, max_pattern_chars: int = 2_000_000,
                 post_hoc: bool = False, resources: Mapping[str, Any] | None = None, validators=(),
                 model: Any = None):
        from ..validators.json_schema import JsonSchemaValidator, PydanticValidator

        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as e:
                raise SchemaError(f"the schema string is not JSON: {e}", pointer="") from None
        if whitespace not in WHITESPACE:
            raise InputError(f"whitespace must be one of {sorted(WHITESPACE)}, got {whitespace!r}")
        for name, v in (("max_depth", max_depth), ("any_depth", any_depth), ("max_repeat", max_repeat)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"{name} must be a non-negative int, got {v!r}")
        self.schema = schema
        self.model = model
        self.whitespace = whitespace
        self._refs = RefContext(schema, resources)
        self._tr = Translator(self._refs, whitespace=WHITESPACE[whitespace], extra_properties=extra_properties,
                              max_depth=max_depth, any_depth=any_depth, max_repeat=max_repeat,
                              max_pattern_chars=max_pattern_chars, post_hoc=post_hoc)
        try:
            pattern = self._tr.translate()
        except RecursionError:
            raise SchemaError("the schema nests too deeply to compile; lower max_depth", pointer="") from None
        if pattern is None:
            raise UnsatisfiableError("no JSON value satisfies this schema (contradictory keywords, a false "
                                     "schema, or a recursion that never ends within max_depth): fix the schema "
                                     "or raise max_depth")
        if len(pattern) > max_pattern_chars:
            raise SchemaError(f"the schema compiles to a {len(pattern)}-character pattern (limit "
                              f"{max_pattern_chars}): simplify it or lower max_depth/any_depth", pointer="")
        semantic = PydanticValidator(model) if model is not None else \
            JsonSchemaValidator(schema, self._refs.registry, self._refs.cls)
        super().__init__(pattern, validators=(semantic, *tuple(validators)))

    @property
    def report(self) -> dict:
        """Which keywords the automaton enforces, which the validator checks, which are ignored."""
        rep = {k: sorted(v) for k, v in self._tr.report.items()}
        rep["validator"] = sorted(set(rep["validator"]))
        return rep

    def __repr__(self) -> str:
        what = self.model.__name__ if self.model is not None else "schema"
        return f"JsonSchemaConstraint({what}, pattern={len(self.pattern)} chars)"

    def parse(self, text: str) -> Any:
        """The value: ``json.loads(text)``, or a validated model instance for ``from_pydantic``."""
        if self.model is not None:
            return self.model.model_validate_json(text)
        return json.loads(text)

    def canonical_text(self, value: Any) -> str:
        """Compact JSON of ``value`` with object keys in schema order (the form the pattern generates)."""
        if self.model is not None and hasattr(value, "model_dump"):
            value = value.model_dump(mode="json", by_alias=True)
        ordered = self._order(value, self.schema, self._refs.root_scope(), ())
        return canonical_dumps(ordered)

    def _order(self, value: Any, schema: Any, scope: Any, stack: tuple) -> Any:
        """``value`` with dict keys reordered as the translation lays them out."""
        if not isinstance(value, (dict, list)):
            return value
        try:
            schema, scope, stack = self._tr.flatten(schema, scope, stack, "")
        except SchemaError:
            return value
        if isinstance(schema, bool):
            return value
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k != key}
                for branch in schema[key]:
                    b, _, bstack = self._tr.flatten(branch, scope, stack, "")
                    if b is False:
                        continue
                    combined = rest if b is True else merge(rest, b, lambda kw: None)
                    if self._refs.is_valid(value, combined, scope):
                        return self._order(value, combined, scope, bstack)
                return value
        if isinstance(value, dict):
            props = list((schema.get("properties") or {}).keys())
            props += [r for r in schema.get("required", []) if r not in props]
            keys = [k for k in props if k in value] + [k for k in value if k not in props]
            return {k: self._order(value[k], _schema_for_key(schema, k), scope, stack) for k in keys}
        items = schema.get("items", True)
        if self._refs.draft >= 2020:
            prefix, rest_schema = list(schema.get("prefixItems", [])), items
        elif isinstance(items, list):
            prefix, rest_schema = items, schema.get("additionalItems", True)
        else:
            prefix, rest_schema = [], items
        return [self._order(v, prefix[i] if i < len(prefix) else rest_schema, scope, stack)
                for i, v in enumerate(value)]


def from_json_schema(schema: Any, **kw: Any) -> JsonSchemaConstraint:
    """``Constraint.from_json_schema``: see ``JsonSchemaConstraint`` for the options."""
    return JsonSchemaConstraint(schema, **kw)


def from_pydantic(model: Any, **kw: Any) -> JsonSchemaConstraint:
    """``Constraint.from_pydantic``: the model's JSON Schema, validated by the model; parse -> instance.

    Raises
    ------
    InputError
        ``model`` is not a pydantic ``BaseModel`` subclass.
    """
    try:
        from pydantic import BaseModel
    except ImportError as e:  # pragma: no cover - pydantic is a dependency
        raise InputError("pydantic is not installed") from e
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise InputError(f"from_pydantic needs a pydantic BaseModel subclass, got {model!r}")
    try:
        schema = model.model_json_schema()
    except Exception as e:
        raise SchemaError(f"pydantic could not build a JSON Schema for {model.__name__}: {e}") from None
    return JsonSchemaConstraint(schema, model=model, **kw)
