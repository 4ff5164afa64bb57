"""Quickstart: a JSON value that is valid by construction, written by a diffusion language model.

    python examples/quickstart.py

Uses the default model (the small model shipped with structdiff; the tiny random one
if none is installed). For the real DiffusionGemma on a GPU pass
``model=structdiff.load_model("google/diffusiongemma-26B-A4B-it", device="cuda", dtype="bfloat16")``.
"""

import json
import time

import jsonschema
import torch

import structdiff

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 24},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "email": {"type": "string", "pattern": "^[a-z][a-z.]{0,15}@[a-z]{2,12}\\.(com|org|net)$"},
        "plan": {"enum": ["free", "pro", "team"]},
        "tags": {"type": "array", "items": {"enum": ["new", "vip", "beta"]}, "maxItems": 3, "uniqueItems": True},
    },
    "required": ["name", "age", "email", "plan"],
}
PROMPT = "Make a JSON record from this text. Alice Martin, 34 years old, email alice.martin@example.com, pro plan"
# What a reader expects back (bench/bench_model.py checks the shipped model against it).
EXPECTED = {"name": "Alice Martin", "age": 34, "email": "alice.martin@example.com", "plan": "pro"}


def main() -> None:
    t = time.perf_counter()
    result = structdiff.generate_json(SCHEMA, PROMPT, max_tokens=96, seed=0, return_result=True)
    print(json.dumps(result.value, indent=2, ensure_ascii=False))

    jsonschema.validate(result.value, SCHEMA)  # never fails: the output is valid by construction
    s = result.stats
    print(f"valid: yes · {s['passes']} passes · {s['tokens']} tokens ({s['tokens_per_pass']:.1f} per pass) · "
          f"{s['repair_rounds']} repair rounds · {time.perf_counter() - t:.1f} s in all (model load included)")


if __name__ == "__main__":
    torch.set_num_threads(1)  # be polite on shared CPUs; remove for speed
    main()
