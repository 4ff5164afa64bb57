"""Benchmark: one pass of the sampler's own work (no model), and the tiny model's forward per pass.

Random logits ``[1, L, V]`` at L=256, V=262,144 (the real model's canvas and vocabulary):
softmax, multinomial sample + argmax, entropy, entropy-bound acceptance, uniform re-noise.
Baseline in the same run: transformers' own EntropyBoundSampler / Categorical entropy on the
same logits. These numbers are the budget the constraint hook is measured against.

    python bench/bench_sampler.py [--L 256] [--V 262144] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from structdiff.sampler import SamplerConfig, entropy, entropy_bound_accept


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--L", type=int, default=256)
    ap.add_argument("--V", type=int, default=262_144)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    L, V, cfg = args.L, args.V, SamplerConfig()
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(1, L, V, generator=g) * 3
    canvas = torch.randint(0, V, (1, L), generator=g)

    # correctness first: our entropy and acceptance equal transformers' on these logits
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (EntropyBoundSampler,
                                                                               EntropyBoundSamplerConfig)
    ref_sampler = EntropyBoundSampler(EntropyBoundSamplerConfig(entropy_bound=cfg.entropy_bound), L, V, 48)
    logits = raw / cfg.temperature(24)
    ref_ent = torch.distributions.Categorical(logits=logits).entropy()
    assert torch.equal(entropy(logits), ref_ent)
    ref_sampler.accept_canvas(canvas, canvas, logits, 24)
    assert torch.equal(entropy_bound_accept(ref_ent, cfg.entropy_bound), ref_sampler.accepted_token_mask)

    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    ent = entropy(logits)
    mask = entropy_bound_accept(ent, cfg.entropy_bound)
    parts = {
        "temperature": lambda: raw / cfg.temperature(24),
        "softmax": lambda: torch.softmax(logits, dim=-1, dtype=torch.float32),
        "sample+argmax": lambda: (torch.multinomial(probs.view(-1, V), 1, generator=g), logits.argmax(-1)),
        "entropy": lambda: entropy(logits),
        "acceptance": lambda: entropy_bound_accept(ent, cfg.entropy_bound),
        "re-noise": lambda: torch.where(mask, canvas, torch.randint(0, V, (1, L), generator=g)),
    }
    ours = {k: _time(f, args.repeats) for k, f in parts.items()}
    ours_total = _time(lambda: [f() for f in parts.values()], args.repeats)

    def transformers_step():
        lg = raw / cfg.temperature(24)
        pr = torch.softmax(lg, dim=-1, dtype=torch.float32)
        den = torch.multinomial(pr.view(-1, V), 1).view(1, L)
        lg.argmax(-1)
        acc = ref_sampler.accept_canvas(canvas, den, lg, 24)
        ref_sampler.renoise_canvas(acc, 24)
        torch.distributions.Categorical(logits=lg).entropy().mean(-1)  # its stopping criterion's entropy
    base_total = _time(transformers_step, args.repeats)

    # the tiny model's forward per pass (canvas 256) for scale
    from structdiff.backend import load_model

    dm = load_model("tiny-random", canvas_length=L)
    ctx = dm.start(torch.tensor([[2, 100, 101, 102]]))
    cv = torch.randint(0, dm.vocab_size, (1, L))
    fwd = _time(lambda: dm.canvas_logits(ctx, cv, None), args.repeats)

    print(f"\nsampler pass without a model, L={L}, V={V:,}, threads={torch.get_num_threads()} (median of "
          f"{args.repeats}, ms)")
    print(f"{'part':<28}{'ms':>10}")
    print("-" * 38)
    for k, v in ours.items():
        print(f"{k:<28}{v:>10.1f}")
    print("-" * 38)
    print(f"{'structdiff step (all parts)':<28}{ours_total:>10.1f}")
    print(f"{'transformers step (baseline)':<28}{base_total:>10.1f}")
    print(f"{'ratio structdiff/baseline':<28}{ours_total / base_total:>10.2f}x")
    print(f"{'tiny model forward (V=' + str(dm.vocab_size) + ')':<28}{fwd:>10.1f}")


if __name__ == "__main__":
    main()
