"""Tier 0: shipped Lark grammars, the bounded-depth translation, and grammar errors (no model)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from structdiff import GrammarError, grammars
from structdiff.constraints.lark_grammar import LarkConstraint


def dfa_samples(dfa, n: int, seed: int = 0, max_len: int = 40) -> list[str]:
    """Random texts the byte DFA accepts (random walks that stop at accepting states, or head to one)."""
    q = dfa.n_states
    dist = np.where(dfa.accept, 0, 10**9)
    for _ in range(q):  # fewest bytes to acceptance from each state
        nxt = np.where(dfa.trans >= 0, dist[np.maximum(dfa.trans, 0)] + 1, 10**9).min(axis=1)
        dist = np.minimum(dist, nxt)
    rng, out = random.Random(seed), []
    for _ in range(n):
        s, data = 0, bytearray()
        while not (dfa.accept[s] and (rng.random() < 0.15 or len(data) >= max_len)):
            ok = [b for b in range(256) if dfa.trans[s, b] >= 0 and (len(data) < max_len or
                                                                     dist[dfa.trans[s, b]] < dist[s])]
            if not ok:  # an accepting state with no way on
                break
            b = rng.choice(ok)
            data.append(b)
            s = int(dfa.trans[s, b])
        out.append(data.decode("utf-8"))
    return out

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
def test_bounded_automaton_accepts_valid_samples_and_rejects_bad(name):
    c = LarkConstraint(name)
    dfa = c.byte_dfa()
    good, bad = SAMPLES[name]
    for text in good:
        assert dfa.matches(text.encode()) and c.accepts(text), text
    for text in bad:
        assert not dfa.matches(text.encode()) and not c.accepts(text), text
    assert c.check(good[0]) == []


@pytest.mark.parametrize("name,depth", [("arithmetic", 1), ("json", 2), ("sql", 0), ("python_expr", 1)])
def test_automaton_only_accepts_what_lark_parses(name, depth):
    c = LarkConstraint(name, depth=depth)
    for text in dfa_samples(c.byte_dfa(), 25):
        assert c.check(text) == [], text


def test_depth_bounds_nesting():
    c1, c3 = LarkConstraint("arithmetic", depth=1), LarkConstraint("arithmetic", depth=3)
    assert (c1.depth, c3.depth) == (1, 3) and c1.recursive
    assert c1.accepts("(1)") and not c1.accepts("((1))")
    assert c3.accepts("(((1)))") and not c3.accepts("((((1))))")


def test_left_recursion_is_a_loop_not_depth():
    c = LarkConstraint('start: start "+" NUM | NUM\nNUM: /[0-9]/')
    assert not c.recursive and c.accepts("1+2+3+4+5+6+7+8+9")


def test_words_are_separated_where_the_lexer_would_merge_them():
    c = LarkConstraint('start: NAME NAME\nNAME: /[a-z]+/\n%ignore " "')
    assert c.accepts("ab cd") and not c.byte_dfa().matches(b"abcd")


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
