"""The model wrapper: the only place that touches transformers' DiffusionGemma code.

``DiffusionModel`` exposes exactly what the sampler needs:

* ``start(prompt_ids, attention_mask)`` -> a ``Context`` (causal prefill, KV cache),
* ``canvas_logits(ctx, canvas, self_conditioning)`` -> logits ``[B, L, V]`` (one pass),
* ``extend(ctx, block_tokens)`` appends a finished canvas to the context (next block).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import BackendError, InputError
from .tokenizer import Tokenizer

__all__ = ["Context", "DiffusionModel", "load_model"]

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Per-call model state: the KV cache and the masks/positions of the next canvas."""

    past_key_values: Any
    attention_mask: torch.Tensor  # [B, S] bool, S = tokens in the cache
    decoder_attention_mask: torch.Tensor  # [B, S + L] bool
    encoder_position_ids: torch.Tensor  # [1, n]
    decoder_position_ids: torch.Tensor  # [1, L]
    mask_mapping: dict
    cur_len: int
    batch_size: int


class DiffusionModel:
    """A DiffusionGemma model and its tokenizer, ready for structdiff's sampler.

    Parameters
    ----------
    model : transformers.DiffusionGemmaForBlockDiffusion
        The network, in eval mode.
    tokenizer : Tokenizer
        Its tokenizer.
    name : str
        What it was loaded from (for ``info`` and error messages).
    """

    def __init__(self, model: Any, tokenizer: Tokenizer, *, name: str = "custom"):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        cfg = model.config
        self.canvas_length: int = int(cfg.canvas_length)
        self.vocab_size: int = int(cfg.text_config.vocab_size)
        self.max_context: int = int(cfg.text_config.max_position_embeddings)
        if tokenizer.vocab_size > self.vocab_size:
            raise BackendError(
                f"tokenizer has {tokenizer.vocab_size} tokens but the model only {self.vocab_size}; "
                "they do not belong together"
            )

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def embed_dtype(self) -> torch.dtype:
        return self.model.model.decoder.embed_tokens.weight.dtype

    def __repr__(self) -> str:
        return (f"DiffusionModel({self.name!r}, vocab={self.vocab_size}, canvas={self.canvas_length}, "
                f"device={self.device})")

    # -- the three calls the sampler makes --------------------------------------------------
    @torch.no_grad()
    def start(self, prompt_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Context:
        """Causal prefill of ``prompt_ids`` ``[B, P]``; returns the context for the first canvas."""
        from transformers.cache_utils import DynamicCache

        m = self.model
        prompt_ids = prompt_ids.to(self.device)
        batch, cur_len = prompt_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones((batch, cur_len), dtype=torch.bool, device=self.device)
        attention_mask = attention_mask.to(self.device).bool()
        L = self.canvas_length
        ctx = Context(
            past_key_values=DynamicCache(config=m.config.get_text_config(decoder=True)),
            attention_mask=attention_mask,
            decoder_attention_mask=torch.nn.functional.pad(attention_mask, (0, L), value=True),
            encoder_position_ids=torch.arange(0, cur_len, dtype=torch.int32, device=self.device).unsqueeze(0),
            decoder_position_ids=torch.arange(cur_len, cur_len + L, dtype=torch.int32, device=self.device).unsqueeze(0),
            mask_mapping={},
            cur_len=cur_len,
            batch_size=batch,
        )
        self._encode(ctx, prompt_ids, is_prefill=True)
        return ctx

    @torch.no_grad()
    def canvas_logits(self, ctx: Context, canvas: torch.Tensor, self_conditioning: torch.Tensor | None) -> torch.Tensor:
        """One denoising pass: canvas ``[B, L]`` (+ previous logits ``[B, L, V]``) -> logits ``[B, L, V]`` float32."""
        try:
            out = self.model(
                decoder_input_ids=canvas,
                self_conditioning_logits=self_conditioning,
                decoder_attention_mask=ctx.mask_mapping,
                past_key_values=ctx.past_key_values,
                decoder_position_ids=ctx.decoder_position_ids,
            )
        except torch.OutOfMemoryError as exc:  # pragma: no cover - needs a real device
            raise BackendError("out of memory on the model's device: use a smaller batch or canvas, "
                               "or a larger device", cause=exc) from exc
        return out.logits

    @torch.no_grad()
    def extend(self, ctx: Context, block_tokens: torch.Tensor) -> None:
        """Append a finished canvas ``[B, L]`` to the context, ready for the next canvas."""
        L = self.canvas_length
        ctx.cur_len += L
        ctx.decoder_attention_mask = torch.nn.functional.pad(ctx.decoder_attention_mask, (0, L), value=True)
        ctx.attention_mask = torch.nn.functional.pad(ctx.attention_mask, (0, L), value=True)
        ctx.encoder_position_ids = ctx.decoder_position_ids
        ctx.decoder_position_ids = torch.arange(
            ctx.cur_len, ctx.cur_len + L, dtype=torch.int32, device=self.device).unsqueeze(0)
        self._encode(ctx, block_tokens, is_prefill=False)

    def _encode(self, ctx: Context, new_ids: torch.Tensor, *, is_prefill: bool) -> None:
        """Encoder pass over uncached ids (prompt or last canvas), then the next canvas' masks."""
        m = self.model
        new_ids = new_ids.clone(memory_format=torch.contiguous_format)
        dummy = torch.empty((ctx.batch_size, new_ids.shape[1], 0), dtype=m.dtype, device=self.device)
        enc_masks = m.model.encoder.create_masks_for_generate(
            config=m.config, inputs_embeds=dummy, attention_mask=ctx.attention_mask,
            past_key_values=ctx.past_key_values, position_ids=ctx.encoder_position_ids,
        )
        try:
            enc = m.model.encoder(
                input_ids=new_ids, attention_mask=enc_masks,
                past_key_values=ctx.past_key_values, position_ids=ctx.encoder_position_ids,
            )
        except torch.OutOfMemoryError as exc:  # pragma: no cover - needs a real device
            raise BackendError("out of memory while encoding the prompt: shorten it or use a larger device",
                               cause=exc) from exc
        ctx.past_key_values = enc.past_key_values
        dummy_canvas = torch.empty((ctx.batch_size, self.canvas_length, 1), device=self.device)
        ctx.mask_mapping = m.model.decoder.create_diffusion_decoder_attention_mask(
            config=m.config, inputs_embeds=dummy_canvas,
            past_key_values=ctx.past_key_values, decoder_attention_mask=ctx.decoder_attention_mask,
        )


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def _resolve_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise BackendError(f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or 'mps'", cause=exc) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"device {device!r} asked for, but no CUDA GPU is available here; use device='cpu'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise BackendError(f"device {device!r} asked for, but MPS is not available here; use device='cpu'")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise BackendError(f"unsupported device {device!r}: use 'cpu', 'cuda' or 'mps'")
    return dev


def _resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise BackendError(f"unknown dtype {dtype!r}: use one of {sorted(_DTYPES)}")
    return _DTYPES[dtype]


def _set_special_ids(model: Any, tok: Tokenizer) -> None:
    """Make transformers' own ``generate`` stop at EOS and pad after it, as structdiff does."""
    gc = model.generation_config
    gc.eos_token_id, gc.pad_token_id, gc.bos_token_id = tok.eos_id, tok.pad_id, tok.bos_id


def build_tiny_model(*, seed: int = 0, canvas_length: int = 64, vocab_size: int = 4096,
                     hidden_size: int = 64, num_layers: int = 2) -> DiffusionModel:
    """The built-in tiny random DiffusionGemma with the built-in tokenizer (deterministic in ``seed``)."""
    from transformers import DiffusionGemmaForBlockDiffusion

    from .tiny import tiny_config
    from .tokenizer import build_tiny_tokenizer

    tok = build_tiny_tokenizer(vocab_size=vocab_size)
    cfg = tiny_config(tok.vocab_size, canvas_length=canvas_length, hidden_size=hidden_size, num_layers=num_layers)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = DiffusionGemmaForBlockDiffusion(cfg).eval()
        _set_special_ids(model, tok)
    finally:
        torch.random.set_rng_state(state)  # building a model must not disturb the caller's RNG
    return DiffusionModel(model, tok, name=f"tiny-random(seed={seed}, canvas={canvas_length})")


SHIPPED_FIX = ("the shipped model's files are missing or corrupt: reinstall structdiff "
               "(pip install --force-reinstall --no-deps structdiff), or retrain them with "
               "python -m structdiff.backend.train (see structdiff/backend/weights/TRAINING.md)")


def _load_pretrained(name_or_path: str, device: torch.device, dtype: torch.dtype | None, *,
                     fix: str = "download or reinstall them") -> DiffusionModel:
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoTokenizer, DiffusionGemmaForBlockDiffusion

    is_local = os.path.isdir(name_or_path)
    looks_like_path = name_or_path.startswith((".", "/", "~")) or os.sep in name_or_path.strip("/").split("/", 1)[-1]
    if not is_local and (looks_like_path or os.path.exists(name_or_path)):
        raise BackendError(f"model path {name_or_path!r} does not exist or is not a folder")
    if is_local and not os.path.isfile(os.path.join(name_or_path, "config.json")):
        raise BackendError(f"{name_or_path!r} has no config.json: it is not a model checkpoint folder")
    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as exc:
        where = "folder" if is_local else "hub id (is the network reachable? is the id right?)"
        raise BackendError(f"cannot read a model config from {name_or_path!r} as a {where}: {exc}",
                           cause=exc) from exc
    if getattr(config, "model_type", None) != "diffusion_gemma":
        raise BackendError(
            f"{name_or_path!r} is a {getattr(config, 'model_type', '?')!r} checkpoint, not a DiffusionGemma one; "
            "structdiff needs a DiffusionGemmaForBlockDiffusion model")
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the library stays silent: no "Loading weights" bar on stderr
    try:
        # the config read above, not a second parse of config.json
        model, info = DiffusionGemmaForBlockDiffusion.from_pretrained(name_or_path, config=config, dtype=dtype,
                                                                      output_loading_info=True)
        model = model.to(device).eval()
    except torch.OutOfMemoryError as exc:  # pragma: no cover - needs a real device
        raise BackendError(f"out of memory loading {name_or_path!r} on {device}", cause=exc) from exc
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise BackendError(f"cannot load weights from {name_or_path!r}: {exc}. If the files are corrupt, "
                           f"{fix}", cause=exc) from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if info.get("missing_keys"):  # transformers would silently leave them random
        raise BackendError(f"weights in {name_or_path!r} lack {len(info['missing_keys'])} tensors "
                           f"(e.g. {min(info['missing_keys'])}): {fix}")
    own_tokenizer = os.path.join(name_or_path, "tokenizer.json")
    if is_local and os.path.isfile(own_tokenizer) and not os.path.isfile(
            os.path.join(name_or_path, "tokenizer_config.json")):
        tok = Tokenizer.from_file(own_tokenizer)  # a bare tokenizers file, as the shipped model has
        _set_special_ids(model, tok)
        return DiffusionModel(model, tok, name=name_or_path)
    try:
        hf_tok = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot load the tokenizer of {name_or_path!r}: {exc}", cause=exc) from exc
    return DiffusionModel(model, Tokenizer.from_transformers(hf_tok), name=name_or_path)


def load_model(name_or_path: str | None = None, *, device: str | torch.device = "cpu",
               dtype: str | torch.dtype | None = None, seed: int = 0, canvas_length: int | None = None,
               ) -> DiffusionModel:
    """Load a DiffusionGemma model and its tokenizer.

    Parameters
    ----------
    name_or_path : str, optional
        ``None`` -> the default model (the shipped small model when it is installed, else the
        built-in tiny random model); ``"tiny-random"`` -> the built-in tiny random model; a local
        checkpoint folder; or a hub id such as ``"google/diffusiongemma-26B-A4B-it"``.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    dtype : str or torch.dtype, optional
        ``"bfloat16"`` for the real model on a GPU.
    seed : int
        Weights seed of ``"tiny-random"``.
    canvas_length : int, optional
        Canvas of ``"tiny-random"`` (default 64).

    Raises
    ------
    BackendError
        Missing path, not a DiffusionGemma checkpoint, unknown device or dtype, out of memory.
    """
    dev = _resolve_device(device)
    dt = _resolve_dtype(dtype)
    if name_or_path is None:
        from . import default_model_path

        path = default_model_path()
        if path is not None:
            dm = _load_pretrained(str(path), dev, dt, fix=SHIPPED_FIX)
            dm.name = "structdiff-small (shipped)"
            return dm
        log.warning("no shipped model installed; using the tiny random model (%s)", SHIPPED_FIX)
        name_or_path = "tiny-random"
    if name_or_path == "tiny-random":
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InputError(f"seed must be an int, got {type(seed).__name__}")
        dm = build_tiny_model(seed=seed, canvas_length=canvas_length or 64)
        if dt is not None:
            dm.model.to(dt)
        dm.model.to(dev)
        return dm
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise BackendError(f"model must be a name or a path, got {type(name_or_path).__name__}")
    return _load_pretrained(str(name_or_path), dev, dt)
