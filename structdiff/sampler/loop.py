"""The denoising loop: DiffusionGemma's sampler, readable on one screen, with hooks.

With the base ``CanvasHook`` and the same seed it yields exactly the tokens of
``DiffusionGemmaForBlockDiffusion.generate`` (guarded by the parity tests).

One call = one or more **blocks** (canvases of ``L`` tokens). Per block: a random
canvas; up to ``max_passes`` **passes**, each one model forward that yields logits
``[B, L, V]``; tempered logits (linear t_max -> t_min); a sampled canvas; the
lowest-entropy positions under the entropy bound are **accepted**; the rest is
**re-noised**; a row stops when its argmax canvas is stable and its mean entropy is
under the confidence threshold. The block's output is the last argmax (best) canvas.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from ..errors import InputError
from .hooks import CanvasHook, PassRecord, PassView

__all__ = ["SamplerConfig", "SampleOutput", "RowStats", "denoise", "entropy", "entropy_bound_accept"]


@dataclass(frozen=True)
class SamplerConfig:
    """Sampler settings; defaults are transformers' DiffusionGemma defaults."""

    max_tokens: int = 256
    max_passes: int = 48
    t_min: float = 0.4
    t_max: float = 0.8
    entropy_bound: float = 0.1
    stability_threshold: int = 1
    confidence_threshold: float = 0.005

    def __post_init__(self):
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens <= 0:
            raise InputError(f"max_tokens must be a positive int, got {self.max_tokens!r}")
        if isinstance(self.max_passes, bool) or not isinstance(self.max_passes, int) or self.max_passes <= 0:
            raise InputError(f"max_passes must be a positive int, got {self.max_passes!r}")
        if not (0 <= self.t_min < self.t_max):
            raise InputError(f"need 0 <= t_min < t_max, got t_min={self.t_min}, t_max={self.t_max}")
        if self.entropy_bound <= 0 or self.confidence_threshold <= 0 or self.stability_threshold < 0:
            raise InputError("entropy_bound and confidence_threshold must be > 0, stability_threshold >= 0")

    def temperature(self, steps_remaining: int) -> float:
        return self.t_min + (self.t_max - self.t_min) * (steps_remaining / self.max_passes)


@dataclass
class RowStats:
    """Per-row statistics of one call."""

    passes: int = 0  # model passes that counted for this row
    passes_per_block: list[int] = field(default_factory=list)
    accepted_per_pass: list[int] = field(default_factory=list)
    renoised_per_pass: list[int] = field(default_factory=list)
    tokens: int = 0  # generated tokens before EOS/pad

    @property
    def tokens_per_pass(self) -> float:
        return self.tokens / self.passes if self.passes else 0.0


