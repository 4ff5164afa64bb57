"""The public calls: generate / generate_regex / choice / generate_json / solve_sudoku, and Generator.

Each one-shot function builds a ``Generator`` (compile once) and calls it; keep a
``Generator`` yourself to reuse a compiled constraint across prompts and batches.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import torch

from .errors import InputError

__all__ = ["generate", "resolve_model", "encode_prompts", "make_generator"]

_DEFAULT_MODEL: dict[str, Any] = {}
_LOCK = threading.Lock()


def resolve_model(model: Any = None):
    """``None`` -> the default model (loaded once per process); a name/path -> ``load_model``; else as is."""
    from .backend import DiffusionModel, load_model

    if isinstance(model, DiffusionModel):
        return model
    if model is None or isinstance(model, str):
        key = model or "<default>"
        with _LOCK:
            if key not in _DEFAULT_MODEL:
                _DEFAULT_MODEL[key] = load_model(model)
            return _DEFAULT_MODEL[key]
    raise InputError(f"model must be None, a name/path, or a DiffusionModel; got {type(model).__name__}")


def encode_prompts(model, prompts: str | Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Prompt(s) -> (ids ``[B, P]`` left-padded, attention mask ``[B, P]``, was_batch).

    Mixed lengths in a batch are left-padded with the pad token and masked out.
    """
    batched = not isinstance(prompts, str)
    items = list(prompts) if batched else [prompts]
    if batched and not items:
        raise InputError("the batch of prompts is empty")
    tok = model.tokenizer
    encoded = []
    for i, p in enumerate(items):
        if not isinstance(p, str):
            raise InputError(f"prompt {i} must be a str, got {type(p).__name__}")
        if not p.strip():
            raise InputError("the prompt is empty: say what the output should contain" +
                             (f" (prompt {i} of the batch)" if batched else ""))
        encoded.append(tok.encode(p, add_bos=True))
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.bool)
    for i, e in enumerate(encoded):
        ids[i, width - len(e):] = torch.tensor(e, dtype=torch.long)
        mask[i, width - len(e):] = True
    return ids, mask, batched


def make_generator(seed: int | None) -> torch.Generator:
    """A CPU ``torch.Generator``: seeded when ``seed`` is an int, fresh entropy when ``None``."""
    g = torch.Generator(device="cpu")
    if seed is None:
        g.seed()
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
    else:
        g.manual_seed(seed)
    return g


def generate(prompt: str | Sequence[str], model: Any = None, *, max_tokens: int = 256, seed: int | None = None,
             **sampler_options: Any) -> str | list[str]:
    """Generate text with no constraint.

    Parameters
    ----------
    prompt : str or list of str
        One prompt, or a batch.
    model : DiffusionModel, str or None
        ``None`` for the default model.
    max_tokens : int
        Token budget (rounded up to whole canvases by the sampler, output cut at EOS).
    seed : int, optional
        Same seed, same output.

    Returns
    -------
    str or list of str
    """
    from .sampler import SamplerConfig, denoise

    dm = resolve_model(model)
    config = SamplerConfig(max_tokens=max_tokens, **sampler_options)
    ids, mask, batched = encode_prompts(dm, prompt)
    out = denoise(dm, ids, config=config, generator=make_generator(seed), attention_mask=mask)
    texts = [dm.tokenizer.decode(row[:max_tokens].tolist()) for row in out.tokens]
    return texts if batched else texts[0]
