"""Tier 0: JSON Schema / pydantic constraints without a model (translation, validators, errors)."""

from __future__ import annotations

import enum
import json
from typing import Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema
from pydantic import BaseModel, Field, field_validator

from structdiff import Constraint, InputError, SchemaError, UnsatisfiableError
from structdiff.automata.ir_dfa import Budget
from structdiff.constraints.base import RegexConstraint
from structdiff.validators.json_schema import json_spans

PERSON = {"type": "object", "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 20},
    "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
    "email": {"type": "string", "format": "email"},
    "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "maxItems": 3,
             "uniqueItems": True},
    "score": {"type": "number", "minimum": -1.5, "maximum": 2.25}},
    "required": ["name", "age"], "additionalProperties": False}


def accepts(c, text: str) -> bool:
    return c.accepts(text)


def in_language(c, text: str) -> bool:
    """The automaton alone (no validators)."""
    return c.byte_dfa().matches(text.encode())


def test_is_a_regex_constraint_with_report():
    c = Constraint.from_json_schema(PERSON)
    assert isinstance(c, RegexConstraint) and hash(c) == hash(Constraint.from_json_schema(PERSON))
    assert accepts(c, '{"name":"Al","age":3,"tags":["a","c"],"score":2.25}')
    assert not in_language(c, '{"name":"Al","age":150}')  # exclusive bound in the automaton
    assert not in_language(c, '{"age":3,"name":"Al"}')  # canonical order
    assert in_language(c, '{"name":"Al","age":3,"tags":["a","a"]}') and c.check(
        '{"name":"Al","age":3,"tags":["a","a"]}')  # uniqueItems: validator
    rep = c.report
    assert "uniqueItems" in rep["validator"] and {"minimum", "maxLength", "format", "enum"} <= set(rep["automaton"])
    assert c.parse('{"name":"Al","age":3}') == {"name": "Al", "age": 3}


def test_validator_spans_point_at_the_offending_items():
    c = Constraint.from_json_schema(PERSON)
    text = '{"name":"Al","age":3,"tags":["a","b","a"]}'
    (v,) = c.check(text)
    assert text[v.start:v.end] == '"a"' and v.start == text.rindex('"a"') and "uniqueItems" in v.message


def test_flexible_whitespace_and_canonical_text():
    c = Constraint.from_json_schema(PERSON, whitespace="flexible")
    assert accepts(c, '{ "name" : "Al",\n  "age": 3 }')
    assert c.canonical_text({"age": 3, "name": "Al"}) == '{"name":"Al","age":3}'
    with pytest.raises(InputError):
        Constraint.from_json_schema(PERSON, whitespace="loose")


