"""Tier 0: the batched torch canvas DP (automata.canvas_dp via RegexHook) on toy vocabularies, on every device.

Exactness against exhaustive enumeration for a batch that mixes automata, batch independence of a
row, pins that reach across canvases, and the counter-based random draws.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from test_automata import TOY_PIECES, ToyTokenizer
from test_constraint_dp import _valid

from structdiff.automata import canvas_dp
from structdiff.automata.canvas_dp import accepts
from structdiff.constraints import Constraint
from structdiff.constraints.hook import RegexHook
from structdiff.sampler.hooks import PassView
from structdiff.sampler.rng import row_keys, uniforms

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path))


@pytest.fixture(scope="module")
def tok():
    return ToyTokenizer(TOY_PIECES)


def _view(B, n, device, block=0, max_tokens=None):
    return PassView(block, 0, 1, 1, torch.zeros(B, n, dtype=torch.long, device=device),
                    torch.ones(B, dtype=torch.bool, device=device), torch.full((B,), block * n, device=device),
                    max_tokens or n, [[] for _ in range(B)])


def _exact(tok, pat, logits_row):
    """Constrained marginals ``[n, V]`` and the most likely valid canvas, by enumeration."""
    n, V = logits_row.shape
    lp = torch.log_softmax(logits_row.double().cpu(), -1).numpy()
    marg, best, best_w, total = np.zeros((n, V)), None, -np.inf, 0.0
    for c in itertools.product(range(V), repeat=n):
        if _valid(tok, pat, c):
            w = float(lp[np.arange(n), list(c)].sum())
            marg[np.arange(n), list(c)] += np.exp(w)
            total += np.exp(w)
            if w > best_w:
                best, best_w = c, w
    return marg / total, best


@pytest.mark.parametrize("layout", ["dense", "rows", "rows+edges", "small cells"])
@pytest.mark.parametrize("device", DEVICES)
def test_mixed_batch_equals_enumeration(tok, device, layout, monkeypatch):
    monkeypatch.setattr(canvas_dp, "_MEMO", type(canvas_dp._MEMO)())
    if layout in ("rows", "rows+edges"):  # as for big automata: reductions through padded rows of rows
        monkeypatch.setattr(canvas_dp, "_ONE_LEVEL_PAD", -10**9)
        monkeypatch.setattr(canvas_dp, "_SCAN_WIDTH", 1)  # states with tail columns in the fused scan
    if layout == "small cells":  # as for a big vocabulary: a class's columns span several cells
        monkeypatch.setattr(canvas_dp, "_cell_width", lambda n: 2)
    if layout == "rows+edges":  # backtracking edge by edge, position by position
        monkeypatch.setattr(canvas_dp, "_CHASE_STATES", 0)
    # rows 0 and 2 share one automaton (one group); row 3 allows few tokens (the DP works on those columns only)
    pats = [r"(ab|ba)+c?", r"a*é?b", r"(ab|ba)+c?", r"c{1,3}"]
    n = 4
    comps = [Constraint.from_regex(p).compile(tok, canvas_length=n, max_tokens=n) for p in pats]
    hook = RegexHook(comps, seeds=[1, 2, 3, 4])
    logits = (torch.randn(4, n, tok.vocab_size, generator=torch.Generator().manual_seed(5)) * 1.5).to(device)
    view = _view(4, n, device)
    hook.begin_block(view)
    out = hook.process_logits(view, logits.clone())
    assert out.device.type == torch.device(device).type
    s, best = hook.propose(view, out, None, None)
    for b, pat in enumerate(pats):
        exact, argmax = _exact(tok, pat, logits[b])
        marg = torch.softmax(out[b].double(), -1).cpu().numpy()
        assert np.abs(marg - exact).max() < 1e-5
        assert tuple(best[b].tolist()) == argmax
        assert _valid(tok, pat, s[b].tolist())
    noise = hook.renoise(view, s, torch.ones(4, n, dtype=torch.bool, device=device), None)
    for b, pat in enumerate(pats):
        exact, _ = _exact(tok, pat, logits[b])
        assert all(exact[i, t] > 0 for i, t in enumerate(noise[b].tolist()))


@pytest.mark.parametrize("device", DEVICES)
def test_row_does_not_depend_on_the_batch(tok, device):
    n = 5
    mine = Constraint.from_regex(r"(ab|ba)+c?").compile(tok, canvas_length=n, max_tokens=n)
    other = Constraint.from_regex(r"[abc]{0,3}").compile(tok, canvas_length=n, max_tokens=n)
    logits = (torch.randn(3, n, tok.vocab_size, generator=torch.Generator().manual_seed(9)) * 2).to(device)

    def run(comps, seeds, rows):
        hook = RegexHook(comps, seeds=seeds)
        view = _view(len(comps), n, device)
        hook.begin_block(view)
        canvas = hook.initial_canvas(view, None)
        out = hook.process_logits(view, logits[rows].clone())
        draws = []
        for _ in range(5):
            s, b = hook.propose(view, out, None, None)
            noise = hook.renoise(view, s, torch.ones_like(s, dtype=torch.bool), None)
            draws.append((s[0].tolist(), b[0].tolist(), noise[0].tolist()))
        return canvas[0].tolist(), out[0], draws

    alone = run([mine], [42], [0])
    batched = run([mine, other, mine], [42, 7, 8], [0, 1, 2])
    assert alone[0] == batched[0] and alone[2] == batched[2]
    assert torch.equal(alone[1], batched[1])


@pytest.mark.parametrize("width", [1, 2, 16])
@pytest.mark.parametrize("device", DEVICES)
def test_draws_inside_a_class_follow_the_model(tok, device, width, monkeypatch):
    """A token drawn inside a class (cell by cell mass, then a column of that cell) has the model's probability
    within the class; the best token is the class's argmax, the first one on ties."""
    monkeypatch.setattr(canvas_dp, "_MEMO", type(canvas_dp._MEMO)())
    monkeypatch.setattr(canvas_dp, "_cell_width", lambda n: width)
    comp = Constraint.from_regex(r"[^x]{1,3}").compile(tok, canvas_length=3, max_tokens=3)
    da = canvas_dp.device_automaton(comp.automaton, device)
    lay = canvas_dp.layout(da, tok.vocab_size)
    assert lay.cols is None and lay.D == -(-int(da.sizes.max()) // width)
    x = (torch.randn(2, 3, tok.vocab_size, generator=torch.Generator().manual_seed(3)) * 2).to(device)
    x[1, 2] = 0.5  # every token tied
    ms = canvas_dp.class_masses(x, da, lay)
    M = 4000
    u = ((torch.arange(M, dtype=torch.float64) + 0.5) / M).to(device)  # evenly spread uniforms
    tc = da.token_class.cpu()
    for c in range(da.n_classes):
        members = (tc == c).nonzero().squeeze(1)
        if members.numel() == 0:
            continue
        cls = torch.full((2, 3), c, device=device)
        best = canvas_dp.best_in_class(x, lay, ms, cls).cpu()
        want = members[x.cpu()[..., members].argmax(-1)]  # first on ties
        assert torch.equal(best, want)
        got = torch.stack([canvas_dp.draw_in_class(x, lay, ms, cls, u[k].expand(2, 3).float()) for k in range(M)])
        got = got.cpu()  # [M, 2, 3]
        p = torch.softmax(x.cpu()[..., members].double(), -1)  # [2, 3, m]
        freq = (got[..., None] == members).double().mean(0)  # [2, 3, m]
        assert (freq - p).abs().max() < 3.0 / M
    xd = x.cpu().double()
    lm = torch.stack([(xd[..., tc == c] - xd.amax(-1, keepdim=True)).logsumexp(-1) for c in range(da.n_classes)], -1)
    assert torch.allclose(ms.lm.cpu().double(), lm, atol=1e-5)  # class log-masses relative to the best token


@pytest.mark.parametrize("device", DEVICES)
def test_output_buffers_alternate_and_keep_the_previous_pass(tok, device):
    """The constrained logits live in two buffers used in turn: the previous pass's stay intact (the loop
    self-conditions on them), and a reused buffer gives exactly what a fresh hook gives."""
    n = 4
    comps = [Constraint.from_regex(p).compile(tok, canvas_length=n, max_tokens=n) for p in (r"c{1,3}", r"(ab|ba)+c?")]
    g = torch.Generator().manual_seed(11)
    xs = [(torch.randn(1, n, tok.vocab_size, generator=g) * 2).to(device) for _ in range(3)]
    before = torch.get_num_threads()
    for comp in comps:  # the first writes only its live columns (the rest -inf once per buffer), the second all
        hook = RegexHook([comp], seeds=[0])
        view = _view(1, n, device)
        hook.begin_block(view)
        outs, copies = [], []
        for x in xs + xs[:1]:
            outs.append(hook.process_logits(view, x.clone()))
            copies.append(outs[-1].clone())
            hook.propose(view, outs[-1], None, None)
            if len(outs) > 1:
                assert torch.equal(outs[-2], copies[-2])  # the previous pass's logits are intact
        assert outs[0] is outs[2] and outs[1] is outs[3] and outs[0] is not outs[1]
        for x, got in zip(xs + xs[:1], copies):
            fresh = RegexHook([comp], seeds=[0])
            fresh.begin_block(view)
            assert torch.equal(fresh.process_logits(view, x.clone()), got)
    assert torch.get_num_threads() == before


def test_counter_draws_are_uniform_and_keyed():
    keys = row_keys([0, 1], "cpu")
    u = uniforms(keys, 3, 20000)
    assert u.min() >= 0 and u.max() < 1 and abs(float(u.mean()) - 0.5) < 0.01
    assert torch.equal(uniforms(keys[1:], 3, 10), u[1:, :10])  # a row's draws ignore the other rows
    assert not torch.equal(uniforms(keys, 4, 10), u[:, :10])


@pytest.mark.parametrize("device", DEVICES)
def test_block_end_respects_pins_of_later_blocks(tok, device):
    """The first canvas may end after 'b' by the budget alone; a pinned 'a' in the second forbids it."""
    n, N = 3, 6
    comp = Constraint.from_regex(r"a*b*").compile(tok, canvas_length=n, max_tokens=N)
    a, b = tok.token_bytes.index(b"a"), tok.token_bytes.index(b"b")
    pins = np.zeros(N, dtype=np.int64), np.zeros(N, dtype=bool)
    pins[0][3], pins[1][3] = a, True
    hook = RegexHook([comp], pins=[pins], seeds=[0])
    logits = torch.full((1, n, tok.vocab_size), -5.0, device=device)
    logits[..., b] = 5.0  # the model wants 'b' everywhere
    out_tokens = []
    for block in range(2):
        view = _view(1, n, device, block=block, max_tokens=N)
        hook.begin_block(view)
        out = hook.process_logits(view, logits.clone())
        s, best = hook.propose(view, out, None, None)
        out_tokens += hook.finish_block(view, best)[0].tolist()
    assert out_tokens[3] == a and b not in out_tokens[:3]
    assert accepts(comp.automaton, out_tokens)


def test_final_guard_is_the_automaton(tok):
    comp = Constraint.from_regex(r"(ab)+").compile(tok, canvas_length=4, max_tokens=4)
    ab, a, b = (tok.token_bytes.index(x) for x in (b"ab", b"a", b"b"))
    assert comp.matches_tokens([ab, a, b, 1]) and comp.matches_tokens([a, b, 1, 0])
    assert not comp.matches_tokens([a, 1, 0, 0]) and not comp.matches_tokens([ab, 0, 1, 0])


@pytest.mark.parametrize("device", DEVICES)
def test_rows_at_different_blocks_budgets_and_pins_share_one_hook_call(tok, device):
    """The serve pattern: a fresh hook per block over the rows in flight, each at its own block, with its own
    budget, pins and passes, continuing from its cursor; every row ends exactly as it does alone."""
    from structdiff.constraints.hook import RowCursor

    n = 4
    ab = Constraint.from_regex(r"(ab|ba)+c?")
    rows = {  # name: (constraint, budget, pinned (position, token bytes), seed, passes per block)
        "A": (ab, 16, None, 5, 3),
        "B": (ab, 8, (5, b"a"), 6, 2),  # A's automaton, another budget, a pin in its second block
        "C": (Constraint.from_regex(r"[abc]+"), 10, None, 7, 4),  # budget not a whole number of canvases
    }
    comps = {k: c.compile(tok, canvas_length=n, max_tokens=b) for k, (c, b, *_) in rows.items()}
    pins = {}
    for k, (_, b, pin, *_) in rows.items():
        if pin is not None:
            t, m = np.zeros(b, dtype=np.int64), np.zeros(b, dtype=bool)
            t[pin[0]], m[pin[0]] = tok.token_bytes.index(pin[1]), True
            pins[k] = (t, m)

    def logits(k, block, p):  # what the model says to row k: the same alone or batched; it shuns EOS
        g = torch.Generator().manual_seed(1000 * ord(k) + 10 * block + p)
        x = torch.randn(n, tok.vocab_size, generator=g) * 2
        x[:, [tok.pad_id, tok.eos_id]] -= 8.0
        return x.to(device)

    def step(names, blocks, cursors):
        """One block for ``names`` together: (tokens per row, cursors after it)."""
        B = len(names)
        hook = RegexHook([comps[k] for k in names], pins=[pins.get(k) for k in names],
                         seeds=[rows[k][3] for k in names], budgets=[rows[k][1] for k in names],
                         cursors=[cursors[k] for k in names], fail_alone=True)
        offset = torch.tensor([blocks[k] * n for k in names], device=device)
        view = PassView(0, 0, 1, 1, None, torch.ones(B, dtype=torch.bool, device=device), offset, 99, [[]] * B)
        hook.begin_block(view)
        canvas = hook.initial_canvas(view, None)
        best = canvas.clone()
        for p in range(max(rows[k][4] for k in names)):
            active = torch.tensor([p < rows[k][4] for k in names], device=device)
            view.canvas, view.active = canvas, active
            x = torch.stack([logits(k, blocks[k], p) for k in names])
            out = hook.process_logits(view, x)
            s, b = hook.propose(view, out, None, None)
            keep = torch.arange(n, device=device) % 2 == p % 2  # accept half, re-noise half
            noise = hook.renoise(view, s, ~keep.expand(B, n), None)
            canvas = torch.where(active[:, None], torch.where(keep, s, noise), canvas)
            best = torch.where(active[:, None], b, best)
        view.active = torch.ones(B, dtype=torch.bool, device=device)
        tokens = hook.finish_block(view, best)
        assert not hook.failed
        return {k: tokens[i].tolist() for i, k in enumerate(names)}, dict(zip(names, hook.row_cursors()))

    def run(schedule):
        out = {k: [] for k in rows}
        blocks = dict.fromkeys(rows, 0)
        cursors = {k: RowCursor() for k in rows}
        for names in schedule:
            toks, cur = step(names, blocks, cursors)
            for k in names:
                out[k] += toks[k]
                blocks[k] += 1
            cursors.update(cur)
        return out, cursors

    alone = {}
    for k in rows:
        got, cur = run([[k]] * -(-rows[k][1] // n))
        alone[k] = (got[k], cur[k])
    together, cur = run([["A", "C"], ["A", "B", "C"], ["A", "B", "C"], ["A"]])  # B joins at block 1 of A and C
    for k in rows:
        assert together[k] == alone[k][0], k
        assert cur[k] == alone[k][1], k
        assert accepts(comps[k].automaton, together[k][:rows[k][1]]), k
    assert together["B"][5] == tok.token_bytes.index(b"a")
    assert cur["A"].draws != cur["B"].draws  # each row counts its own draws


def _edge_dp(da, lm, start, end_ok):
    """Reference forward / backward / Viterbi over the edges, float64 log space ``[L+1, G, S]`` each (numpy)."""
    G, L, _ = lm.shape
    src, cls, dst = (a.cpu().numpy() for a in (da.src, da.cls, da.dst))
    w = lm.double().cpu().numpy()
    S = da.n_states
    fa, fv, fb = (np.full((L + 1, G, S), -np.inf) for _ in range(3))
    fa[0, np.arange(G), start.cpu().numpy()] = 0.0
    fv[0] = fa[0]
    fb[L] = np.where(end_ok.cpu().numpy(), 0.0, -np.inf)
    for i in range(L):
        for g in range(G):
            a = fa[i, g, src] + w[g, i, cls]
            fa[i + 1, g] = [np.logaddexp.reduce(a[dst == q]) if (dst == q).any() else -np.inf for q in range(S)]
            v = fv[i, g, src] + w[g, i, cls]
            fv[i + 1, g] = [v[dst == q].max(initial=-np.inf) for q in range(S)]
            j = L - 1 - i
            b = fb[j + 1, g, dst] + w[g, j, cls]
            fb[j, g] = [np.logaddexp.reduce(b[src == q]) if (src == q).any() else -np.inf for q in range(S)]
    return fa, fb, fv


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("width", [None, 1, 2])
@pytest.mark.parametrize("device", DEVICES)
def test_fused_scan_equals_edge_dp(tok, device, width, dense, monkeypatch):
    """Forward, backward and Viterbi in one loop (all widths of the column layout, i.e. with and without tail
    columns; class-set sums by one matmul or by segments) equal a plain DP over the edges, support (which
    entries are -inf) included."""
    monkeypatch.setattr(canvas_dp, "_SCAN_WIDTH", width)
    if not dense:
        monkeypatch.setattr(canvas_dp, "_DENSE_SETS", 0)
    monkeypatch.setattr(canvas_dp, "_MEMO", type(canvas_dp._MEMO)())
    comp = Constraint.from_regex(r"(ab|ba|é)+c?[abc]{0,2}").compile(tok, canvas_length=6, max_tokens=6)
    da = canvas_dp.device_automaton(comp.automaton, device)
    G, L, C = 3, 6, da.n_classes
    g = torch.Generator().manual_seed(3)
    lm = torch.randn(G, L, C, generator=g) * 4
    lm[torch.rand(G, L, C, generator=g) < 0.3] = float("-inf")  # classes without mass (pins, budget)
    lm, best = lm.to(device), (lm + torch.randn(G, L, C, generator=g)).to(device)
    start = torch.tensor([0, 0, 1], device=device).clamp(max=da.n_states - 1)
    end_ok = da.accept.expand(G, -1).clone()
    end_ok[2] = True
    la, lb, vit = canvas_dp.forward_backward(da, canvas_dp.set_values(da, lm), start, end_ok,
                                             canvas_dp.set_values(da, best, "max"))
    fa, fb, _ = _edge_dp(da, lm, start, end_ok)
    _, _, fv = _edge_dp(da, best, start, end_ok)
    for got, ref in ((la, fa), (lb, fb), (vit, fv)):
        got = got.double().cpu().numpy()
        assert np.array_equal(np.isfinite(got), np.isfinite(ref))
        fin = np.isfinite(ref)
        assert np.abs(got[fin] - ref[fin]).max() < 1e-4
    sv = canvas_dp.set_values(da, lm)
    for one, both in ((canvas_dp.forward(da, sv, start), la), (canvas_dp.backward(da, sv, end_ok), lb),
                      (canvas_dp.backward(da, sv, end_ok, full=False), lb[0])):  # one lane alone: the same
        assert torch.equal(torch.isfinite(one), torch.isfinite(both))
        assert torch.allclose(one.nan_to_num(neginf=0.0), both.nan_to_num(neginf=0.0), atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_set_and_class_sums_keep_their_support_far_below_the_max(tok, device, monkeypatch):
    """The matmul sums (class sets, class posteriors) floor terms at e^-80 of their row's max: a set or class whose
    every term lies thousands of nats below stays finite (never dropped by underflow), and within 80 nats of the
    max they equal the segmented log-sum-exp."""
    monkeypatch.setattr(canvas_dp, "_MEMO", type(canvas_dp._MEMO)())
    comp = Constraint.from_regex(r"(ab|ba|é)+c?[abc]{0,2}").compile(tok, canvas_length=6, max_tokens=6)
    da = canvas_dp.device_automaton(comp.automaton, device)
    assert canvas_dp._incidence(da) is not None
    G, L, C = 2, 6, da.n_classes
    g = torch.Generator().manual_seed(5)
    lm = torch.randn(G, L, C, generator=g) * 4
    far = torch.rand(G, L, C, generator=g) < 0.4
    lm[far] -= 3000.0  # far below the position's best class
    lm[torch.rand(G, L, C, generator=g) < 0.2] = float("-inf")
    lm = lm.to(device)
    dense = canvas_dp.set_values(da, lm)
    monkeypatch.setattr(canvas_dp, "_DENSE_SETS", 0)
    seg = canvas_dp.set_values(da, lm)
    assert torch.equal(torch.isfinite(dense), torch.isfinite(seg))
    near = torch.isfinite(seg) & (seg > seg.amax(-1, keepdim=True) - 70)
    assert torch.allclose(dense[near], seg[near], atol=1e-4)


@pytest.mark.parametrize("precision", ["highest", "high"])
@pytest.mark.parametrize("device", DEVICES)
def test_set_sums_keep_float32_precision_when_tf32_is_allowed(device, precision):
    """Sums into class sets are one matmul; where a user allows TF32 on CUDA they still keep float32 precision."""
    g = torch.Generator().manual_seed(0)
    v = (torch.randn(64, 300, generator=g) * 4).to(device)
    v[:, ::7] = float("-inf")
    inc = (torch.rand(300, 40, generator=g) < 0.2).float().to(device)
    want = torch.logsumexp(v.double()[:, :, None] + torch.log(inc.double())[None], dim=1)
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        got = canvas_dp._sum_by(v, inc)
    finally:
        torch.set_float32_matmul_precision(old)
    assert torch.equal(torch.isfinite(got), torch.isfinite(want))
    fin = torch.isfinite(want)
    assert (got.double()[fin] - want[fin]).abs().max() < 1e-5
