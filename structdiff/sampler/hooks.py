"""The hook points of the denoising loop, and the records it hands to observers.

A ``CanvasHook`` sees the **whole canvas** every pass. The base class is the
unconstrained sampler: each method returns ``None`` (or its input) to keep the
default behaviour, which reproduces transformers' DiffusionGemma sampler exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["CanvasHook", "PassView", "PassRecord", "HookChain"]


@dataclass
class PassView:
    """What a hook may read about the current pass (read-only by convention)."""

    block: int  # index of the canvas (block) in the output, 0-based
    pass_index: int  # 0-based pass within this block
    steps_remaining: int  # transformers' ``cur_step``: max_passes .. 1
    max_passes: int
    canvas: torch.Tensor  # [B, L] the canvas the model just read
    active: torch.Tensor  # [B] bool: rows still denoising this block
    offset: torch.Tensor  # [B] long: tokens already produced before this block
    max_tokens: int  # total token budget of the call
    prefix: list[list[int]]  # per row: tokens of the finished blocks (empty in block 0)


@dataclass
class PassRecord:
    """What happened in one pass, for observers (stats, live views, traces)."""

    block: int
    pass_index: int
    canvas: torch.Tensor  # [B, L] canvas after re-noise (input of the next pass)
    best: torch.Tensor  # [B, L] current best canvas (argmax or best valid path)
    accepted: torch.Tensor  # [B, L] bool accepted this pass
    renoised: torch.Tensor  # [B, L] bool re-noised this pass
    entropy: torch.Tensor  # [B, L] per-position entropy used for acceptance
    active: torch.Tensor  # [B] bool rows that were denoising in this pass
    seconds: float
    extra: dict = field(default_factory=dict)  # hook-specific facts (e.g. allowed-set sizes)


class CanvasHook:
    """Base hook: the unconstrained DiffusionGemma sampler. Override what you need."""

    def begin_block(self, view: PassView) -> None:
        """Called once before the first pass of every block."""

    def initial_canvas(self, view: PassView, generator: torch.Generator) -> torch.Tensor | None:
        """Starting canvas ``[B, L]`` of a block, or ``None`` for uniform random tokens."""
        return None

    def process_logits(self, view: PassView, logits: torch.Tensor) -> torch.Tensor:
        """Tempered logits ``[B, L, V]`` -> logits the pass decides with (e.g. constrained log-marginals)."""
        return logits

    def propose(self, view: PassView, logits: torch.Tensor, probs: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(sampled canvas ``[B, L]``, best canvas ``[B, L]``), or ``None`` for multinomial + argmax."""
        return None

    def accept(self, view: PassView, entropy: torch.Tensor, default: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, L]``: positions accepted this pass (``default`` is the entropy-bound rule)."""
        return default

    def renoise(self, view: PassView, accepted_canvas: torch.Tensor, renoise_mask: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor | None:
        """Noise tokens ``[B, L]`` for the re-noised positions, or ``None`` for uniform over the vocabulary."""
        return None

    def finish_block(self, view: PassView, best: torch.Tensor) -> torch.Tensor:
        """The block's output tokens ``[B, L]`` from the last best canvas (may repair or check it)."""
        return best

    def observe(self, record: PassRecord) -> None:
        """Called after every pass."""


class HookChain(CanvasHook):
    """Several hooks as one: transforms apply in order, the first non-``None`` proposal wins."""

    def __init__(self, hooks: list[CanvasHook]):
        self.hooks = list(hooks)

    def begin_block(self, view):
        for h in self.hooks:
            h.begin_block(view)

    def initial_canvas(self, view, generator):
        for h in self.hooks:
            c = h.initial_canvas(view, generator)
            if c is not None:
                return c
        return None

    def process_logits(self, view, logits):
        for h in self.hooks:
            logits = h.process_logits(view, logits)
        return logits

    def propose(self, view, logits, probs, generator):
        for h in self.hooks:
            p = h.propose(view, logits, probs, generator)
            if p is not None:
                return p
        return None

    def accept(self, view, entropy, default):
        mask = default
        for h in self.hooks:
            mask = h.accept(view, entropy, mask)
        return mask

    def renoise(self, view, accepted_canvas, renoise_mask, generator):
        for h in self.hooks:
            n = h.renoise(view, accepted_canvas, renoise_mask, generator)
            if n is not None:
                return n
        return None

    def finish_block(self, view, best):
        for h in self.hooks:
            best = h.finish_block(view, best)
        return best

    def observe(self, record):
        for h in self.hooks:
            h.observe(record)