@pytest.mark.parametrize("schema,good,bad", [
    ({"type": "integer", "multipleOf": 5, "minimum": 0, "maximum": 50}, ["0", "45"], ["7", "55"]),
    ({"type": "integer", "multipleOf": 4}, ["-8", "0", "1236"], ["2", "1234"]),
    ({"type": "number", "multipleOf": 0.01}, ["1.25", "3"], ["1.255"]),
    ({"type": "string", "pattern": "^[A-Z]{2}[0-9]+$"}, ['"AB12"'], ['"ab12"', '"AB"']),
    ({"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 2}]}, ["null", '"ab"'], ['"abc"', "1"]),
    ({"oneOf": [{"const": 1}, {"const": "x"}]}, ["1", '"x"'], ["2"]),
    ({"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"a": {"minimum": 3}}}]}, ['{"a":3}'], ['{"a":2}', "{}"]),
    ({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False, "minItems": 1},
     ["[1]", '[1,"x"]'], ["[]", '[1,"x",2]', '["x"]']),
    ({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
     ['{"x-a":1,"x-b":2}', "{}"], ['{"y":1}', '{"x-a":"s"}']),
    ({"type": "object", "additionalProperties": {"type": "boolean"}, "minProperties": 1, "maxProperties": 2},
     ['{"a":true}', '{"a":true,"b":false}'], ["{}", '{"a":true,"b":false,"c":true}', '{"a":1}']),
    ({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
      "dependentRequired": {"a": ["b"]}}, ['{"b":1}', '{"a":1,"b":2}'], ['{"a":1}']),
    ({"type": "string", "format": "date"}, ['"2024-02-29"'], ['"2023-02-29"', '"2024-13-01"']),
    ({"not": {"type": "string"}, "type": ["string", "integer"]}, ["3"], ['"s"']),
    ({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
      "if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["b"]}}, ['{"a":2}'], ['{"a":1}']),
    ({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
                                                          "next": {"$ref": "#/$defs/node"}}, "required": ["v"]}},
      "$ref": "#/$defs/node"}, ['{"v":1}', '{"v":1,"next":{"v":2,"next":{"v":3}}}'], ['{"next":{"v":1}}']),
    ({"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "integer"}],
      "additionalItems": {"type": "string"}}, ['[1,"a","b"]'], ['[1,2]']),
    ({"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "minimum": 0,
      "exclusiveMinimum": True}, ["0.5"], ["0"]),
])
def test_keywords(schema, good, bad):
    c = Constraint.from_json_schema(schema)
    for t in good:
        assert accepts(c, t), t
        jsonschema.validate(json.loads(t), schema)
    for t in bad:
        assert not accepts(c, t), t


def test_recursion_is_cut_at_max_depth():
    schema = {"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"}
    deep = '{"c":{"c":{"c":{"c":{}}}}}'
    cut = Constraint.from_json_schema(schema, max_depth=2)
    assert not in_language(cut, deep) and any("max_depth" in b for b in cut.report["bounded"])  # cut, and says so
    assert in_language(Constraint.from_json_schema(schema, max_depth=5), deep)


@pytest.mark.parametrize("schema,pointer", [
    ({"type": "object", "properties": {"a": {"type": "strng"}}}, "/properties/a/type"),
    ({"minLength": -1}, "/minLength"),
])
def test_invalid_schema_names_the_pointer(schema, pointer):
    with pytest.raises(SchemaError) as e:
        Constraint.from_json_schema(schema)
    assert e.value.pointer == pointer


def test_bad_input_errors():
    with pytest.raises(SchemaError, match="remote references are never fetched"):
        Constraint.from_json_schema({"$ref": "https://example.com/schema.json"})
    with pytest.raises(SchemaError, match=r"\$dynamicRef"):
        Constraint.from_json_schema({"$dynamicAnchor": "a", "items": {"$dynamicRef": "#a"}})
    c = Constraint.from_json_schema({"$dynamicAnchor": "a", "items": {"$dynamicRef": "#a"}}, post_hoc=True)
    assert "$dynamicRef" in c.report["validator"]
    for contradictory in ({"type": "integer", "minimum": 5, "maximum": 4}, {"allOf": [{"type": "string"},
                          {"type": "integer"}]}, False, {"enum": []}, {"not": {}},
                          {"type": "object", "properties": {"a": False}, "required": ["a"]}):
        with pytest.raises(UnsatisfiableError):
            Constraint.from_json_schema(contradictory)
    with pytest.raises(SchemaError, match="not JSON"):
        Constraint.from_json_schema("{not json")
    with pytest.raises(SchemaError, match="needs more than"):
        wide = {"type": "object", "properties": {f"p{i}": {"type": "object", "properties": {
            f"q{j}": {"type": "string"} for j in range(40)}} for i in range(40)}}
        Constraint.from_json_schema(wide, budget=Budget(max_states=2_000)).byte_dfa()
    ok = Constraint.from_json_schema({"$ref": "http://x.test/s.json"}, resources={"http://x.test/s.json":
                                                                                  {"type": "integer"}})
    assert in_language(ok, "-12")


def test_json_spans_cover_every_value():
    text = '{ "a" : [1, {"b": "x\\"y"}], "c": null, "a": 2 }'
    spans, dups = json_spans(text)
    assert text[slice(*spans[("a", 1, "b")])] == '"x\\"y"' and text[slice(*spans[("c",)])] == "null"
    assert dups and dups[0][0] == ("a",)
    with pytest.raises(ValueError):
        json_spans('{"a":1} x')


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    city: str = Field(max_length=12)
    zip: str | None = Field(default=None, pattern=r"^[0-9]{5}$")


class User(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    kind: Literal["admin", "user"]
    color: Color
    address: Address
    friends: list[str] = Field(max_length=3)
    scores: dict[str, float]
    nick: str | None = None

    @field_validator("name")
    @classmethod
    def capitalised(cls, v: str) -> str:
        if not v[:1].isupper():
            raise ValueError("name must start with a capital letter")
        return v


def test_pydantic_round_trip_and_validator_span():
    c = Constraint.from_pydantic(User)
    u = User(name="Ann", age=30, kind="admin", color=Color.RED, address=Address(city="Oslo", zip="12345"),
             friends=["b"], scores={"x": 1.5}, nick=None)
    text = c.canonical_text(u)
    assert in_language(c, text), text
    assert c.check(text) == [] and c.parse(text) == u
    bad = text.replace('"Ann"', '"ann"')
    assert in_language(c, bad)
    (v,) = c.check(bad)
    assert bad[v.start:v.end] == '"ann"' and "capital" in v.message
    assert not in_language(c, text.replace('"12345"', '"1234"'))
    with pytest.raises(InputError):
        Constraint.from_pydantic(dict)


SCHEMAS_FOR_HYPOTHESIS = [
    PERSON,
    {"type": "array", "items": {"type": "integer", "minimum": -20, "maximum": 300}, "minItems": 1, "maxItems": 4},
    {"type": "object", "properties": {"d": {"type": "string", "format": "date"}, "u": {"type": "string",
     "format": "uuid"}, "n": {"type": ["number", "null"], "exclusiveMinimum": 0}}, "required": ["d"]},
]


def instances(schema):
    """hypothesis-jsonschema strategy; objects built per property (its object strategy is broken on this
    hypothesis version)."""
    from hypothesis import strategies as st

    if schema.get("type") == "object" and "properties" in schema:
        req = set(schema.get("required", []))
        props = schema["properties"]
        return st.fixed_dictionaries({k: instances(v) for k, v in props.items() if k in req},
                                     optional={k: instances(v) for k, v in props.items() if k not in req})
    return from_schema(schema)


@pytest.mark.parametrize("schema", SCHEMAS_FOR_HYPOTHESIS)
def test_hypothesis_instances_are_accepted(schema):
    c = Constraint.from_json_schema(schema)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(instances(schema))
    def check(value):
        if not jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).is_valid(value):
            return  # per-property strategy can break uniqueItems etc.; only valid instances count
        text = c.canonical_text(value)
        assert c.accepts(text), text

    check()
