"""Teacher-forced copy probe: can a checkpoint fill in the values of a record from its prompt?

    python bench/bench_copy.py CHECKPOINT [CHECKPOINT ...] [--prompts 48]

For held-out record prompts (stream seed 10**6 + 7, never trained on), the clean target canvas
has every token of every JSON value replaced by a uniform random token while the structure
(keys, braces, the rest) stays clean; one model pass (no self-conditioning) predicts them. Printed:
the argmax accuracy over value tokens and the share of values whose tokens are all right, by value
type, for each checkpoint in the same run. It isolates what constrained decoding needs from the
model (the constraint supplies the structure; the values must come from the prompt).
"""

from __future__ import annotations

import argparse
import random
import re
import sys

import torch

VALUE = re.compile(r'":\s*("(?:[^"\\]|\\.)*"|-?[\d.]+|true|false)')


def probe(path: str, n: int) -> dict:
    from transformers import DiffusionGemmaForBlockDiffusion

    from structdiff.backend.data import record_example
    from structdiff.backend.tokenizer import Tokenizer
    from structdiff.backend.train import _forward, make_batch

    tok = Tokenizer.from_file(f"{path}/tokenizer.json")
    model = DiffusionGemmaForBlockDiffusion.from_pretrained(path, dtype=torch.float32).eval()
    vocab = model.config.text_config.vocab_size
    r = random.Random(10**6 + 7)
    examples = [record_example(r) for _ in range(n)]
    g = torch.Generator().manual_seed(0)
    hit_tokens = all_tokens = 0
    by_type: dict[str, list[int]] = {}
    for i in range(0, n, 16):
        batch = examples[i:i + 16]
        ids, mask, clean = make_batch(tok, batch, 256, random.Random(0))
        values = torch.zeros_like(clean, dtype=torch.bool)  # [B, L]
        spans = []
        for b, ex in enumerate(batch):
            offsets = tok.backend.encode(ex.target, add_special_tokens=False).offsets
            for m in VALUE.finditer(ex.target):
                s, e = m.span(1)
                toks = [k for k, (a, z) in enumerate(offsets) if a < e and z > s and k < clean.shape[1]]
                values[b, toks] = True
                v = m.group(1)
                spans.append((b, toks, "bool" if v in ("true", "false") else "string" if v[0] == '"' else "number"))
        noisy = torch.where(values, torch.randint(0, vocab, clean.shape, generator=g), clean)
        with torch.no_grad():
            pred = _forward(model, ids, mask, noisy, torch.zeros(len(batch), dtype=torch.bool)).argmax(-1)
        hit = (pred == clean) & values
        hit_tokens += int(hit.sum())
        all_tokens += int(values.sum())
        for b, toks, kind in spans:
            cell = by_type.setdefault(kind, [0, 0])
            cell[0] += all(bool(hit[b, k]) for k in toks)
            cell[1] += 1
    whole = sum(c[0] for c in by_type.values()) / max(1, sum(c[1] for c in by_type.values()))
    row = {"checkpoint": path, "prompts": n, "value tokens": all_tokens,
           "value-token acc %": 100 * hit_tokens / max(1, all_tokens), "whole values right %": 100 * whole}
    for kind in ("string", "number", "bool"):
        c = by_type.get(kind, [0, 0])
        row[f"{kind}s right"] = f"{c[0]}/{c[1]}"
    return row


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [probe(p, args.prompts) for p in args.checkpoints]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
