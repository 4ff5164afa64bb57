"""Tier 0: shipped Lark grammars, the bounded-depth translation, and grammar errors (no model)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grammars
from structdiff import GrammarError
from structdiff.constraints.lark_grammar import LarkConstraint

SAMPLES = {
    "arithmetic": (["1+2", "x * (y - 3.5)", "-(1)/2", "((1))"], ["1+", "(1", "1 2", ""]),
    "json": (['{"a": [1, 2.5, true, null]}', "[]", '"x"', "-0.5e3"], ["{", "[1,]", "01", "{'a': 1}"]),
    "csv": (["a,b\n1,2", '"x""y",2\n', "a,,c"], ['a"b', '"open']),
    "ini": (["[s]\nk = v\n", "; c\n[s]\nk: 1"], ["k v", "[s\n"]),
    "toml": (['a = 1\n[t]\nb = "x"\nc = [1, 2]\n', "x.y = true"], ["a = ", "[t\n", "a = 1 2"]),
    "yaml": (["name: app\nports:\n  - 80\n  - 443\n"], ["name app", "a:\n - 1"]),
    "sql": (["SELECT a, b FROM t WHERE a > 1 ORDER BY b DESC LIMIT 5;", "select * from t"],
            ["SELECT FROM t", "SELECT a t"]),
    "python_expr": (["f(x, [1, 2])['k'].y", "x = a + 1", "return not x"], ["f(", "x = = 1"]),
}


def test_loader_lists_and_loads_every_grammar():
    assert set(SAMPLES) <= set(grammars.names())
    assert "start" in grammars.load("json")
    with pytest.raises(KeyError, match="shipped"):
        grammars.load("nope")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_parse_and_bad_strings_do_not(name):
    from lark import Lark
    from lark.exceptions import LarkError

    parser = Lark(grammars.load(name))
    good, bad = SAMPLES[name]
    for text in good:
        parser.parse(text)
    for text in bad:
        with pytest.raises(LarkError):
            parser.parse(text)


@pytest.mark.parametrize("name", ["arithmetic", "json", "csv", "ini"])
def test_bounded_pattern_accepts_valid_samples_and_rejects_bad(name):
    c = LarkConstraint(name)
    rx = re.compile(c.pattern)
    good, bad = SAMPLES[name]
    for text in good:
        assert rx.fullmatch(text), text
    for text in bad:
        assert not rx.fullmatch(text), text
    assert c.check(good[0]) == []


@pytest.mark.parametrize("name", ["arithmetic"])
def test_pattern_only_accepts_what_lark_parses(name):
    c = LarkConstraint(name, depth=1)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(c.pattern, fullmatch=True))
    def prop(text):
        assert c.check(text) == [], text

    prop()


def test_depth_bounds_nesting():
    c1, c3 = LarkConstraint("arithmetic", depth=1), LarkConstraint("arithmetic", depth=3)
    assert (c1.depth, c3.depth) == (1, 3) and c1.recursive
    assert re.fullmatch(c1.pattern, "(1)") and not re.fullmatch(c1.pattern, "((1))")
    assert re.fullmatch(c3.pattern, "(((1)))")


def test_left_recursion_is_a_loop_not_depth():
    c = LarkConstraint('start: start "+" NUM | NUM\nNUM: /[0-9]/')
    assert not c.recursive and re.fullmatch(c.pattern, "1+2+3+4+5+6+7+8+9")


def test_words_are_separated_where_the_lexer_would_merge_them():
    c = LarkConstraint('start: NAME NAME\nNAME: /[a-z]+/\n%ignore " "')
    assert re.fullmatch(c.pattern, "ab cd") and not re.fullmatch(c.pattern, "abcd")


def test_grammar_syntax_error_has_line_and_column():
    with pytest.raises(GrammarError) as e:
        LarkConstraint('start: "a"\nb: "x\n')
    assert e.value.line == 2 and e.value.column is not None


def test_unknown_start_rule_and_unknown_name():
    with pytest.raises(GrammarError, match="unknown start rule 'nope'"):
        LarkConstraint('start: "a"', start="nope")
    with pytest.raises(GrammarError, match="no shipped grammar"):
        LarkConstraint("jsonn")


def test_unsupported_terminal_and_infinite_rule_are_named():
    with pytest.raises(GrammarError, match="look"):
        LarkConstraint("start: /a(?=b)/")
    with pytest.raises(GrammarError, match="finite"):
        LarkConstraint('start: "(" start ")"')


def test_parse_returns_the_lark_tree():
    tree = LarkConstraint("json").parse('{"a": 1}')
    assert tree.data == "object"
