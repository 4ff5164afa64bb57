"""structdiff.hypothesis: strategies that draw from the model under a constraint."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, seed, settings

from structdiff.errors import InputError
from structdiff.hypothesis import _NO_VALUE, _Draw, _split, from_grammar, from_pydantic, from_regex, from_schema

FAST = {"max_passes": 4}
SETTINGS = settings(max_examples=3, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def test_strategies_are_lazy_and_check_the_prompt():
    # nothing is loaded or compiled when the strategy is defined (a bad model only fails when drawn)
    s = from_schema({"type": "integer"}, model="/no/such/model")
    assert "from_schema" in repr(s)
    with pytest.raises(InputError, match="prompt must be a non-empty str"):
        from_regex("[0-9]", prompt="  ")
    assert _split({"whitespace": "flexible", "max_passes": 3}) == ({"whitespace": "flexible"}, {"max_passes": 3})


@pytest.mark.tier1
def test_from_regex_and_same_hypothesis_seed_same_examples(tiny_model):
    pattern = r"[a-c]{2,4}-[0-9]{2}"
    strategy = from_regex(pattern, tiny_model, "A code:", max_tokens=16, **FAST)

    def collect():
        seen = []

        @SETTINGS
        @seed(20240611)
        @given(strategy)
        def check(text):
            assert re.fullmatch(pattern, text)
            seen.append(text)

        check()
        return seen

    first = collect()
    assert len(first) >= 2
    assert collect() == first


@pytest.mark.tier1
def test_from_schema_values_validate(tiny_model):
    import jsonschema

    schema = {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 99},
                                               "ok": {"type": "boolean"}}, "required": ["id", "ok"]}

    @SETTINGS
    @given(from_schema(schema, tiny_model, max_tokens=32, **FAST))
    def check(value):
        jsonschema.validate(value, schema)

    check()


@pytest.mark.tier1
def test_from_pydantic_gives_instances(tiny_model):
    from typing import Literal

    from pydantic import BaseModel, Field

    class Pet(BaseModel):
        kind: Literal["cat", "dog"]
        legs: int = Field(ge=3, le=4)

    @SETTINGS
    @given(from_pydantic(Pet, tiny_model, max_tokens=32, **FAST))
    def check(pet):
        assert isinstance(pet, Pet) and pet.kind in ("cat", "dog") and pet.legs in (3, 4)

    check()


@pytest.mark.tier1
def test_from_grammar_sentences_parse(tiny_model):
    from lark import Lark

    grammar = 'start: NUM ("+" NUM)*\nNUM: /[0-9]{1,3}/\n'
    parser = Lark(grammar)

    @SETTINGS
    @given(from_grammar(grammar, tiny_model, "A sum:", max_tokens=16, **FAST))
    def check(text):
        parser.parse(text)

    check()


@pytest.mark.tier1
def test_exhausted_repair_rounds_are_filtered_out(tiny_model):
    from structdiff.constraints import Constraint, Violation

    class AlwaysWrong:
        name = "always-wrong"

        def check(self, text):
            return [Violation(0, len(text), "never valid")]

    draw = _Draw(lambda: Constraint.from_regex("[0-9]{2}", validators=[AlwaysWrong()]), tiny_model, "n:",
                 {"max_tokens": 8, "max_repair_rounds": 0, **FAST}, "text", "t")
    assert draw(0) is _NO_VALUE
