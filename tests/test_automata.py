"""Tier 0: byte DFA, token classes, token automaton, cache, bad input (toy vocabularies, no model)."""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np
import pytest

from structdiff.automata import build_byte_dfa, compile_regex
from structdiff.automata.tokens import lift_to_classes, vocab_bytes
from structdiff.constraints import Constraint
from structdiff.errors import InputError, SchemaError, UnsatisfiableError


class ToyTokenizer:
    """Minimal Tokenizer look-alike: ids 0-2 are <pad> <eos> <bos>, the rest are byte strings."""

    def __init__(self, pieces):
        self.token_bytes = (None, None, None, *[p if isinstance(p, bytes) else p.encode() for p in pieces])
        self.pad_id, self.eos_id, self.bos_id = 0, 1, 2
        self.special_ids = frozenset({0, 1, 2})
        self.vocab_size = len(self.token_bytes)
        self.fingerprint = hashlib.sha256(repr(self.token_bytes).encode()).hexdigest()[:32]

    def decode_bytes(self, ids):
        return b"".join(self.token_bytes[i] or b"" for i in ids)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def encode(self, text, add_bos=False):
        data, ids = text.encode(), []
        while data:  # greedy longest match
            best = max((i for i, b in enumerate(self.token_bytes) if b and data.startswith(b)),
                       key=lambda i: len(self.token_bytes[i]))
            ids.append(best)
            data = data[len(self.token_bytes[best]):]
        return ids


# 'é' is b'\xc3\xa9': its bytes are separate tokens, and b"a\xc3" ends inside the character
TOY_PIECES = ["a", "b", "ab", "ba", "c", b"\xc3", b"\xa9", "aa", b"a\xc3", "zz"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path))


def test_byte_dfa_matches_python_re():
    pat = r"(ab|é)[0-9]{2,3}x?"
    dfa = build_byte_dfa(pat)
    for s in ["ab12", "é123x", "ab1", "é1234", "abx", "", "ab12xx"]:
        assert dfa.matches(s.encode()) == bool(re.fullmatch(pat, s)), s


@pytest.mark.parametrize("bad,pos", [("a(b", 1), ("[z-a]", 1), ("a{3,2}", 1)])  # the quantifier starts at 1
def test_invalid_regex_names_position(bad, pos):
    with pytest.raises(SchemaError) as e:
        build_byte_dfa(bad)
    assert e.value.pointer == pos and "position" in str(e.value)


def test_empty_language_and_catastrophic_dfa_are_clear_errors():
    with pytest.raises(SchemaError, match="matches nothing"):
        build_byte_dfa(r"a[^\x00-\x{10FFFF}]")
    with pytest.raises(SchemaError, match="limit"):
        build_byte_dfa("(a|b)*a(a|b){16}")  # 2^16+ states


@pytest.mark.parametrize("pat", [r"(ab|ba)+c?", r"a*é?b", r"[abc]{0,3}", r"(a|é)(zz)?", r".*"])
def test_token_classes_equal_per_token_byte_walks(pat):
    tok = ToyTokenizer(TOY_PIECES)
    dfa = build_byte_dfa(pat)
    cls, maps = lift_to_classes(dfa, vocab_bytes(tok))
    for tid, b in enumerate(tok.token_bytes):
        want = {} if b is None else {q: dfa.run(b, q) for q in range(dfa.n_states)}
        want = {q: e for q, e in want.items() if e >= 0}
        got = {} if cls[tid] < 0 else {int(a): int(e) for a, e in maps[cls[tid]]}
        assert got == want, (tid, b)
    # tokens with identical maps share a class
    sigs = {}
    for tid in range(3, tok.vocab_size):
        if cls[tid] >= 0:
            sigs.setdefault(cls[tid], set()).add(frozenset((q, dfa.run(tok.token_bytes[tid], q))
                                                           for q in range(dfa.n_states)))
    assert all(len(s) == 1 for s in sigs.values())


def test_automaton_special_tokens_and_split_utf8():
    tok = ToyTokenizer(TOY_PIECES)
    auto = compile_regex("aé", tok)
    a, e1, e2, ae1 = (tok.token_bytes.index(x) for x in (b"a", b"\xc3", b"\xa9", b"a\xc3"))
    end = auto.end_state
    for seq in ([a, e1, e2], [ae1, e2]):  # é split across tokens, partly valid token "a\xc3"
        s = auto.run(seq)
        assert s >= 0 and auto.accept[s] and auto.run([*seq, 1, 0, 1]) == end
    assert auto.run([a, 1]) == -1  # EOS only where the text is complete
    assert auto.run([0]) == -1 and auto.run([2]) == -1  # pad/bos never inside text
    assert auto.run([a, e1]) >= 0 and not auto.accept[auto.run([a, e1])]
    assert auto.dist[0] == 2  # "a\xc3" + "\xa9"


