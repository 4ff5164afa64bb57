"""Tier 1: generate_json with the tiny random model — every output validates, repairs converge."""

from __future__ import annotations

import json
from typing import Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, field_validator

import structdiff
from structdiff import Constraint, UnsatisfiableError
from structdiff.api import Generator

pytestmark = pytest.mark.tier1
FAST = {"max_passes": 12}  # fewer passes per canvas: validity does not depend on it, test time does

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 6},
                                      "age": {"type": "integer", "minimum": 18, "maximum": 99},
                                      "ok": {"type": "boolean"}}, "required": ["name", "age"]},
    {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "minItems": 1,
     "maxItems": 3},
    {"anyOf": [{"type": "null"}, {"type": "string", "format": "date"}]},
    {"$defs": {"t": {"type": "object", "properties": {"v": {"enum": [1, 2]}, "kids": {"type": "array",
                                                                                    "items": {"$ref": "#/$defs/t"},
                                                                                    "maxItems": 2}},
                     "required": ["v"]}}, "$ref": "#/$defs/t"},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_output_validates(tiny_model, schema):
    value = structdiff.generate_json(schema, "Give me JSON:", model=tiny_model, max_tokens=64, seed=1, **FAST)
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())


class RejectFirst:
    """Flags the first item of the first candidate it sees (a validator that forces one repair round)."""

    name = "reject-first"

    def __init__(self):
        self.calls = 0

    def check(self, text):
        from structdiff.constraints.base import Violation

        self.calls += 1
        return [Violation(1, 4, "first item rejected once")] if self.calls == 1 else []


def test_semantic_violations_are_repaired(tiny_model):
    schema = {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True, "minItems": 3,
              "maxItems": 3}
    r = structdiff.generate_json(schema, "List:", model=tiny_model, max_tokens=32, seed=0, max_repair_rounds=8,
                                 return_result=True, **FAST)
    assert sorted(r.value) == ["a", "b", "c"] and r.stats["keywords"]["validator"] == ["uniqueItems"]
    once = RejectFirst()
    r = structdiff.generate_json(schema, "List:", model=tiny_model, max_tokens=32, seed=1, max_repair_rounds=8,
                                 return_result=True, schema_options={"validators": [once]}, **FAST)
    assert sorted(r.value) == ["a", "b", "c"] and r.stats["repair_rounds"] >= 1 and once.calls >= 2


class Pet(BaseModel):
    kind: Literal["cat", "dog"]
    legs: int = Field(ge=0, le=8)
    name: str | None = Field(default=None, max_length=5)

    @field_validator("legs")
    @classmethod
    def even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("legs must be even")
        return v


def test_pydantic_instance_with_field_validator(tiny_model):
    gen = Generator(tiny_model, Constraint.from_pydantic(Pet), max_tokens=32, max_repair_rounds=10, **FAST)
    outs = gen(["A pet:", "Another pet, please:"], seed=3)
    for r in outs:
        assert isinstance(r.value, Pet) and r.value.legs % 2 == 0
        assert Pet.model_validate_json(r.text) == r.value


def test_minimal_instance_must_fit_the_budget(tiny_model):
    with pytest.raises(UnsatisfiableError):
        structdiff.generate_json({"type": "string", "minLength": 200}, "x", model=tiny_model, max_tokens=16)


_leaf = st.sampled_from([{"type": "integer", "minimum": -5, "maximum": 500}, {"type": "boolean"},
                         {"type": "string", "maxLength": 4}, {"enum": ["x", 3, None]},
                         {"type": "number", "minimum": 0.5, "exclusiveMaximum": 2}])
_schemas = st.recursive(_leaf, lambda inner: st.one_of(
    st.builds(lambda it, hi: {"type": "array", "items": it, "maxItems": hi}, inner, st.integers(0, 2)),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, min_size=1, max_size=2).map(
        lambda props: {"type": "object", "properties": props, "required": sorted(props)[:1]})), max_leaves=3)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(schema=_schemas)
def test_drawn_schemas_always_validate(tiny_model, schema):
    value = structdiff.generate_json(schema, "JSON:", model=tiny_model, max_tokens=64, seed=0, **FAST)
    jsonschema.validate(value, schema)
    assert json.loads(json.dumps(value)) == value
