"""Tier 0: the regular-expression IR — hash-consing, printed form (golden), DFA by derivatives, budgets."""

from __future__ import annotations

import re

import pytest

from structdiff import SchemaError
from structdiff.automata import compile_ir, ir
from structdiff.automata.ir_dfa import Budget, to_byte_dfa


def _matches(node, text: str) -> bool:
    return to_byte_dfa(node).matches(text.encode("utf-8"))


def test_nodes_are_hash_consed_and_normalised():
    a = ir.alt(ir.literal("ab"), ir.literal("cd"))
    assert a is ir.alt(ir.literal("cd"), ir.literal("ab"))
    assert ir.concat(ir.literal("a"), ir.EMPTY, ir.literal("b")) is ir.literal("ab")
    assert ir.concat(ir.literal("a"), ir.NOTHING) is ir.NOTHING
    assert ir.repeat(a, 1, 1) is a and ir.repeat(a, 0, 0) is ir.EMPTY
    assert ir.alt(ir.char("a"), ir.char("b")) is ir.chars([(0x61, 0x62)])  # single bytes merge into one set
    assert ir.star(ir.plus(a)) is ir.star(a)
    assert ir.opt(a).nullable and not a.nullable
    assert a.first == (1 << ord("a")) | (1 << ord("c"))


def _shared_twice(r):
    return ir.concat(ir.repeat(r, 2, 5), ir.literal("-"), r, r)


GOLDEN = [
    (lambda: ir.star(ir.alt(ir.literal("foo"), ir.literal("bar"), ir.chars([(0x61, 0x7A)]))), "([a-z]|bar|foo)*"),
    (lambda: ir.choices(["yes", "no", "nope"]), "no(()|pe)|yes"),
    (lambda: ir.any_char("\n"), "[\\u{0}-\\t\\u{b}-\\u{10ffff}]"),
    (lambda: ir.concat(ir.chars([(0x61, 0x7A), (0xE9, 0xE9)]), ir.literal("a-b]"), ir.byteset([(0x80, 0xBF)])),
     "[a-z\\u{e9}]a-b\\][\\x80-\\xbf]"),
    (lambda: _shared_twice(ir.alt(ir.literal("ab"), ir.literal("cd"))), "#1{2,5}-#1#1\n#1 = ab|cd"),
    (lambda: ir.repeat(ir.literal("x"), 3, None), "x{3,}"),
]


@pytest.mark.parametrize("build,expected", GOLDEN)
def test_printed_form_is_stable(build, expected):
    assert ir.show(build()) == expected


def test_dfa_matches_utf8_and_bounded_repeats():
    node = ir.concat(ir.star(ir.any_char("\n")), ir.literal("é"))
    assert _matches(node, "xxé") and _matches(node, "\u4e2d\U0001f600é") and not _matches(node, "x\né")
    r = ir.alt(ir.literal("ab"), ir.literal("cd"))
    node = ir.concat(ir.repeat(r, 2, 5), ir.literal("-"), r)
    pat = re.compile("(?:ab|cd){2,5}-(?:ab|cd)")
    for text in ["abcd-ab", "ab-ab", "abababababab-cd", "ababababab-cd", "abcd-", "cdcdcd-cd"]:
        assert _matches(node, text) == bool(pat.fullmatch(text)), text


def test_shared_subexpressions_are_built_once():
    item = ir.alt(ir.literal("true"), ir.literal("false"), ir.plus(ir.chars([(0x30, 0x39)])))
    lst = ir.concat(ir.literal("["), ir.opt(ir.concat(item, ir.star(ir.concat(ir.literal(","), item)))),
                    ir.literal("]"))
    assert ir.dag_size(lst) < lst.size
    dfa = to_byte_dfa(lst)
    assert dfa.matches(b"[1,true,22]") and not dfa.matches(b"[1,]")


def test_empty_language_and_budget_errors_name_the_thing():
    with pytest.raises(SchemaError, match="rule x matches nothing"):
        to_byte_dfa(ir.concat(ir.literal("a"), ir.byteset([(0, 0)])), what="rule x")
    ab = ir.chars([(0x61, 0x62)])
    blowup = ir.concat(ir.star(ab), ir.char("a"), ir.repeat(ab, 12, 12))
    with pytest.raises(SchemaError, match=r"my regex needs more than 1000 DFA states.*max_states"):
        to_byte_dfa(blowup, budget=Budget(max_states=1000), what="my regex")
    with pytest.raises(SchemaError, match=r"derivative steps.*max_work"):
        to_byte_dfa(blowup, budget=Budget(max_work=500))
    assert to_byte_dfa(ir.concat(ir.star(ab), ir.char("a"), ir.repeat(ab, 3, 3))).n_states == 16


def test_compile_ir_gives_a_token_automaton(tmp_path, monkeypatch):
    from test_automata import ToyTokenizer

    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path))
    tok = ToyTokenizer(["y", "e", "s", "ye", "no", "n", "o"])
    auto = compile_ir(ir.choices(["yes", "no"]), tok)
    assert int(auto.dist[0]) == 1
    for text, ok in [("yes", True), ("no", True), ("ye", False)]:
        s = auto.run(tok.encode(text))
        assert (s >= 0 and bool(auto.accept[s])) == ok, text


def test_token_lift_matches_per_token_walks_on_a_grammar_automaton():
    """Prefix merging by state map (tokens.lift_to_classes) == walking every token from every state."""
    import random

    from test_automata import ToyTokenizer

    from structdiff.automata.tokens import lift_to_classes, vocab_bytes
    from structdiff.constraints import Constraint

    dfa = Constraint.from_lark("arithmetic", depth=2).byte_dfa()
    rng = random.Random(7)
    pieces = sorted({"".join(rng.choice("(1+2)*x- .") for _ in range(rng.randint(1, 6))) for _ in range(1500)})
    tok = ToyTokenizer(pieces)
    cls, maps = lift_to_classes(dfa, vocab_bytes(tok))
    seen: dict[int, frozenset] = {}
    for tid in range(3, tok.vocab_size):
        data = tok.token_bytes[tid]
        want = frozenset((q, e) for q in range(dfa.n_states) if (e := dfa.run(data, q)) >= 0)
        got = frozenset() if cls[tid] < 0 else frozenset((int(a), int(e)) for a, e in maps[cls[tid]])
        assert got == want, data
        if cls[tid] >= 0:
            assert seen.setdefault(int(cls[tid]), want) == want  # one map per class
    assert len(set(seen.values())) == len(seen)  # and one class per map
