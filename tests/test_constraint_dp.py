"""Tier 0: the RegexHook's DP against exhaustive enumeration on a toy vocabulary (canvases <= 5)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from test_automata import TOY_PIECES, ToyTokenizer

from structdiff.automata import canvas_dp
from structdiff.constraints import Constraint
from structdiff.constraints.hook import RegexHook
from structdiff.sampler.hooks import PassView


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path))


def _valid(tok, pat, canvas, last=True) -> bool:
    """Reference semantics: text tokens, then optionally EOS and only EOS/pad; text fully matches."""
    ids = list(canvas)
    cut = ids.index(1) if 1 in ids else len(ids)
    if any(t in (0, 2) for t in ids[:cut]) or any(t not in (0, 1) for t in ids[cut:]):
        return False
    try:
        text = tok.decode_bytes(ids[:cut]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return re.fullmatch(pat, text) is not None


def _view(n, max_tokens=None):
    return PassView(0, 0, 1, 1, torch.zeros(1, n, dtype=torch.long), torch.ones(1, dtype=torch.bool),
                    torch.zeros(1, dtype=torch.long), max_tokens or n, [[]])


def _setup(pat, n, seed, tok=None):
    tok = tok or ToyTokenizer(TOY_PIECES)
    comp = Constraint.from_regex(pat).compile(tok, canvas_length=n, max_tokens=n)
    hook = RegexHook([comp])
    logits = torch.randn(1, n, tok.vocab_size, generator=torch.Generator().manual_seed(seed)) * 1.5
    return tok, hook, logits


def _enumerate(tok, pat, logits):
    n, V = logits.shape[1:]
    lp = torch.log_softmax(logits[0], -1).numpy().astype(np.float64)
    canv, w = [], []
    for c in itertools.product(range(V), repeat=n):
        if _valid(tok, pat, c):
            canv.append(c)
            w.append(sum(lp[i, t] for i, t in enumerate(c)))
    w = np.exp(np.array(w) - max(w))
    return np.array(canv), w / w.sum()


@pytest.mark.parametrize("mode", ["dense", "chase", "chase-chunked", "segments", "no-table"])
@pytest.mark.parametrize("pat,n,seed", [(r"(ab|ba)+c?", 4, 0), (r"a*é?b", 4, 1), (r"[abc]{0,3}", 3, 2),
                                        (r"(a|é)(zz)?", 4, 3)])
def test_marginals_samples_and_best_equal_enumeration(pat, n, seed, mode, monkeypatch):
    if mode == "chase":  # backtracking by the chase over incoming pairs (Gumbel-max draws), as for big automata
        monkeypatch.setattr(canvas_dp, "_CHASE_STATES", 0)
    if mode == "chase-chunked":  # the chase reading pair weights step by step; every bulk step one position
        monkeypatch.setattr(canvas_dp, "_CHASE_STATES", 0)
        monkeypatch.setattr(canvas_dp, "_CHUNK_ELEMS", 0)
    if mode == "segments":  # sums over class sets by segments, as where the class/set incidence is too big
        monkeypatch.setattr(canvas_dp, "_DENSE_SETS", 0)
    if mode == "no-table":  # above the chase's state count, but its incoming-pair table would be too big
        monkeypatch.setattr(canvas_dp, "_CHASE_STATES", 0)
        monkeypatch.setattr(canvas_dp, "_IN_PAIRS_MAX", 0)
        monkeypatch.setattr(canvas_dp, "_MEMO", type(canvas_dp._MEMO)())
    tok, hook, logits = _setup(pat, n, seed)
    canv, w = _enumerate(tok, pat, logits)
    assert canvas_dp._chases(canvas_dp.device_automaton(hook.rows[0].automaton, "cpu")) == mode.startswith("chase")
    V = tok.vocab_size
    exact = np.zeros((n, V))
    for c, p in zip(canv, w):
        exact[np.arange(n), c] += p
    view = _view(n)
    hook.begin_block(view)
    out = hook.process_logits(view, logits.clone())
    marg = torch.softmax(out[0], -1).numpy()
    assert np.abs(marg - exact).max() < 1e-5  # exact up to float32 rounding
    g = torch.Generator().manual_seed(seed)
    draws = 3000
    freq = np.zeros((n, V))
    for _ in range(draws):
        s, best = hook.propose(view, out, None, g)
        s = s[0].tolist()
        assert _valid(tok, pat, s)
        freq[np.arange(n), s] += 1.0 / draws
    assert np.abs(freq - exact).max() < 0.04  # > 4.5 sigma for N=3000
    assert tuple(best[0].tolist()) == tuple(canv[np.argmax(w)])  # the most likely valid canvas
    noise = hook.renoise(view, torch.tensor([s]), torch.ones(1, n, dtype=torch.bool), g)[0].numpy()
    assert all(exact[i, t] > 0 for i, t in enumerate(noise))  # re-noise only with allowed tokens


def test_pins_and_start_state_and_budget():
    tok, hook, logits = _setup(r"(ab)+c", 5, 7)
    a, b = tok.token_bytes.index(b"a"), tok.token_bytes.index(b"b")
    pins = np.zeros(5, dtype=np.int64), np.zeros(5, dtype=bool)
    pins[0][1], pins[1][1] = b, True
    hook = RegexHook(hook.rows, pins=[pins])
    view = _view(5, max_tokens=4)  # last position past the budget: EOS/pad only
    hook.begin_block(view)
    out = hook.process_logits(view, logits.clone())
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        s, best = hook.propose(view, out, None, g)
        for row in (s[0].tolist(), best[0].tolist()):
            assert row[1] == b and row[4] in (0, 1) and _valid(tok, r"(ab)+c", row)
    assert torch.isinf(out[0, 1]).sum() == tok.vocab_size - 1 and torch.softmax(out[0, 1], -1)[b] == 1.0
    del a


_ATOMS = st.sampled_from(["a", "b", "c", "é", "[ab]", "(ab|ba)", "zz", "."])


@st.composite
def _regexes(draw):
    parts = draw(st.lists(st.tuples(_ATOMS, st.sampled_from(["", "?", "*", "+", "{1,2}"])), min_size=1, max_size=4))
    body = "".join(a + q for a, q in parts)
    if draw(st.booleans()):
        body = f"(?:{body}|{draw(_ATOMS)})"
    return body


@settings(max_examples=40, deadline=None)
@given(pat=_regexes(), seed=st.integers(0, 10_000), n=st.integers(2, 6))
def test_property_samples_and_best_fullmatch(pat, seed, n):
    tok = ToyTokenizer(TOY_PIECES)
    comp = Constraint.from_regex(pat).compile(tok, canvas_length=n, max_tokens=64)
    hook = RegexHook([comp])
    logits = torch.randn(1, n, tok.vocab_size, generator=torch.Generator().manual_seed(seed)) * 3
    g = torch.Generator().manual_seed(seed)
    state = 0
    text = b""
    for block in range(64 // n + 1):  # block-autoregressive until the budget ends
        off = block * n
        if off >= 64:
            break
        view = PassView(block, 0, 1, 1, torch.zeros(1, n, dtype=torch.long), torch.ones(1, dtype=torch.bool),
                        torch.tensor([off]), 64, [[]])
        hook.begin_block(view)
        out = hook.process_logits(view, logits.clone())
        s, best = hook.propose(view, out, None, g)
        auto = comp.automaton
        assert auto.run(s[0].tolist(), state) >= 0  # accepted tokens always extend to a valid canvas
        best = hook.finish_block(view, best)
        ids = best[0].tolist()
        state = int(hook.state[0])
        text += tok.decode_bytes(ids[: ids.index(1)] if 1 in ids else ids)
        if 1 in ids:
            break
    assert auto.accept[state]
    assert re.fullmatch(pat, text.decode("utf-8"), re.DOTALL if False else 0) is not None
