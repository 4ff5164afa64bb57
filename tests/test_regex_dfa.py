"""Tier 0: the native byte-DFA builder and minimisation agree with Python ``re`` (no model)."""

from __future__ import annotations

import re
from functools import cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structdiff.automata.bytedfa import build_byte_dfa
from structdiff.automata.minimize import minimize_dfa
from structdiff.automata.regex_dfa import regex_to_byte_dfa
from structdiff.constraints.lark_grammar import LarkConstraint

PATTERNS = [r"1|1\+2", r"(?:ab|a)(?:bc)*", r"'[\x01-\x09\x0b-\x26\x28-\U0010ffff]*'", r"[a-z_][0-9a-z_]{0,3}",
            r"(?:x(?: )+)?y", r"[^\n]{2,4}é"]
ALPHABET = st.sampled_from(list("12+abcxy _'\né\u4e2d\U0001f600\n"))


@cache
def _native(pattern: str):
    return build_byte_dfa(pattern, "native")


def _accepts(dfa, text: str) -> bool:
    return dfa.matches(text.encode("utf-8"))


def test_native_keeps_continuations_after_a_match():
    dfa = build_byte_dfa(r"1|1\+2", "native")
    assert _accepts(dfa, "1") and _accepts(dfa, "1+2") and not _accepts(dfa, "1+")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(PATTERNS), st.text(ALPHABET, max_size=8))
def test_native_dfa_agrees_with_python_re(pattern, text):
    assert _accepts(_native(pattern), text) == bool(re.fullmatch(pattern, text))


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_native_dfa_accepts_what_the_regex_generates(data):
    pattern = data.draw(st.sampled_from(PATTERNS))
    text = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda s: "\x00" not in s))
    assert _accepts(_native(pattern), text)


def test_native_matches_outlines_on_a_grammar_regex():
    pattern = LarkConstraint("json").pattern
    a, b = build_byte_dfa(pattern, "native"), build_byte_dfa(pattern, "outlines")
    assert a.n_states == b.n_states  # both minimal: the same automaton up to numbering
    for text in ['{"a": [1, 2.5, true]}', "[]", '"\u00e9"', "[1,]", "{", '{"a" 1}']:
        assert _accepts(a, text) == _accepts(b, text) == bool(re.fullmatch(pattern, text))


def test_minimisation_shrinks_and_preserves_the_language():
    pattern = LarkConstraint("arithmetic", depth=3).pattern
    trans, accept = regex_to_byte_dfa(pattern, 50_000)
    dfa = build_byte_dfa(pattern, "native")
    assert dfa.n_states < 40 < trans.shape[0]
    for text in ["1+2", "((x))*-3", "(((1)))", "((((1))))", "1+", ""]:
        s = 0
        for byte in text.encode():
            s = int(trans[s, byte]) if s >= 0 else -1
        assert (s >= 0 and bool(accept[s])) == _accepts(dfa, text) == bool(re.fullmatch(pattern, text))


def test_minimize_merges_equivalent_states_and_keeps_the_start():
    trans = np.full((4, 256), -1, dtype=np.int32)  # 0 -a-> 1, 0 -b-> 2, 1 -c-> 3, 2 -c-> 3
    trans[0, ord("a")], trans[0, ord("b")], trans[1, ord("c")], trans[2, ord("c")] = 1, 2, 3, 3
    accept = np.array([False, False, False, True])
    new, acc = minimize_dfa(trans, accept)
    assert new.shape[0] == 3 and not acc[0] and new[0, ord("a")] == new[0, ord("b")]


def test_unsupported_syntax_falls_back_to_outlines():
    dfa = build_byte_dfa(r"\p{Lu}x", "native")  # Rust-only class: outlines-core builds it
    assert _accepts(dfa, "Ax") and not _accepts(dfa, "ax")
