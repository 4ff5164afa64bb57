"""Tier 1: the training objective runs on a tiny config and a few steps lower the loss."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from structdiff.backend.data import example_stream
from structdiff.backend.train import build_tokenizer, denoising_loss, make_batch, model_config

pytestmark = pytest.mark.tier1


@pytest.fixture
def one_thread():
    """Small matmuls on a busy machine run faster (and steadier) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_setup(seed: int, n: int, vocab_size: int):
    """``n`` record examples, a tokenizer trained on them, and a 64-wide model seeded with ``seed``."""
    from transformers import DiffusionGemmaForBlockDiffusion

    examples = list(itertools.islice(example_stream(seed, weights={"record": 1.0}), n))
    tok = build_tokenizer([s for ex in examples for s in (ex.prompt, ex.target)], vocab_size=vocab_size)
    cfg = model_config(tok.vocab_size, hidden_size=64, num_layers=2, num_experts=2, canvas_length=64)
    torch.manual_seed(seed - 5)
    return examples, tok, DiffusionGemmaForBlockDiffusion(cfg)


def test_a_few_steps_lower_the_denoising_loss(one_thread):
    examples, tok, model = _tiny_setup(5, 8, 400)
    model.train()
    ids, mask, clean = make_batch(tok, examples, 48, random.Random(0))
    assert clean.shape == (8, 48) and mask[:, -1].all() and (ids[:, -1] != tok.pad_id).all()
    assert (clean == tok.eos_id).sum() == 8

    def loss(seed: int) -> torch.Tensor:
        return denoising_loss(model, ids, mask, clean, pad_id=tok.pad_id,
                              generator=torch.Generator().manual_seed(seed), self_conditioning=1.0)

    with torch.no_grad():
        before = loss(123).item()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(15):
        value = loss(step)
        assert torch.isfinite(value)
        opt.zero_grad()
        value.backward()
        opt.step()
    with torch.no_grad():
        after = loss(123).item()
    assert after < before - 0.5, (before, after)


def test_widening_the_key_value_head_keeps_the_function(one_thread):
    from structdiff.backend.train import _forward, widen_kv_heads

    examples, tok, narrow = _tiny_setup(6, 4, 300)
    narrow.eval()
    wide = widen_kv_heads(narrow, 2).eval()
    text = wide.config.text_config
    assert text.num_key_value_heads == 2
    assert wide.model.decoder.layers[0].self_attn.k_proj.weight.shape == (2 * 32, 64)
    ids, mask, clean = make_batch(tok, examples, 64, random.Random(0))
    off = torch.zeros(len(examples), dtype=torch.bool)
    with torch.no_grad():
        a = _forward(narrow, ids, mask, clean, off)
        b = _forward(wide, ids, mask, clean, off)
        torch.nn.init.normal_(wide.model.decoder.layers[0].self_attn.k_proj.weight[32:])  # heads now differ
        c = _forward(wide, ids, mask, clean, off)
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-3)
    with pytest.raises(ValueError, match="divisor"):
        widen_kv_heads(narrow, 4)  # 2 query heads cannot share 4 key/value heads
