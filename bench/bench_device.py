"""Model forward vs constraint hook per pass on CUDA, for a DiffusionGemma of the real checkpoint's size.

    python bench/bench_device.py              # needs CUDA and ~70 GB of GPU memory; refuses otherwise
    python bench/bench_device.py --dry-run    # CPU: parameter count of the real-size config (meta device),
                                              # then the whole measurement path on a tiny config

The model is ``DiffusionGemmaForBlockDiffusion`` with random bfloat16 weights and the config below
(``REAL_TEXT``): the published shape of google/diffusiongemma-26B-A4B-it, a Gemma 4 26B-A4B decoder
(a mixture of 128 experts with 8 routed per token beside a dense MLP, 30 layers, hidden size 2816,
sliding layers with 8 KV heads of 256, global layers with 2 KV heads of 512; vocabulary 262,144;
canvas 256). Sources: transformers' ``DiffusionGemmaTextConfig`` fields and its
expert-parallel plan comment (``num_global_key_value_heads=2``), NVIDIA Megatron-Bridge's Gemma 4
provider (128 experts, top-8, dense MLP path, head dims 256/512), fairseq2's Gemma 4 table (~3.8B
active of ~25B). The script prints the parameter counts it builds (total and active per token), so
the config can be checked against "~26B, ~3.8B active". transformers' default DiffusionGemmaConfig is a
smaller dense model and is not used.

Per (constraint, B): the model's canvas forward (ms, CUDA-synchronised) and one pass of the
constraint hook on those logits (class masses, forward-backward, constrained logits, joint sample,
best path, re-noise) in the same run. Goal: hook <= 5 % of the forward. n passes per cell are timed
after a checked warm-up pass; failures are counted, not raised.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT.parent / "shared" / "data" / "vocab" / "bpe_262144.json"
GOAL = 0.05
NEED_GB = 70  # bf16 weights (~52 GB) + KV cache, activations and [8, 256, 262144] float32 logits

REAL_TEXT = {
    "vocab_size": 262_144,
    "hidden_size": 2816,
    "intermediate_size": 2112,  # the dense MLP beside the experts
    "num_hidden_layers": 30,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "global_head_dim": 512,
    "num_global_key_value_heads": 2,
    "sliding_window": 1024,
    "num_experts": 128,
    "top_k_experts": 8,
    "moe_intermediate_size": 704,
    "enable_moe_block": True,
    "max_position_embeddings": 4096,  # enough for the bench; the checkpoint's context is longer
}
SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 40}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "email": {"type": "string", "format": "email"}, "tags": {"type": "array", "items": {"type": "string"},
                                                              "maxItems": 5}},
    "required": ["name", "age"]}


def build_config(text: dict, canvas: int):
    """A ``DiffusionGemmaConfig`` with this text config and a minimal vision tower."""
    from transformers import DiffusionGemmaConfig
    from transformers.models.diffusion_gemma.configuration_diffusion_gemma import DiffusionGemmaTextConfig

    layer_types = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(text["num_hidden_layers"])]
    layer_types[-1] = "full_attention"
    tc = DiffusionGemmaTextConfig(**text, layer_types=layer_types, pad_token_id=0, eos_token_id=1, bos_token_id=2)
    vision = {"model_type": "gemma4_vision", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
              "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 16, "position_embedding_size": 64}
    v = text["vocab_size"]
    return DiffusionGemmaConfig(text_config=tc.to_dict(), vision_config=vision, canvas_length=canvas,
                                boi_token_id=v - 1, eoi_token_id=v - 1, image_token_id=v - 1)


def count_params(cfg) -> tuple[float, float]:
    """(total, active per token) parameters in billions, from the model built on the meta device."""
    from transformers import DiffusionGemmaForBlockDiffusion

    with torch.device("meta"):
        m = DiffusionGemmaForBlockDiffusion(cfg)
    total = sum(p.numel() for p in m.parameters())
    experts = sum(p.numel() for n, p in m.named_parameters() if ".experts." in n)
    t = cfg.text_config
    active = total - experts * (1 - t.top_k_experts / t.num_experts) if t.num_experts else total
    return total / 1e9, active / 1e9


def make_model(cfg, tok, device, dtype):
    """Random weights on ``device`` without a 26B-parameter init on the host."""
    from transformers import DiffusionGemmaForBlockDiffusion

    from structdiff.backend.model import DiffusionModel, _set_special_ids

    with torch.device("meta"):
        m = DiffusionGemmaForBlockDiffusion(cfg)
    m = m.to_empty(device=device).to(dtype).eval()
    g = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.02, generator=g)
        for b in m.buffers():
            if b.is_floating_point() and not torch.isfinite(b).all():
                b.zero_()
    _set_special_ids(m, tok)
    return DiffusionModel(m, tok, name="random DiffusionGemma (real size)")


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def measure(dm, comps, batches, reps, device) -> list[dict]:
    """Forward ms and hook ms per pass for every (constraint, B)."""
    from structdiff.constraints.hook import RegexHook
    from structdiff.sampler.hooks import PassView

    rows = []
    L, V = dm.canvas_length, dm.vocab_size
    for B in batches:
        ids = torch.randint(3, V - 1, (B, 32), generator=torch.Generator().manual_seed(B))
        ctx = dm.start(ids)
        canvas = torch.randint(0, V, (B, L), generator=torch.Generator().manual_seed(1)).to(device)
        logits = dm.canvas_logits(ctx, canvas, None)  # warm-up
        sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            logits = dm.canvas_logits(ctx, canvas, None)  # [B, L, V] float32
        sync(device)
        fwd = (time.perf_counter() - t) / reps
        logits = logits / 0.8
        for name, comp in comps:
            try:
                hook = RegexHook([comp] * B, seeds=list(range(B)))
                view = PassView(0, 0, 1, 1, canvas, torch.ones(B, dtype=torch.bool, device=device),
                                torch.zeros(B, dtype=torch.long, device=device), L, [[] for _ in range(B)])
                hook.begin_block(view)

                def one_pass():
                    out = hook.process_logits(view, logits)
                    s, b = hook.propose(view, out, None, None)
                    hook.renoise(view, s, torch.ones_like(s, dtype=torch.bool), None)
                    return s, b

                for r in one_pass():  # checked warm-up
                    assert all(comp.matches_tokens(x) for x in r.tolist()), name
                sync(device)
                t = time.perf_counter()
                for _ in range(reps):
                    one_pass()
                sync(device)
                hk = (time.perf_counter() - t) / reps
                rows.append(dict(constraint=name, B=B, forward_ms=fwd * 1e3, hook_ms=hk * 1e3, ratio=hk / fwd, n=reps))
            except Exception as exc:  # noqa: BLE001 - a benchmark counts failures
                rows.append(dict(constraint=name, B=B, forward_ms=fwd * 1e3, error=f"{type(exc).__name__}: {exc}"))
        ctx = None  # free the KV cache before the next batch size
    return rows


def report(rows, header: str) -> int:
    print(header)
    print("| constraint | B | forward ms | hook ms | hook / forward | goal <= 5 % | n |")
    print("|---|---|---|---|---|---|---|")
    failures = 0
    for r in rows:
        if "error" in r:
            failures += 1
            print(f"| {r['constraint']} | {r['B']} | {r['forward_ms']:.1f} | failed: {r['error'][:80]} | | | |")
            continue
        print(f"| {r['constraint']} | {r['B']} | {r['forward_ms']:.1f} | {r['hook_ms']:.1f} | {100 * r['ratio']:.1f} % "
              f"| {'met' if r['ratio'] <= GOAL else 'missed'} | {r['n']} |")
    print(f"failures: {failures}")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU: count the real config, run the path on a tiny one")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from structdiff.backend.tokenizer import Tokenizer
    from structdiff.constraints import Constraint

    batches = [int(b) for b in args.batch.split(",")]
    real = build_config(REAL_TEXT, 256)
    total, active = count_params(real)
    print(f"real-size config: {total:.1f}B parameters, {active:.2f}B active per token (meta device, no memory)")
    if args.dry_run:
        from structdiff.backend import build_tiny_tokenizer

        tok = build_tiny_tokenizer()
        small = dict(REAL_TEXT, vocab_size=tok.vocab_size, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=1, head_dim=32, global_head_dim=32,
                     num_global_key_value_heads=1, num_experts=4, top_k_experts=2, moe_intermediate_size=32)
        dm = make_model(build_config(small, 64), tok, "cpu", torch.float32)
        comps = [(n, c.compile(tok, canvas_length=64, max_tokens=64)) for n, c in
                 (("json schema", Constraint.from_json_schema(SCHEMA)), ("lark json", Constraint.from_lark("json")))]
        rows = measure(dm, comps, batches, 1, "cpu")
        return 1 if report(rows, "dry run (tiny config, CPU): the measurement path, not a measurement") else 0
    if not torch.cuda.is_available():
        print("refusing: this benchmark needs CUDA (a GPU with ~70 GB); use --dry-run to check the script on CPU")
        return 2
    free_gb = torch.cuda.mem_get_info()[0] / 2**30
    if free_gb < NEED_GB:
        print(f"refusing: {free_gb:.0f} GB of GPU memory free, the real-size model needs ~{NEED_GB} GB")
        return 2
    tok = Tokenizer.from_file(str(VOCAB))
    comps = [(n, c.compile(tok, canvas_length=256, max_tokens=256)) for n, c in
             (("json schema", Constraint.from_json_schema(SCHEMA)), ("lark json", Constraint.from_lark("json")))]
    dm = make_model(real, tok, "cuda", torch.bfloat16)
    rows = measure(dm, comps, batches, args.reps, "cuda")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if report(rows, f"{torch.cuda.get_device_name()}: L=256, V=262,144, bf16 model, float32 logits") else 0


if __name__ == "__main__":
    sys.exit(main())
