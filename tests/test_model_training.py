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


def test_retokenizing_keeps_shared_tokens_and_carries_the_network(one_thread):
    from structdiff.backend.train import _forward, retokenize

    examples, tok, model = _tiny_setup(7, 6, 300)
    model.eval()
    spaced = build_tokenizer([s for ex in examples for s in (ex.prompt, ex.target)], vocab_size=420,
                             space_tokens=True)  # more merges than the old one: some tokens are new
    moved = retokenize(model, tok, spaced).eval()
    assert moved.config.text_config.vocab_size == spaced.vocab_size
    old_emb, new_emb = model.get_input_embeddings().weight, moved.get_input_embeddings().weight
    old_bytes, new_bytes = tok.token_bytes, spaced.token_bytes
    by_bytes = {b: i for i, b in enumerate(old_bytes) if b is not None}
    shared = [(by_bytes[b], j) for j, b in enumerate(new_bytes) if b is not None and b in by_bytes]
    assert len(shared) > 50
    for i, j in shared:  # a token both vocabularies spell the same way keeps its embedding row
        assert torch.equal(old_emb[i], new_emb[j])
    for i in tok.special_ids:
        assert torch.equal(old_emb[i], new_emb[i])
    word = next(j for j, b in enumerate(new_bytes) if b is not None and b not in by_bytes)
    pieces = tok.encode(new_bytes[word].decode())  # a new token is the mean of its old pieces
    assert torch.allclose(new_emb[word], old_emb[pieces].mean(0))
    assert torch.equal(moved.lm_head.weight, new_emb)  # still tied
    for (name, a), (_, b) in zip(model.named_parameters(), moved.named_parameters()):
        if a.shape[0] != tok.vocab_size:
            assert torch.equal(a, b), name
    ids, mask, clean = make_batch(spaced, examples, 64, random.Random(0))
    with torch.no_grad():
        out = _forward(moved, ids, mask, clean, torch.zeros(len(examples), dtype=torch.bool))
    assert out.shape[-1] == spaced.vocab_size and torch.isfinite(out).all()
