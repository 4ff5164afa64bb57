"""Tier 0: the one user-regex parser (python and ecma dialects) -> IR -> byte DFA, against Python ``re``."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from structdiff import SchemaError
from structdiff.automata import ir, ir_dfa
from structdiff.automata.ir_dfa import Budget, to_byte_dfa
from structdiff.automata.minimize import minimize_dfa
from structdiff.automata.regex_parse import MAX_NESTING, parse_regex
from structdiff.constraints import Constraint


def m(pattern: str, text: str, **kw) -> bool:
    return to_byte_dfa(parse_regex(pattern, **kw)).matches(text.encode("utf-8"))


# patterns where Python re (str, no flags) and our python dialect mean the same language on ALPHABET
AGREE = [r"abc", r"a|b|", r"(ab|a)(bc)*", r"[a-z_][0-9a-z_]{0,3}", r"x{2,}y?", r"[^ab]+", r"(?i)aB[c-e]",
         r"(?i:x)y", r"a{,2}", r"[\]a-]", r"[-a]", r"a.b", r"(?s)a.b", r"\x41\u00e9\U0001F600?", r"[\x01-\x20]",
         r"(?:a|bc){2,3}d", r"^ab$", r"^(a|b)$", r"\Aab\Z", r"a\.b\*", r"(a)(?P<n>b)", r"a+?b??",
         r"(?x) a b # comment", r"é+", r"[à-ÿ]+", r"\n\t?", "a{", "a{x}", r"(|a)+", r"[^\n]{2,4}é",
         r"'[\x01-\x09\x0b-\x26\x28-\U0010ffff]*'", r"1|1\+2", r"(?:x(?: )+)?y", r"[0-9]{2}-[0-9]{2}"]
ALPHABET = list("abcABdexy_-. \n09é\u00c9\u4e2d\U0001F600{}'+12")


@pytest.mark.parametrize("pattern", AGREE)
def test_dfa_agrees_with_python_re_on_random_strings(pattern):
    dfa = to_byte_dfa(parse_regex(pattern))
    rx = re.compile(pattern)
    rng = random.Random(pattern)
    for _ in range(300):
        t = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))
        assert dfa.matches(t.encode()) == bool(rx.fullmatch(t)), t


def test_ascii_classes_by_default_unicode_on_request():
    assert m(r"\d", "7") and not m(r"\d", "\u0663") and not m(r"\d", "\U000118e3")
    assert m(r"\d", "\u0663", unicode_classes=True) and m(r"\w", "é", unicode_classes=True) and not m(r"\w", "é")
    assert m(r"\d{4}", "2024", dialect="ecma") and not m(r"\d", "\u0663", dialect="ecma")
    assert m(r"\s", "\u00a0", dialect="ecma") and not m(r"\s", "\u00a0")  # ECMA's \s set is fixed by the spec


def test_dialects_differ_where_their_syntax_does():
    assert m(r"[[:alpha:]]+", "abZ") and not m(r"[[:alpha:]]", ":")  # POSIX class (Rust)
    assert m(r"[[:alpha:]]", ":]", dialect="ecma") and m(r"[[:alpha:]]", "a]", dialect="ecma")  # ECMA: literal
    assert m(r"[a-z&&[^aeiou]]+", "bcd") and not m(r"[a-z&&[^aeiou]]+", "bad")  # intersection (Rust)
    assert m(r"[a-z&&[^aeiou]]", "&]", dialect="ecma")  # ECMA: '&' and '[' are class members
    assert m(r"[a-c--b]+", "ac") and not m(r"[a-c--b]", "b")
    assert m(".", "\r") and not m(".", "\r", dialect="ecma")
    assert m(r"\u{1F600}", "\U0001F600", dialect="ecma") and m(r"\ud83d\ude00", "\U0001F600", dialect="ecma")
    assert m(r"\x{e9}", "é") and m(r"\cJ", "\n", dialect="ecma")


@pytest.mark.parametrize("dialect", ["python", "ecma"])
def test_unicode_properties_in_both_dialects(dialect):
    assert m(r"\p{Lu}+", "ABÉ", dialect=dialect) and not m(r"\p{Lu}", "é", dialect=dialect)
    assert m(r"\P{L}", "1", dialect=dialect) and m(r"\p{Greek}+", "αβ", dialect=dialect)
    assert m(r"[\p{Lu}\d]+", "A1", dialect=dialect)


def test_anchors_at_the_ends_and_search_mode():
    assert ir.show(parse_regex("^ab$")) == "ab" and parse_regex("^(a|b)$") is parse_regex("[ab]")
    assert m("abc", "xxabcyy", search=True) and not m("^abc", "xxabcyy", search=True)
    assert m("^abc", "abcyy", search=True, dialect="ecma") and not m("abc$", "abcyy", search=True)
    assert m("^a$|b", "xbx", search=True, dialect="ecma") and not m("^a$|b", "ax", search=True, dialect="ecma")


@pytest.mark.parametrize("pattern,pos,what", [
    (r"a(?=b)", 1, "look-ahead"), (r"x(?<!a)", 1, "look-behind"), (r"(a)\1", 3, "back-reference"),
    (r"\bfoo", 0, "word-boundary"), (r"a^b", 1, "start anchor"), (r"a$b", 1, "end anchor"),
    (r"(?>a)", 0, "atomic group"), (r"a*+", 2, "possessive"), (r"(a$)+", 2, "anchor inside a repeated group"),
    (r"a{3,2}", 1, "greater than"), (r"[z-a]", 1, "bad character range"), ("a(b", 1, "missing"),
    (r"\p{NoSuchThing}", 0, "unknown Unicode property"), (r"a{200000}", 1, "limit"), ("*a", 0, "nothing to repeat"),
])
def test_refusals_name_the_construct_and_position(pattern, pos, what):
    with pytest.raises(SchemaError, match=what) as e:
        parse_regex(pattern)
    assert e.value.pointer == pos and f"position {pos}" in str(e.value)


def test_nesting_is_bounded_without_recursion_error():
    deep = "(" * (MAX_NESTING + 5) + "a" + ")" * (MAX_NESTING + 5)
    with pytest.raises(SchemaError, match="nested deeper"):
        parse_regex(deep)
    ok = "(" * (MAX_NESTING - 1) + "a" + ")" * (MAX_NESTING - 1)
    assert m(ok, "a")


def test_from_regex_budget_and_empty_language_errors():
    with pytest.raises(SchemaError, match="matches nothing"):
        Constraint.from_regex(r"a[^\x00-\x{10FFFF}]").accepts("a")
    c = Constraint.from_regex("(a|b)*a(a|b){16}", budget=Budget(max_states=5_000))
    assert c.accepts("ab" * 8 + "a" + "b" * 16)  # checking one text walks that text only (no DFA)
    with pytest.raises(SchemaError, match=r"regex '\(a\|b\)\*a\(a\|b\)\{16\}' needs more than 5000 DFA states"):
        c.byte_dfa()


def test_accepts_runs_the_automaton_and_the_validators():
    class NoSeven:
        name = "no-seven"

        def check(self, text):
            from structdiff.constraints import Violation

            return [Violation(i, i + 1, "a 7") for i, ch in enumerate(text) if ch == "7"]

    c = Constraint.from_regex(r"[0-9]{3}", validators=[NoSeven()])
    assert c.accepts("123") and not c.accepts("173") and not c.accepts("12") and not c.accepts("12\x00")
    assert Constraint.from_choices(["yes", "no"]).accepts("no")


def test_minimize_merges_equivalent_states_and_keeps_the_start():
    trans = np.full((4, 256), -1, dtype=np.int32)  # 0 -a-> 1, 0 -b-> 2, 1 -c-> 3, 2 -c-> 3
    trans[0, ord("a")], trans[0, ord("b")], trans[1, ord("c")], trans[2, ord("c")] = 1, 2, 3, 3
    accept = np.array([False, False, False, True])
    new, acc = minimize_dfa(trans, accept)
    assert new.shape[0] == 3 and not acc[0] and new[0, ord("a")] == new[0, ord("b")]


def test_long_literal_parses_without_recursion():
    # a left fold re-associated the whole sequence at every item: RecursionError from ~1,000 chars
    node = parse_regex("a" * 20000 + "(b" + "c" * 5000 + ")d")
    assert node.size > 25000
    assert ir_dfa.matches(node, ("a" * 20000 + "b" + "c" * 5000 + "d").encode())
    assert not ir_dfa.matches(node, ("a" * 19999 + "b" + "c" * 5000 + "d").encode())


def test_minimisation_past_its_work_cap_keeps_an_equivalent_dfa():
    # a counting chain needs one Moore round per count: past the cap the DFA stays unminimised but exact
    dfa = to_byte_dfa(parse_regex("[a-c]{2500}x?"))
    assert dfa.trans.shape[0] >= 2500
    for text, ok in (("a" * 2500, True), ("b" * 2500 + "x", True), ("c" * 2499, False), ("a" * 2501, False)):
        state = 0
        for byte in text.encode():
            state = int(dfa.trans[state, byte]) if state >= 0 else -1
        assert (state >= 0 and bool(dfa.accept[state])) == ok


def test_min_length_counts_bytes_without_building_a_dfa():
    assert ir.min_length(parse_regex("ab(c|de)x{3,5}é?")) == 6
    assert ir.min_length(parse_regex("(é|ab)")) == 2
    assert ir.min_length(parse_regex("[a-z]*")) == 0
    assert ir.min_length(ir.NOTHING) == float("inf")
    assert ir.min_length(parse_regex("a" * 30000)) == 30000  # a long spine, no recursion