def test_cache_hit_is_identical(tmp_path):
    tok = ToyTokenizer(TOY_PIECES)
    a1 = compile_regex(r"(ab)+", tok)
    assert list((tmp_path / "automata").glob("*.npz"))
    from structdiff.automata import automaton

    automaton._MEMO.clear()
    a2 = compile_regex(r"(ab)+", tok)
    assert a2 is not a1
    for name in ("token_class", "members", "e_src", "e_cls", "e_dst", "dist"):
        assert np.array_equal(getattr(a1, name), getattr(a2, name))
    with pytest.raises(ValueError):
        a2.token_class[0] = 5  # immutable


def test_constraints_bad_input():
    tok = ToyTokenizer(TOY_PIECES)
    with pytest.raises(InputError, match="empty"):
        Constraint.from_choices([])
    with pytest.raises(InputError):
        Constraint.from_choices("ab")
    with pytest.raises(UnsatisfiableError, match="max_tokens"):
        Constraint.from_regex("c{9}").compile(tok, canvas_length=4, max_tokens=8)
    with pytest.raises(UnsatisfiableError):
        Constraint.from_regex("q").compile(tok, canvas_length=4, max_tokens=8)  # no token spells "q"
    c1, c2 = Constraint.from_regex("a+"), Constraint.from_regex("a+")
    assert c1 == c2 and hash(c1) == hash(c2) and c1 != Constraint.from_regex("a*")


def test_choices_escape_literals():
    opts = ["a.b", "(x)", "1+1", "é ü", "[]{}|^$\\*?"]
    c = Constraint.from_choices(opts)
    for o in opts:
        assert c.accepts(o)
    for o in ["axb", "x", "11", "é", ""]:
        assert not c.accepts(o)


def test_lift_all_short_strings_brute_force():
    """Every string of <= 3 toy tokens: automaton acceptance == re.fullmatch on the decoded bytes."""
    tok = ToyTokenizer(TOY_PIECES)
    pat = r"(a|b)*é?c?"
    auto = compile_regex(pat, tok)
    for n in range(4):
        for seq in itertools.product(range(3, tok.vocab_size), repeat=n):
            data = tok.decode_bytes(seq)
            try:
                want = re.fullmatch(pat, data.decode("utf-8")) is not None
            except UnicodeDecodeError:
                want = False
            s = auto.run(seq)
            assert (s >= 0 and bool(auto.accept[s])) == want, seq


def test_within_budget_drops_only_states_no_short_output_passes():
    """A branch that needs more tokens than the budget is dropped, and every token sequence of at most
    ``budget`` text tokens (then EOS) is accepted by the trimmed automaton exactly when by the full one."""
    from structdiff.automata import within_budget

    tok = ToyTokenizer(TOY_PIECES)
    full = compile_regex("a(b|c{5}ba|cb)c?", tok)
    small = within_budget(full, 3)
    assert small.n_states < full.n_states and small.key != full.key
    assert small.end_state == small.n_states - 1 and int(small.dist[0]) == int(full.dist[0])
    assert within_budget(full, 3) is small  # memoised
    assert within_budget(full, 50) is full  # nothing to drop: the same automaton
    text = [i for i in range(tok.vocab_size) if i not in tok.special_ids]
    n_ok = 0
    for n in range(4):
        for seq in itertools.product(text, repeat=n):
            want = full.run([*seq, tok.eos_id])
            got = small.run([*seq, tok.eos_id])
            assert (want >= 0 and full.accept[want]) == (got >= 0 and small.accept[got]), seq
            n_ok += want >= 0
    assert n_ok >= 3  # ab, acb, abc, ... are in the language within 3 tokens


def test_compiled_automaton_keeps_to_its_budget_and_hook_refuses_a_larger_one():
    from structdiff.constraints.hook import RegexHook
    from structdiff.sampler.hooks import PassView

    import torch

    tok = ToyTokenizer(TOY_PIECES)
    c = Constraint.from_regex("a(b|c{5}ba|cb)c?")
    short, long_ = (c.compile(tok, canvas_length=4, max_tokens=m) for m in (3, 12))
    assert short.automaton.n_states < long_.automaton.n_states
    hook = RegexHook([short])
    view = PassView(0, 0, 4, 4, None, torch.ones(1, dtype=torch.bool), torch.zeros(1, dtype=torch.long), 12, [[]])
    with pytest.raises(InputError, match="compiled for max_tokens=3"):
        hook.begin_block(view)
    with pytest.raises(InputError, match="compiled for max_tokens=3"):
        RegexHook([short], budgets=[8]).begin_block(view)
