"""Tier 1: the shipped small model loads with ``load_model()``, runs a pass, and fails clearly when broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from structdiff import backend
from structdiff.backend import load_model
from structdiff.errors import BackendError

pytestmark = pytest.mark.tier1

WEIGHTS = Path(backend.__file__).with_name("weights")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """A 256-token canvas pass on a busy 2-core machine is steadier on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def test_default_model_is_the_shipped_diffusiongemma(shipped):
    from transformers import DiffusionGemmaForBlockDiffusion

    assert backend.default_model_path() == WEIGHTS
    assert isinstance(shipped.model, DiffusionGemmaForBlockDiffusion)
    assert shipped.canvas_length == 256
    text = shipped.model.config.text_config
    assert text.enable_moe_block and text.num_experts >= 2
    assert "shipped" in shipped.name
    gc = shipped.model.generation_config
    assert (gc.pad_token_id, gc.eos_token_id, gc.bos_token_id) == (0, 1, 2)
    assert (WEIGHTS / "model.safetensors").stat().st_size <= 30 * 2**20


def test_shipped_tokenizer_layout(shipped):
    tok = shipped.tokenizer
    assert (tok.pad_id, tok.eos_id, tok.bos_id) == (0, 1, 2)
    assert tok.backend.token_to_id("<mask>") == 3
    assert 2500 <= tok.vocab_size <= shipped.vocab_size
    for ch in '0123456789{}[]:,"':
        assert len(tok.encode(ch)) == 1, ch
    assert tok.encode("2024") == [tok.encode(d)[0] for d in "2024"]  # digits never merge
    text = '{"name": "Alice", "age": 30}'
    assert tok.decode(tok.encode(text, add_bos=True)) == text


def test_one_canvas_pass(shipped):
    ids = torch.tensor([shipped.tokenizer.encode("Alice, 30, from Lyon", add_bos=True)])
    ctx = shipped.start(ids)
    canvas = torch.randint(0, shipped.vocab_size, (1, 256), generator=torch.Generator().manual_seed(0))
    logits = shipped.canvas_logits(ctx, canvas, None)  # [1, 256, V]
    assert logits.shape == (1, 256, shipped.vocab_size)
    assert torch.isfinite(logits).all()
    again = shipped.canvas_logits(ctx, canvas, logits)  # self-conditioned pass
    assert torch.isfinite(again).all() and not torch.equal(again, logits)


def test_load_model_is_transformers_own_loading(shipped):
    """Whatever load_model does to load faster, the network equals plain ``from_pretrained``'s."""
    from transformers import DiffusionGemmaForBlockDiffusion
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        ref = DiffusionGemmaForBlockDiffusion.from_pretrained(str(WEIGHTS)).eval()
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    got, want = shipped.model.state_dict(), ref.state_dict()
    assert got.keys() == want.keys()
    assert all(got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]) for k in got)
    assert shipped.model.training is False
    ids = torch.tensor([shipped.tokenizer.encode("Alice, 30, from Lyon", add_bos=True)])
    canvas = torch.randint(0, shipped.vocab_size, (1, 256), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # non-persistent buffers (rotary tables) are not in the state dict: compare outputs
        a = shipped.model(input_ids=ids, decoder_input_ids=canvas).logits  # [1, 256, V]
        b = ref(input_ids=ids, decoder_input_ids=canvas).logits
    assert torch.equal(a, b)


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "weights"
    shutil.copytree(WEIGHTS, dst)
    return dst


def test_corrupt_weights_say_how_to_reinstall(tmp_path, monkeypatch):
    dst = _copy(tmp_path)
    data = (dst / "model.safetensors").read_bytes()
    (dst / "model.safetensors").write_bytes(data[: len(data) // 3])
    monkeypatch.setattr(backend, "default_model_path", lambda: dst)
    with pytest.raises(BackendError, match="reinstall"):
        load_model()


def test_missing_weights_say_how_to_reinstall(tmp_path, monkeypatch):
    dst = _copy(tmp_path)
    (dst / "model.safetensors").unlink()
    monkeypatch.setattr(backend, "default_model_path", lambda: dst)
    with pytest.raises(BackendError, match="reinstall"):
        load_model()


def test_garbage_weights_from_a_path(tmp_path):
    dst = _copy(tmp_path)
    (dst / "model.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(BackendError, match="corrupt"):
        load_model(str(dst))
