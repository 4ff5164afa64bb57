"""Where the shipped model's load time goes, from a fresh interpreter.

    python bench/bench_load.py [-n 7] [--model PATH]

Each sample is a new interpreter that times its own imports stage by stage, then
``load_model``, then a second ``load_model`` in the same process (the warm cost). The first
column is bench_model's figure (``from structdiff.backend import load_model; load_model(...)``
timed inside the child); the baseline measured in the same run is the floor any loader of this
model class pays: a fresh interpreter that only imports torch and transformers' DiffusionGemma
modeling module. Medians of n samples; a sample that fails is counted, not fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# one fresh interpreter: cumulative stage marks, printed as JSON on the last line
_CHILD = r"""
import json, sys, time
t0 = time.perf_counter(); marks = {}
import torch; marks["import torch"] = time.perf_counter()
import transformers; marks["import transformers (package)"] = time.perf_counter()
import transformers.modeling_utils; marks["transformers.modeling_utils"] = time.perf_counter()
import transformers.models.diffusion_gemma.modeling_diffusion_gemma
marks["DiffusionGemma modeling module"] = time.perf_counter()
from structdiff.backend import load_model; marks["import structdiff.backend"] = time.perf_counter()
load_model(MODEL); marks["load_model()"] = time.perf_counter()
t1 = time.perf_counter(); load_model(MODEL); warm = time.perf_counter() - t1
prev, stages = t0, {}
for name, t in marks.items():
    stages[name] = t - prev; prev = t
heavy = [m for m in ("fastapi", "uvicorn", "lark", "jsonschema", "hypothesis", "rich", "pydantic") if m in sys.modules]
print(json.dumps({"stages": stages, "total": prev - t0, "warm": warm, "heavy": heavy}))
"""

_BENCH = ("import time; t = time.perf_counter(); from structdiff.backend import load_model; "
          "load_model(MODEL); print(time.perf_counter() - t)")
_FLOOR = ("import time; t = time.perf_counter(); import torch, "
          "transformers.models.diffusion_gemma.modeling_diffusion_gemma; print(time.perf_counter() - t)")


def _run(code: str, model: str | None) -> str | None:
    out = subprocess.run([sys.executable, "-c", code.replace("MODEL", repr(model))], capture_output=True,
                         text=True, cwd=ROOT, check=False)
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=7, help="fresh interpreters per row (default 7)")
    ap.add_argument("--model", default=None, help="what load_model loads (default: the shipped model)")
    args = ap.parse_args()

    # correctness first: the model loads at all
    from structdiff.backend import load_model

    dm = load_model(args.model)
    print(f"# bench_load: {dm!r}, n={args.n} fresh interpreters per row, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    del dm
    rows: dict[str, list[float]] = {"floor": [], "bench_model": [], "warm": []}
    stages: dict[str, list[float]] = {}
    heavy: set[str] = set()
    failures = 0
    for _ in range(args.n):  # interleaved, so all rows see the same machine load
        floor, bench, child = _run(_FLOOR, None), _run(_BENCH, args.model), _run(_CHILD, args.model)
        if floor is None or bench is None or child is None:
            failures += 1
            continue
        rows["floor"].append(float(floor))
        rows["bench_model"].append(float(bench))
        got = json.loads(child)
        rows["warm"].append(got["warm"])
        heavy.update(got["heavy"])
        for name, s in got["stages"].items():
            stages.setdefault(name, []).append(s)
    if not rows["floor"]:
        print(f"all {failures} samples failed")
        sys.exit(1)
    floor = statistics.median(rows["floor"])
    print("\n| what | n | median s | min-max s | vs floor |\n|---|---|---|---|---|")
    for label, key in (("floor: import torch + DiffusionGemma modeling (baseline)", "floor"),
                       ("load_model() from a fresh interpreter (bench_model's figure)", "bench_model"),
                       ("load_model() again in the same process", "warm")):
        v = rows[key]
        print(f"| {label} | {len(v)} | {statistics.median(v):.2f} | {min(v):.2f}-{max(v):.2f} | "
              f"{statistics.median(v) / floor:.2f}x |")
    print("\n| stage (one fresh interpreter, in order) | n | median s | share |\n|---|---|---|---|")
    total = sum(statistics.median(v) for v in stages.values())
    for name, v in stages.items():
        print(f"| {name} | {len(v)} | {statistics.median(v):.3f} | {100 * statistics.median(v) / total:.0f} % |")
    print(f"\nfailed samples: {failures}; optional packages imported by load_model: {sorted(heavy) or 'none'}")


if __name__ == "__main__":
    main()
