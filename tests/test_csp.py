"""The generic CSP layer: rules and propagation, exact search (vs brute force), the canvas hook, KenKen."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structdiff.constraints.csp import CSP, AllDifferent, Conflict, Predicate, SearchLimitError, bits, popcount
from structdiff.constraints.csp_hook import CanvasLayout, CSPHook
from structdiff.constraints.puzzles import Cage, KenKen, grid_layout
from structdiff.errors import InputError, UnsatisfiableError
from structdiff.sampler import SamplerConfig, denoise


class FakeModel:
    """A model stand-in whose logits prefer fixed tokens per output position (no network, milliseconds).

    ``prefer(position) -> token or None``: that token gets a high logit at that output position.
    """

    def __init__(self, tokenizer, canvas_length, prefer, strength=8.0):
        self.tokenizer = tokenizer
        self.canvas_length = canvas_length
        self.vocab_size = tokenizer.vocab_size
        self.max_context = 4096
        self.device = torch.device("cpu")
        self.embed_dtype = torch.float32
        self.prefer = prefer
        self.strength = strength

    def start(self, prompt_ids, attention_mask=None):
        return {"block": 0}

    def canvas_logits(self, ctx, canvas, self_conditioning):
        B, L = canvas.shape
        logits = torch.zeros((B, L, self.vocab_size))  # [B, L, V]
        for i in range(L):
            tok = self.prefer(ctx["block"] * L + i)
            if tok is not None:
                logits[:, i, tok] = self.strength
        return logits

    def extend(self, ctx, block_tokens):
        ctx["block"] += 1


@pytest.fixture(scope="module")
def tok():
    from structdiff.backend import build_tiny_tokenizer

    return build_tiny_tokenizer()


def test_bits_and_popcount():
    assert bits(0b10110) == [1, 2, 4] and popcount(0b10110) == 3 and bits(0) == []


def test_all_different_singles_hidden_singles_and_pigeonhole():
    csp = CSP(3, [1, 2, 3], [AllDifferent([0, 1, 2])])
    doms = csp.propagate([0b001, 0b111, 0b011])  # var0 = 1 -> var2 = 2 -> var1 = 3
    assert doms == [0b001, 0b100, 0b010]
    doms = CSP(3, [1, 2, 3], [AllDifferent([0, 1, 2])]).propagate([0b011, 0b011, 0b111])
    assert doms[2] == 0b100  # hidden single: value 3 fits only var 2
    with pytest.raises(Conflict) as exc:
        csp.propagate([0b011, 0b011, 0b011])  # three variables, two values
    assert exc.value.vars == {0, 1, 2}
    with pytest.raises(Conflict):
        csp.propagate([0b001, 0b001, 0b111])


def test_predicate_arc_consistency_and_conflict():
    csp = CSP(2, [1, 2, 3, 4], [Predicate([0, 1], lambda v: v[0] + v[1] == 7, range(1, 5))])
    assert csp.propagate([0b1111, 0b1111]) == [0b1100, 0b1100]  # only 3+4 and 4+3
    with pytest.raises(Conflict):
        csp.propagate([0b0001, 0b1111])  # 1 + x = 7 has no x in 1..4


def test_csp_input_errors():
    with pytest.raises(InputError):
        AllDifferent([0, 0])
    with pytest.raises(InputError):
        CSP(2, [1, 2], [AllDifferent([0, 5])])
    with pytest.raises(InputError):
        CSP(0, [1], [])
    with pytest.raises(InputError):
        CanvasLayout(3, (0, 1), (), (10, 11))  # position 2 is neither a variable nor fixed
    with pytest.raises(InputError):
        CanvasLayout(2, (0, 1), (), (10, 10))  # two values share a token


def _brute(csp: CSP) -> list[list[int]]:
    k = len(csp.values)
    return [list(v) for v in itertools.product(range(k), repeat=csp.n) if csp.is_solution(list(v))]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 4), k=st.integers(2, 3), data=st.data())
def test_exact_search_equals_brute_force(n, k, data):
    rules = []
    for _ in range(data.draw(st.integers(0, 3))):
        scope = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=n, unique=True))
        if data.draw(st.booleans()):
            rules.append(AllDifferent(scope))
        else:
            target = data.draw(st.integers(len(scope), len(scope) * k))
            rules.append(Predicate(scope, lambda v, t=target: sum(v) == t, range(1, k + 1)))
    doms = [data.draw(st.integers(1, (1 << k) - 1)) for _ in range(n)]
    csp = CSP(n, range(1, k + 1), rules, doms)
    expected = sorted(_brute(csp))
    assert sorted(csp.solve(limit=10**6)) == expected
    for limit in (1, 2):
        assert len(csp.solve(limit=limit)) == min(limit, len(expected))


def test_search_limit_is_a_clear_error():
    csp = CSP(8, range(8), [AllDifferent(range(8))])
    with pytest.raises(SearchLimitError, match="gave up"):
        csp.solve(limit=10**6, max_nodes=5)


def _latin(n: int) -> CSP:
    rules = [AllDifferent([r * n + c for c in range(n)]) for r in range(n)]
    rules += [AllDifferent([r * n + c for r in range(n)]) for c in range(n)]
    return CSP(n * n, range(1, n + 1), rules)


def test_conflict_renoises_the_model_value_involved(tok):
    """a, b in {1, 2}, c in {1, 2, 3}, pairwise != (weak propagation): a model set on c = 1 empties a
    domain; the conflict re-noises c (the model value involved) and the output is still a solution."""
    neq = [Predicate(p, lambda v: v[0] != v[1], range(1, 4), "!=") for p in ((0, 1), (1, 2), (0, 2))]
    csp = CSP(3, [1, 2, 3], neq, [0b011, 0b011, 0b111])
    layout = grid_layout(tok, 1, 3, ["1", "2", "3"])
    one = tok.encode("1")[0]
    model = FakeModel(tok, 8, lambda pos: one if pos == 2 else None, strength=30.0)
    hook = CSPHook([csp, csp], layout, canvas_length=8, eos_id=tok.eos_id, pad_id=tok.pad_id)
    out = denoise(model, torch.tensor([[2, 30], [2, 31]]), config=SamplerConfig(max_tokens=hook.max_tokens),
                  hook=hook, generator=torch.Generator().manual_seed(0))
    for b, stats in enumerate(hook.stats):
        assert csp.is_solution(stats.values) and stats.values[2] == 2
        assert tok.decode(out.tokens[b, :layout.length].tolist()) == "".join(str(v + 1) for v in stats.values)
        assert stats.conflicts >= 1 and stats.renoised_cells >= 1
        assert stats.cells_by_model + stats.cells_by_propagation + stats.cells_by_solver == 3


def test_hook_follows_a_consistent_model(tok):
    """A model that writes a valid Latin square places it: no conflicts, no solver."""
    n = 4
    square = [[(r + c) % n + 1 for c in range(n)] for r in range(n)]
    layout = grid_layout(tok, n, n, [str(v) for v in range(1, n + 1)])
    pos_val = {layout.var_pos[r * n + c]: tok.encode(str(square[r][c]))[0] for r in range(n) for c in range(n)}
    model = FakeModel(tok, 32, pos_val.get, strength=20.0)
    hook = CSPHook([_latin(n)], layout, canvas_length=32, eos_id=tok.eos_id, pad_id=tok.pad_id)
    denoise(model, torch.tensor([[2, 30]]), config=SamplerConfig(max_tokens=hook.max_tokens), hook=hook,
            generator=torch.Generator().manual_seed(1))
    st_ = hook.stats[0]
    assert [v + 1 for v in st_.values] == [d for row in square for d in row]
    assert st_.cells_by_model >= 1 and st_.cells_by_solver == 0 and not st_.solver_stepped_in
    assert st_.conflicts == 0


def test_hook_time_limit_hands_over_to_the_solver(tok):
    n = 4
    layout = grid_layout(tok, n, n, [str(v) for v in range(1, n + 1)])
    model = FakeModel(tok, 32, lambda pos: None)  # flat logits: nothing is ever confident
    hook = CSPHook([_latin(n)], layout, canvas_length=32, eos_id=tok.eos_id, pad_id=tok.pad_id, time_limit=0.0)
    out = denoise(model, torch.tensor([[2, 30]]), config=SamplerConfig(max_tokens=hook.max_tokens), hook=hook)
    assert _latin(n).is_solution(hook.stats[0].values)
    assert out.rows[0].passes <= 3  # the solver finished the canvas on the first pass


def test_hook_rejects_contradictory_givens(tok):
    layout = grid_layout(tok, 1, 2, ["1", "2"])
    bad = CSP(2, [1, 2], [AllDifferent([0, 1])], [0b01, 0b01])
    with pytest.raises(UnsatisfiableError):
        CSPHook([bad], layout, canvas_length=8, eos_id=tok.eos_id, pad_id=tok.pad_id)


KENKEN_3 = [Cage(((0, 0), (0, 1)), "+", 3), Cage(((0, 2), (1, 2)), "+", 5), Cage(((1, 0), (2, 0)), "*", 6),
            Cage(((1, 1), (2, 1)), "-", 2), Cage(((2, 2),), "=", 1)]


def test_kenken_exact_and_input_errors():
    assert KenKen(3, KENKEN_3).solve_exact() == [[1, 2, 3], [3, 1, 2], [2, 3, 1]]
    with pytest.raises(InputError, match="cover every cell"):
        KenKen(3, KENKEN_3[:-1])
    with pytest.raises(InputError, match="needs 2"):
        KenKen(3, [*KENKEN_3[:-1], Cage(((2, 2),), "-", 1)])
    with pytest.raises(InputError, match="unknown cage"):
        KenKen(3, [*KENKEN_3[:-1], Cage(((2, 2),), "^", 1)])
    with pytest.raises(UnsatisfiableError):
        KenKen(3, [*KENKEN_3[:-1], Cage(((2, 2),), "=", 3)]).solve_exact()


def test_kenken_with_a_fake_model(tok):
    k = KenKen(3, KENKEN_3)
    model = FakeModel(tok, 16, lambda pos: tok.encode("3")[0])
    res = k.solve(model, seed=0)
    assert res.grid == [[1, 2, 3], [3, 1, 2], [2, 3, 1]]  # the unique solution, whatever the model wants
    assert res.stats.cells_by_model + res.stats.cells_by_propagation + res.stats.cells_by_solver == 9


@pytest.mark.tier1
def test_kenken_with_the_tiny_model(tiny_model):
    cages = [Cage(((0, 0), (1, 0)), "+", 4), Cage(((0, 1), (0, 2)), "-", 1), Cage(((0, 3), (1, 3)), "*", 8),
             Cage(((1, 1), (1, 2)), "/", 4), Cage(((2, 0), (2, 1), (3, 0)), "+", 7), Cage(((2, 2), (2, 3)), "-", 1),
             Cage(((3, 1), (3, 2), (3, 3)), "*", 6)]
    k = KenKen(4, cages)
    res = k.solve(tiny_model, seed=3)
    assert k.csp().is_solution([d - 1 for row in res.grid for d in row])
