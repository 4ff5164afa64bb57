"""Tier 1: grammar-constrained generation with the tiny random model parses with lark, or names its error."""

from __future__ import annotations

import pytest
from lark import Lark

from structdiff import grammars
import structdiff
from structdiff import GenerationError, GrammarError, UnsatisfiableError
from structdiff.api import Generator
from structdiff.constraints import Constraint, LarkConstraint, Violation
from structdiff.validators.sql import SqlSchema

pytestmark = pytest.mark.tier1

OPTS = {"max_tokens": 64, "max_passes": 8}


@pytest.mark.parametrize("name", grammars.names())
def test_every_shipped_grammar_generates_parseable_text(tiny_model, name):
    parser = Lark(grammars.load(name), import_paths=[str(grammars.GRAMMAR_DIR)])
    for seed in (0, 1):
        text = structdiff.generate(f"Write some {name}.", tiny_model, grammar=name, seed=seed, **OPTS)
        parser.parse(text)  # raises if the guarantee is broken


def test_user_grammar_text(tiny_model):
    grammar = 'start: "v" NUM ("." NUM)*\nNUM: /[0-9]{1,3}/'
    text = structdiff.generate("A version string:", tiny_model, grammar=grammar, seed=3, **OPTS)
    Lark(grammar).parse(text)
    assert text.startswith("v")


class _RejectFirstOutput:
    """Flags the first character of the first output it sees: forces exactly one repair round."""

    name = "reject-first"

    def __init__(self):
        self.calls = 0

    def check(self, text: str) -> list[Violation]:
        self.calls += 1
        return [Violation(0, 1, "rejected once")] if self.calls == 1 else []


def test_validator_forces_a_repair_round(tiny_model):
    val = _RejectFirstOutput()
    gen = Generator(tiny_model, Constraint.from_lark("arithmetic", validators=[val]), **OPTS)
    res = gen("An arithmetic expression:", seed=0)
    assert res.stats["repair_rounds"] >= 1 and val.calls >= 2
    Lark(grammars.load("arithmetic")).parse(res.text)


def test_sql_schema_validator_repairs_or_names_the_columns(tiny_model):
    schema = SqlSchema({"users": ["id", "name", "age"]})
    gen = Generator(tiny_model, Constraint.from_lark("sql", validators=[schema]), max_repair_rounds=1, **OPTS)
    parser = Lark(grammars.load("sql"))
    try:
        res = gen("Names of users older than 30:", seed=0)
    except GenerationError as exc:  # a random model rarely spells the schema: the error must say why
        assert exc.messages and any("users" in m or "column" in m or "table" in m for m in exc.messages)
        parser.parse(exc.last_output)  # even the rejected output is grammatical
    else:
        parser.parse(res.text)
        assert schema.check(res.text) == []


def test_unknown_grammar_name(tiny_model):
    with pytest.raises(GrammarError, match="no shipped grammar named 'jsn'"):
        structdiff.generate("x", tiny_model, grammar="jsn", **OPTS)


def test_grammar_syntax_error_has_line_and_column(tiny_model):
    with pytest.raises(GrammarError) as err:
        structdiff.generate("x", tiny_model, grammar='start: "a" b\nb: ("x"\n', **OPTS)
    assert err.value.line is not None and err.value.column is not None


def test_budget_below_the_shortest_sentence_is_unsatisfiable(tiny_model):
    long_word = 'start: "' + "abcdefgh" * 12 + '"'
    with pytest.raises(UnsatisfiableError, match="max_tokens"):
        structdiff.generate("x", tiny_model, grammar=long_word, max_tokens=4, max_passes=8)


def test_lark_constraint_is_exported():
    assert structdiff.constraints.LarkConstraint is LarkConstraint
