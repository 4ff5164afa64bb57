"""Backend: the tiny model, the tokenizer, and clear errors for bad model/device input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import structdiff
from structdiff.backend import Tokenizer, build_tiny_tokenizer, load_model
from structdiff.errors import BackendError, InputError, StructDiffError


def test_import_is_light():
    optional = ("fastapi", "uvicorn", "lark", "jsonschema", "hypothesis", "rich", "pydantic", "structdiff.constraints")
    code = ("import sys, structdiff; print('torch' in sys.modules, 'transformers' in sys.modules); "
            "import structdiff.backend; "  # what load_model needs: torch, but none of the optional packages
            f"print([m for m in {optional!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["False False", "[]"]


def test_errors_are_importable_from_the_package():
    for name in ("SchemaError", "GrammarError", "UnsatisfiableError", "GenerationError", "BackendError"):
        assert issubclass(getattr(structdiff, name), StructDiffError)


def test_tiny_tokenizer_is_deterministic_and_gemma_like():
    a, b = build_tiny_tokenizer(), build_tiny_tokenizer()
    assert a.fingerprint == b.fingerprint
    assert (a.pad_id, a.eos_id, a.bos_id) == (0, 1, 2)
    assert a.token_bytes[a.eos_id] is None and a.token_bytes[a.pad_id] is None
    text = '{"name": "Zoë", "age": 30}'
    ids = a.encode(text)
    assert a.decode(ids) == text
    assert a.decode_bytes(ids) == text.encode()
    assert a.encode(text, add_bos=True)[0] == a.bos_id


def test_token_bytes_cover_every_byte():
    tok = build_tiny_tokenizer()
    singles = {tb for tb in tok.token_bytes if tb is not None and len(tb) == 1}
    assert len(singles) == 256


def test_tokenizer_from_file_round_trip(tmp_path):
    tok = build_tiny_tokenizer()
    tok.save(tmp_path / "tokenizer.json")
    again = Tokenizer.from_file(tmp_path / "tokenizer.json")
    assert again.fingerprint == tok.fingerprint


def test_tokenizer_from_bad_file(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(BackendError, match="cannot read tokenizer"):
        Tokenizer.from_file(bad)


def test_tiny_model_is_a_diffusion_gemma(tiny_model):
    from transformers import DiffusionGemmaForBlockDiffusion

    assert isinstance(tiny_model.model, DiffusionGemmaForBlockDiffusion)
    assert tiny_model.canvas_length == 64
    assert tiny_model.model.config.text_config.num_experts > 1  # MoE, like the real one
    assert tiny_model.vocab_size == tiny_model.tokenizer.vocab_size


def test_tiny_model_seed_decides_weights():
    a = load_model("tiny-random", seed=3, canvas_length=32)
    b = load_model("tiny-random", seed=3, canvas_length=32)
    c = load_model("tiny-random", seed=4, canvas_length=32)
    wa, wb, wc = (m.model.lm_head.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_loading_does_not_disturb_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_model("tiny-random", canvas_length=32)
    assert torch.equal(torch.rand(3), expected)


def test_canvas_logits_shape(tiny_model):
    ids = torch.tensor([[2, 100, 101]])
    ctx = tiny_model.start(ids)
    canvas = torch.randint(0, tiny_model.vocab_size, (1, 64))
    logits = tiny_model.canvas_logits(ctx, canvas, None)
    assert logits.shape == (1, 64, tiny_model.vocab_size) and logits.dtype == torch.float32
    again = tiny_model.canvas_logits(ctx, canvas, logits)  # self-conditioning path
    assert again.shape == logits.shape and not torch.equal(again, logits)


@pytest.mark.parametrize("device", ["gpu0", "cuda:0" if not torch.cuda.is_available() else "gpu0", "tpu"])
def test_unknown_or_absent_device(device):
    with pytest.raises(BackendError):
        load_model("tiny-random", device=device)


def test_unknown_dtype():
    with pytest.raises(BackendError, match="dtype"):
        load_model("tiny-random", dtype="float8")


def test_missing_local_path(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        load_model(str(tmp_path / "nope" / "model"))


def test_folder_without_config(tmp_path):
    with pytest.raises(BackendError, match="config"):
        load_model(str(tmp_path))


def test_non_diffusion_gemma_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(BackendError, match="not a DiffusionGemma"):
        load_model(str(tmp_path))


def test_local_checkpoint_round_trip(tmp_path):
    dm = load_model("tiny-random", canvas_length=32, seed=5)
    dm.model.save_pretrained(tmp_path)
    from transformers import PreTrainedTokenizerFast

    PreTrainedTokenizerFast(tokenizer_object=dm.tokenizer.backend, eos_token="<eos>", pad_token="<pad>",
                            bos_token="<bos>").save_pretrained(tmp_path)
    again = load_model(str(tmp_path))
    assert again.canvas_length == 32
    assert torch.equal(again.model.lm_head.weight, dm.model.lm_head.weight)
    assert again.tokenizer.fingerprint == dm.tokenizer.fingerprint


def test_bad_seed_type():
    with pytest.raises(InputError):
        load_model("tiny-random", seed="3")


def test_prompts_use_the_chat_template_when_the_checkpoint_has_one():
    from transformers import PreTrainedTokenizerFast

    base = build_tiny_tokenizer()
    hf = PreTrainedTokenizerFast(tokenizer_object=base.backend, eos_token="<eos>", pad_token="<pad>",
                                 bos_token="<bos>")
    assert Tokenizer.from_transformers(hf).encode_prompt("hi") == [base.bos_id] + base.encode("hi")
    hf.chat_template = "{{ bos_token }}<start_of_turn>user\n{{ messages[0]['content'] }}<end_of_turn>\n" \
                       "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ids = Tokenizer.from_transformers(hf).encode_prompt("hi")
    text = hf.decode(ids)
    assert text.startswith("<bos><start_of_turn>user\nhi<end_of_turn>") and text.endswith("model\n")


def test_loading_a_checkpoint_prints_nothing(tmp_path):
    dm = load_model("tiny-random", canvas_length=32, seed=6)
    dm.model.save_pretrained(tmp_path)
    dm.tokenizer.save(tmp_path / "tokenizer.json")
    code = f"import structdiff; structdiff.load_model({str(tmp_path)!r})"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout == "" and res.stderr == ""