@dataclass
class SampleOutput:
    """Generated tokens ``[B, N]`` (pad after EOS), per-row stats and per-pass wall time."""

    tokens: torch.Tensor
    rows: list[RowStats]
    seconds_per_pass: list[float]
    seconds: float


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy ``[..., V] -> [...]``, the same arithmetic as ``torch.distributions.Categorical``."""
    logits = logits - logits.logsumexp(dim=-1, keepdim=True)
    probs = torch.softmax(logits, dim=-1)
    logits = torch.clamp(logits, min=torch.finfo(logits.dtype).min)
    return -(logits * probs).sum(-1)


def entropy_bound_accept(ent: torch.Tensor, bound: float) -> torch.Tensor:
    """Accept the k lowest-entropy positions with ``sum(H) - max(H) <= bound``: ``[B, L] -> [B, L]`` bool."""
    sorted_ent, order = torch.sort(ent, dim=-1, descending=False)
    selected = torch.cumsum(sorted_ent, dim=-1) - sorted_ent <= bound
    return torch.scatter(torch.zeros_like(selected), dim=-1, index=order, src=selected)


def _check_prompt(prompt_ids: torch.Tensor, model) -> None:
    if not isinstance(prompt_ids, torch.Tensor) or prompt_ids.dim() != 2 or prompt_ids.dtype not in (
            torch.int64, torch.int32):
        raise InputError("prompt_ids must be an integer tensor [B, P]")
    if prompt_ids.shape[0] == 0 or prompt_ids.shape[1] == 0:
        raise InputError("the prompt is empty: give at least one token")
    if int(prompt_ids.min()) < 0 or int(prompt_ids.max()) >= model.vocab_size:
        raise InputError(f"prompt token ids must lie in [0, {model.vocab_size})")


@torch.no_grad()
def denoise(model, prompt_ids: torch.Tensor, *, config: SamplerConfig = SamplerConfig(),
            hook: CanvasHook | None = None, generator: torch.Generator | None = None,
            attention_mask: torch.Tensor | None = None) -> SampleOutput:
    """Run the block-diffusion sampler.

    Parameters
    ----------
    model : DiffusionModel
        From ``structdiff.backend.load_model``.
    prompt_ids : torch.Tensor
        ``[B, P]`` prompt tokens (left-padded with ``attention_mask`` for mixed lengths).
    config : SamplerConfig
        Schedule, acceptance and stopping settings.
    hook : CanvasHook, optional
        Constraint/observer hooks; ``None`` is the plain sampler.
    generator : torch.Generator, optional
        Randomness; the same seed gives the same tokens.

    Returns
    -------
    SampleOutput
    """
    _check_prompt(prompt_ids, model)
    hook = hook or CanvasHook()
    g = generator or torch.Generator(device="cpu")
    dev = model.device
    B, P = prompt_ids.shape
    L, V = model.canvas_length, model.vocab_size
    n_blocks = math.ceil(config.max_tokens / L)
    if P + n_blocks * L > model.max_context:
        raise InputError(f"prompt ({P} tokens) + output ({n_blocks * L} tokens in {n_blocks} canvases) exceeds the "
                         f"model's context of {model.max_context} tokens: shorten the prompt or max_tokens")
    pad, eos = model.tokenizer.pad_id, model.tokenizer.eos_id
    t_start = time.perf_counter()
    ctx = model.start(prompt_ids, attention_mask)
    out = torch.empty((B, 0), dtype=torch.long, device=dev)
    finished_seq = torch.zeros(B, dtype=torch.bool, device=dev)
    rows = [RowStats() for _ in range(B)]
    seconds_per_pass: list[float] = []

    for block in range(n_blocks):
        view = PassView(block, 0, config.max_passes, config.max_passes, None, ~finished_seq,
                        torch.full((B,), block * L, dtype=torch.long, device=dev), config.max_tokens,
                        [r.tolist() for r in out])
        hook.begin_block(view)
        canvas = hook.initial_canvas(view, g)
        if canvas is None:
            canvas = torch.randint(0, V, (B, L), generator=g).to(dev)  # [B, L]
        canvas = canvas.to(dev)
        best, self_cond = canvas, None
        done = torch.zeros(B, dtype=torch.bool, device=dev)  # finished denoising this block
        history = torch.full((config.stability_threshold, B, L), -1, dtype=torch.long, device=dev)
        passes_this_block = [0] * B
        any_done = False  # some row of this block stopped denoising (as of the last pass)
        for p, steps_left in enumerate(reversed(range(1, config.max_passes + 1))):
            t0 = time.perf_counter()
            counted = ~(done | finished_seq)
            view.pass_index, view.steps_remaining, view.canvas, view.active = p, steps_left, canvas, ~done
            raw = model.canvas_logits(ctx, canvas, self_cond)  # [B, L, V] float32
            logits = hook.process_logits(view, raw / config.temperature(steps_left))  # [B, L, V]
            probs = torch.softmax(logits, dim=-1, dtype=torch.float32)  # [B, L, V]
            proposal = hook.propose(view, logits, probs, g)
            if proposal is None:
                sampled = torch.multinomial(probs.view(-1, V), 1, generator=g).view(B, L)  # [B, L]
                new_best = torch.argmax(logits, dim=-1)  # [B, L]
            else:
                sampled, new_best = proposal
            ent = entropy(logits)  # [B, L]
            accepted = hook.accept(view, ent, entropy_bound_accept(ent, config.entropy_bound))  # [B, L] bool
            kept = torch.where(accepted, sampled, canvas)
            noise = hook.renoise(view, kept, ~accepted, g)
            if noise is None:
                noise = torch.randint(0, V, (B, L), generator=g)
            noise = noise.to(dev)
            new_canvas = torch.where(accepted, kept, noise)
            # rows that already stopped keep their state; the others may stop now
            frozen = done[:, None]
            new_best = torch.where(frozen, best, new_best)
            new_canvas = torch.where(frozen, canvas, new_canvas)
            logits = torch.where(frozen[..., None], self_cond, logits) if any_done else logits
            if config.stability_threshold == 0:
                stable = torch.ones(B, dtype=torch.bool, device=dev)
            else:
                stable = (history == new_best[None]).all(dim=-1).all(dim=0)
                history = torch.roll(history, shifts=-1, dims=0)
                history[-1] = new_best
            confident = ent.mean(dim=-1) < config.confidence_threshold
            newly_done = stable & confident & ~done
            done = done | newly_done
            # one host read per pass: the rows' statistics and the stop test
            host = torch.cat([counted.long(), accepted.sum(-1), done.long()]).tolist()
            n_counted, n_acc, any_done, all_done = host[:B], host[B:2 * B], any(host[2 * B:]), all(host[2 * B:])
            for b in (b for b in range(B) if n_counted[b]):  # bookkeeping on host lists
                passes_this_block[b] += 1
                rows[b].accepted_per_pass.append(n_acc[b])
                rows[b].renoised_per_pass.append(L - n_acc[b])
            canvas, best = new_canvas, new_best
            self_cond = logits.to(model.embed_dtype)
            seconds_per_pass.append(time.perf_counter() - t0)
            hook.observe(PassRecord(block, p, canvas, best, accepted & counted[:, None],
                                    ~accepted & counted[:, None], ent, counted, seconds_per_pass[-1]))
            if all_done:
                break

        view.canvas, view.active = canvas, ~finished_seq
        block_tokens = hook.finish_block(view, best)  # [B, L]
        for b in range(B):
            rows[b].passes += passes_this_block[b]
            rows[b].passes_per_block.append(passes_this_block[b])
        out = torch.cat([out, block_tokens], dim=-1)
        # finished rows: whole block -> pad; rows that hit EOS now: everything after it -> pad
        has_eos = (block_tokens == eos).any(dim=-1)
        last = block == n_blocks - 1
        previously = finished_seq
        finished_seq = finished_seq | has_eos | last
        if bool(finished_seq.any()):
            new = out[:, -L:]
            new[previously] = pad
            if bool(has_eos.any()):
                is_eos = new == eos
                c = is_eos.cumsum(dim=-1)
                new[(c > 0) & ~((c == 1) & is_eos)] = pad
        if bool(finished_seq.all()):
            break
        model.extend(ctx, out[:, -L:])

    for b in range(B):
        row = out[b]
        rows[b].tokens = int((row != pad).sum())
    return SampleOutput(out, rows, seconds_per_pass, time.perf_counter() - t_start)
