"""JSON Schema and pydantic constraints: the schema's language as IR nodes plus a semantic validator.

>>> c = Constraint.from_json_schema({"type": "object", "properties": {"n": {"type": "integer"}}})
>>> c.parse('{"n":3}')
{'n': 3}

The schema is first normalised (``json_normalize``: ``$ref`` resolved into shared targets,
``allOf`` intersected, every keyword sorted once into automaton / validator / annotation),
then emitted as ``automata.ir`` nodes (``json_emit``); the validator
(``validators.json_schema``) checks the full schema on each candidate and names the offending
character spans; ``report`` says which keywords went where and where the automaton is bounded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..automata import ir
from ..errors import InputError, SchemaError, UnsatisfiableError
from .base import RegexConstraint
from .json_emit import Emitter
from .json_model import ArrayT, Nothing, ObjectT, Ref, Schema, Union, admits, canonical_dumps
from .json_normalize import MAX_NESTING, Normaliser
from .json_refs import RefContext

__all__ = ["WHITESPACE", "JsonSchemaConstraint", "from_json_schema", "from_pydantic"]

WHITESPACE = ("compact", "flexible")


class JsonSchemaConstraint(RegexConstraint):
    """A JSON value valid under a JSON Schema (or a pydantic model); ``parse`` returns the value.

    Parameters
    ----------
    schema : dict, bool or str
        The JSON Schema (draft 4 to 2020-12; ``$schema`` picks the draft, default 2020-12).
    whitespace : {"compact", "flexible"}
        ``compact``: canonical compact JSON (no whitespace); ``flexible``: JSON whitespace
        allowed between tokens.
    max_whitespace : int, optional
        With ``flexible``: the longest whitespace run between two tokens (default unbounded).
    extra_properties : bool
        Where a schema leaves ``additionalProperties`` unset, allow undeclared keys (JSON Schema
        semantics), before, between or after the declared ones. Default False: only declared (and
        pattern) keys are generated.
    property_order : {"schema", "any"}
        ``schema``: declared properties in the order the schema lists them (canonical text: what
        generation wants). ``any``: members in any order, as JSON Schema allows (what checking text
        written elsewhere wants, ``accepts``); which members are present is then left to the validator.
    max_depth : int
        How many recursive ``$ref`` entries one path may make (a tree schema: its depth; deeper values
        are outside the automaton, and ``report["bounded"]`` says so).
    any_depth : int
        Nesting depth of values the schema leaves unconstrained (``{}``/``true``), also listed there.
    max_repeat : int
        Counted repetitions above this (maxItems, maxLength above 4x this) are checked by the validator.
    max_nesting : int
        Deepest schema nesting accepted (a deeper one raises ``SchemaError`` naming the pointer).
    budget : automata.ir_dfa.Budget, optional
        Limits of the automaton build (states, derivative steps).
    formats : {"assert", "annotate"}
        ``assert`` (default): every ``format`` is enforced, by the automaton where it has a form and by the
        validator's checker (``validators.json_schema.checked_formats``); a format nothing checks is listed
        in ``report["unchecked_formats"]``. ``annotate``: formats are annotations only, as JSON Schema
        2020-12's default vocabulary says (all listed as unchecked).
    post_hoc : bool
        Accept keywords the automaton cannot carry at all (``$dynamicRef``, ``$recursiveRef``) and
        enforce them by validation only.
    resources : mapping of str to schema, optional
        Documents for non-local ``$ref`` URIs (nothing is fetched).
    validators : iterable of Validator
        Extra semantic checks.
    """

    def __init__(self, schema: Any, *, whitespace: str = "compact", max_whitespace: int | None = None,
                 extra_properties: bool = False, property_order: str = "schema", max_depth: int = 3,
                 any_depth: int = 2, max_repeat: int = 64, max_nesting: int = MAX_NESTING,
                 budget: Any = None, formats: str = "assert", post_hoc: bool = False,
                 resources: Mapping[str, Any] | None = None,
                 validators=(), model: Any = None):
        from ..validators.json_schema import JsonSchemaValidator, PydanticValidator

        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as e:
                raise SchemaError(f"the schema string is not JSON: {e}", pointer="") from None
        if whitespace not in WHITESPACE:
            raise InputError(f"whitespace must be one of {sorted(WHITESPACE)}, got {whitespace!r}")
        if formats not in ("assert", "annotate"):
            raise InputError(f"formats must be 'assert' or 'annotate', got {formats!r}")
        if property_order not in ("schema", "any"):
            raise InputError(f"property_order must be 'schema' or 'any', got {property_order!r}")
        for name, v in (("max_depth", max_depth), ("any_depth", any_depth), ("max_repeat", max_repeat),
                        ("max_nesting", max_nesting), ("max_whitespace", 0 if max_whitespace is None else
                                                       max_whitespace)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"{name} must be a non-negative int, got {v!r}")
        self.schema = schema
        self.model = model
        self.whitespace = whitespace
        self._refs = RefContext(schema, resources, max_nesting=max_nesting)
        norm = Normaliser(self._refs, post_hoc=post_hoc, max_nesting=max_nesting, assert_formats=formats == "assert")
        emitter = Emitter(norm.report, flexible=whitespace == "flexible", max_whitespace=max_whitespace,
                          extra_properties=extra_properties, property_order=property_order, max_depth=max_depth,
                          any_depth=any_depth, max_repeat=max_repeat)
        try:
            self.typed = norm.normalise()
            node = emitter.emit(self.typed)
        except RecursionError:
            raise SchemaError("the schema nests too deeply to compile: lower max_depth or flatten it",
                              pointer="") from None
        self._report = norm.report
        if node is ir.NOTHING:
            why = self.typed.reason if isinstance(self.typed, Nothing) else \
                "contradictory keywords, a false schema, or a recursion that never ends within max_depth"
            raise UnsatisfiableError(f"no JSON value satisfies this schema ({why}): fix the schema or raise "
                                     f"max_depth")
        semantic = PydanticValidator(model) if model is not None else \
            JsonSchemaValidator(schema, self._refs.registry, self._refs.cls, check_formats=formats == "assert")
        what = f"JSON Schema {model.__name__}" if model is not None else "JSON Schema"
        super().__init__(node=node, validators=(semantic, *tuple(validators)), budget=budget, what=what)

    @property
    def report(self) -> dict:
        """Where each keyword is enforced (``automaton``, ``validator``, ``ignored``), where the automaton
        is cut short of the schema (``bounded``), and the formats nothing checks (``unchecked_formats``)."""
        return self._report.as_dict()

    def __repr__(self) -> str:
        what = self.model.__name__ if self.model is not None else "schema"
        return f"JsonSchemaConstraint({what}, ir nodes={ir.dag_size(self.node)})"

    def parse(self, text: str) -> Any:
        """The value: ``json.loads(text)``, or a validated model instance for ``from_pydantic``."""
        if self.model is not None:
            return self.model.model_validate_json(text)
        return json.loads(text)

    def canonical_text(self, value: Any) -> str:
        """Compact JSON of ``value`` with object keys in schema order (the form the automaton generates)."""
        if self.model is not None and hasattr(value, "model_dump"):
            value = value.model_dump(mode="json", by_alias=True)
        return canonical_dumps(_order(value, self.typed, 0))


def _order(value: Any, s: Schema, depth: int) -> Any:
    """``value`` with dict keys reordered as the automaton lays them out (declared first, in order)."""
    if not isinstance(value, (dict, list)) or depth > 200:
        return value
    while isinstance(s, Ref):
        s = s.slot.schema
    if isinstance(s, Union):
        s = next((o for o in s.options if admits(o, value)), None)
        return value if s is None else _order(value, s, depth + 1)
    if isinstance(value, dict) and isinstance(s, ObjectT):
        names = list(s.properties) + [r for r in s.required if r not in s.properties]
        keys = [k for k in names if k in value] + [k for k in value if k not in names]
        return {k: value[k] if (sub := s.schema_for(k)) is None else _order(value[k], sub, depth + 1) for k in keys}
    if isinstance(value, list) and isinstance(s, ArrayT):
        return [_order(v, s.prefix[i] if i < len(s.prefix) else s.items, depth + 1) if
                (i < len(s.prefix) or s.items is not None) else v for i, v in enumerate(value)]
    return value


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
