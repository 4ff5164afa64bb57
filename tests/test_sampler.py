"""The sampler's hooks, stats and input checks (tier 1: tiny random model)."""

from __future__ import annotations

import pytest
import torch

import structdiff
from structdiff.errors import InputError
from structdiff.sampler import CanvasHook, SamplerConfig, denoise, entropy, entropy_bound_accept

pytestmark = pytest.mark.tier1


def test_entropy_matches_torch_categorical():
    logits = torch.randn(3, 5, 11) * 4
    ref = torch.distributions.Categorical(logits=logits).entropy()
    assert torch.equal(entropy(logits), ref)


def test_entropy_bound_accepts_lowest_entropy_prefix():
    ent = torch.tensor([[0.5, 0.0, 0.05, 2.0, 0.04]])
    mask = entropy_bound_accept(ent, 0.1)
    # sorted: 0.0, 0.04, 0.05, 0.5, 2.0 ; cumsum - self: 0, 0, 0.04, 0.09, 0.59 -> first four accepted
    assert mask.tolist() == [[True, True, True, False, True]]


class _Only(CanvasHook):
    """Forces every position to one token: a minimal whole-canvas constraint."""

    def __init__(self, token: int):
        self.token = token
        self.records = []

    def process_logits(self, view, logits):
        out = torch.full_like(logits, float("-inf"))
        out[..., self.token] = 0.0
        return out

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        return torch.full_like(accepted_canvas, self.token)

    def observe(self, record):
        self.records.append(record)


def test_hooks_steer_every_pass(tiny_model):
    hook = _Only(500)
    ids = torch.tensor([[2, 100, 101]])
    out = denoise(tiny_model, ids, config=SamplerConfig(max_tokens=64, max_passes=6), hook=hook,
                  generator=torch.Generator().manual_seed(0))
    assert set(out.tokens[0].tolist()) == {500}
    # a forced canvas is stable and has zero entropy: the row stops after two passes
    assert out.rows[0].passes == len(hook.records) == 2
    assert all(r.canvas.shape == (1, 64) for r in hook.records)
    assert out.rows[0].tokens == 64 and out.rows[0].tokens_per_pass == 32


def test_stats_are_consistent(tiny_model):
    ids = torch.tensor([[2, 100, 101], [2, 7, 8]])
    out = denoise(tiny_model, ids, config=SamplerConfig(max_tokens=64, max_passes=5),
                  generator=torch.Generator().manual_seed(1))
    for row in out.rows:
        assert row.passes == sum(row.passes_per_block) == len(row.accepted_per_pass)
        assert all(a + r == 64 for a, r in zip(row.accepted_per_pass, row.renoised_per_pass))
    assert len(out.seconds_per_pass) == 5 and out.seconds > 0


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_max_tokens(bad):
    with pytest.raises(InputError, match="max_tokens"):
        SamplerConfig(max_tokens=bad)


def test_bad_schedule():
    with pytest.raises(InputError):
        SamplerConfig(t_min=0.9, t_max=0.5)
    with pytest.raises(InputError):
        SamplerConfig(max_passes=0)


def test_bad_prompt_tensors(tiny_model):
    with pytest.raises(InputError, match="empty"):
        denoise(tiny_model, torch.zeros((1, 0), dtype=torch.long))
    with pytest.raises(InputError, match="token ids"):
        denoise(tiny_model, torch.tensor([[2, tiny_model.vocab_size + 5]]))
    with pytest.raises(InputError):
        denoise(tiny_model, torch.tensor([[0.5, 1.0]]))


def test_prompt_longer_than_context(tiny_model):
    ids = torch.full((1, tiny_model.max_context), 5, dtype=torch.long)
    with pytest.raises(InputError, match="context"):
        denoise(tiny_model, ids, config=SamplerConfig(max_tokens=64))


# -- the public unconstrained call ------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["", "   \n", ["ok", ""], []])
def test_generate_rejects_empty_prompts(tiny_model, prompt):
    with pytest.raises(InputError):
        structdiff.generate(prompt, tiny_model, max_tokens=8, max_passes=2)


def test_generate_rejects_bad_seed_and_prompt_type(tiny_model):
    with pytest.raises(InputError, match="seed"):
        structdiff.generate("hi", tiny_model, max_tokens=8, seed=1.5, max_passes=2)
    with pytest.raises(InputError, match="str"):
        structdiff.generate([b"bytes"], tiny_model, max_tokens=8, max_passes=2)


def test_generate_is_reproducible_and_batches_mixed_lengths(tiny_model):
    a = structdiff.generate("a short prompt", tiny_model, max_tokens=16, seed=4, max_passes=3)
    b = structdiff.generate("a short prompt", tiny_model, max_tokens=16, seed=4, max_passes=3)
    assert a == b and isinstance(a, str)
    batch = structdiff.generate(["x", "a much longer prompt than the first one"], tiny_model, max_tokens=16,
                                seed=4, max_passes=3)
    assert isinstance(batch, list) and len(batch) == 2
    assert len(tiny_model.tokenizer.encode(a)) <= 16 + 2  # cut at the token budget (re-tokenising may merge)
