"""JSON Schema coverage, compile time and generation validity over the JSONSchemaBench sample.

Per split: compiled %, unsupported-with-clear-error %, crash % (must be 0), outlines-core's
``build_regex_from_schema`` coverage on the same schemas (baseline, same run), compile time
p50/p95 (schema -> pattern -> token automaton for the tiny model's tokenizer), then for a few
compiled schemas per split: validity of the tiny model's output (must be 100%), hook overhead
per pass and tokens per pass, constrained vs unconstrained on the same prompt.

    python bench/bench_jsonschema.py                 # 1 generated schema per split
    python bench/bench_jsonschema.py --gen 5         # more
    python bench/bench_jsonschema.py --generation-only --reps 3   # skip the coverage half; fastest of 3 calls

With ``--generation-only`` only the first ``--gen`` compiled schemas per split are compiled (no outlines-core
children, no coverage columns); ``--reps`` times each schema's constrained call and the unconstrained
denoise ``reps`` times, alternating, and compares the fastest of each (less noise on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsonschema" / "jsonschemabench_sample.jsonl"


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:5.1f}" if d else "  -  "


def q(xs: list, p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


_OC_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from outlines_core.json_schema import build_regex_from_schema
build_regex_from_schema(sys.stdin.read())
"""


def outlines_compiles(schema: dict) -> bool:
    """Baseline: outlines-core's ``build_regex_from_schema`` in a memory-capped child (it can blow up)."""
    try:
        p = subprocess.run([sys.executable, "-c", _OC_CHILD], input=json.dumps(schema), capture_output=True,
                           text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return p.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gen", type=int, default=1, help="schemas per split to generate with the tiny model")
    ap.add_argument("--max-tokens", type=int, default=192)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--generation-only", action="store_true", help="skip the coverage half (outlines-core children)")
    ap.add_argument("--reps", type=int, default=1, help="timed calls per schema, constrained and unconstrained")
    args = ap.parse_args()
    torch.set_num_threads(1)

    import jsonschema
    from structdiff.api import Generator, encode_prompts, make_generator
    from structdiff.backend import load_model
    from structdiff.constraints.json_schema import JsonSchemaConstraint
    from structdiff.errors import SchemaError, StructDiffError, UnsatisfiableError
    from structdiff.sampler import SamplerConfig, denoise

    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    model = load_model("tiny-random", canvas_length=64, seed=0)
    tok = model.tokenizer
    # warm-up: imports, regex compiler, automaton cache paths
    JsonSchemaConstraint({"type": "object", "properties": {"a": {"type": "integer"}}}).compile(
        tok, canvas_length=64, max_tokens=args.max_tokens)

    per = defaultdict(lambda: defaultdict(list))
    kw_auto, kw_val = defaultdict(int), defaultdict(int)
    errors = defaultdict(int)
    for row in rows:
        s = per[row["split"]]
        if args.generation_only and len(s["compiled"]) >= args.gen:
            continue
        s["n"].append(1)
        if not args.generation_only and outlines_compiles(row["schema"]):
            s["oc"].append(1)
        t0 = time.perf_counter()
        try:
            c = JsonSchemaConstraint(row["schema"])
            t1 = time.perf_counter()
            comp = c.compile(tok, canvas_length=64, max_tokens=args.max_tokens)
            t2 = time.perf_counter()
        except (SchemaError, UnsatisfiableError) as e:
            s["clear"].append(1)
            errors[f"{type(e).__name__}: {str(e)[:70]}"] += 1
            continue
        except Exception as e:  # noqa: BLE001 - a crash is what this bench counts
            s["crash"].append(1)
            print(f"CRASH {row['id']}: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        s["ok"].append(1)
        s["t_schema"].append(t1 - t0)
        s["t_compile"].append(t2 - t0)
        if len(s["compiled"]) < args.gen:  # keep only what we generate with (automata are large)
            s["compiled"].append((row, c, comp))
        del comp
        for k in c.report["automaton"]:
            kw_auto[k] += 1
        for k in c.report["validator"]:
            kw_val[k] += 1

    # generation on a few compiled schemas per split
    cfg = SamplerConfig(max_tokens=args.max_tokens)
    for split, s in per.items():
        for row, c, comp in s["compiled"][:args.gen]:
            prompt = f"Output a JSON value for the schema {row['id']}:"
            gen = Generator(model, c, max_tokens=args.max_tokens, max_repair_rounds=3)
            c_spp = None
            ids, mask, _ = encode_prompts(model, prompt)
            spp_u = []
            for _rep in range(max(1, args.reps)):  # constrained then unconstrained, alternating
                try:
                    res = gen(prompt, seed=0)
                    spp = res.stats["seconds"] / max(1, res.stats["passes"])
                    c_spp = spp if c_spp is None else min(c_spp, spp)
                except StructDiffError as e:
                    res = e
                t0 = time.perf_counter()
                out = denoise(model, ids, config=cfg, generator=make_generator(0), attention_mask=mask)
                dt = time.perf_counter() - t0
                r0 = out.rows[0]
                spp_u.append(dt / max(1, r0.passes))
                if isinstance(res, StructDiffError):
                    break
            if isinstance(res, StructDiffError):
                c_spp = None
                s["valid"].append(0)
                s["gen_err"].append(1)
                print(f"GENERATION {row['id']}: {type(res).__name__}: {str(res)[:120]}", file=sys.stderr)
            else:
                ok = jsonschema.validators.validator_for(row["schema"])(row["schema"]).is_valid(res.value)
                s["valid"].append(int(ok))
                s["spp_c"].append(c_spp)
                s["tpp_c"].append(res.stats["tokens_per_pass"])
                s["repairs"].append(res.stats["repair_rounds"])
            s["spp_u"].append(min(spp_u))
            if c_spp is not None:  # per schema: constrained / unconstrained seconds per pass, same prompt
                s["ratio"].append(c_spp / s["spp_u"][-1])
            s["tpp_u"].append(r0.tokens / max(1, r0.passes))

    hdr = (f"{'split':<16}{'n':>4}{'compiled%':>10}{'clear-err%':>11}{'crash%':>7}{'outlines%':>10}"
           f"{'p50 ms':>8}{'p95 ms':>8}{'gen':>5}{'valid%':>7}{'ms/pass c':>10}{'ms/pass u':>10}"
           f"{'overhead':>9}{'tok/pass c':>11}{'tok/pass u':>11}")
    print(hdr)
    print("-" * len(hdr))
    tot = defaultdict(list)
    for split in sorted(per):
        s = per[split]
        for k, v in s.items():
            if k != "compiled":
                tot[k].extend(v)
        print(_line(split, s))
    print("-" * len(hdr))
    print(_line("ALL", tot))
    r = tot["ratio"]
    print(f"\nper-pass time constrained / unconstrained, per schema (n={len(r)}): median {q(r, .5):.2f}x, "
          f"p95 {q(r, .95):.2f}x, max {max(r, default=float('nan')):.2f}x (goal: median <= 1.5x, p95 <= 4x; "
          f"fastest of {max(1, args.reps)} call(s) each; generation errors: {len(tot['gen_err'])})")
    print("\nkeywords enforced by the automaton (schemas):", dict(sorted(kw_auto.items(), key=lambda x: -x[1])))
    print("keywords checked by the validator (schemas):", dict(sorted(kw_val.items(), key=lambda x: -x[1])))
    print("clear errors:", dict(sorted(errors.items(), key=lambda x: -x[1])))
    return 0


def _line(name: str, s) -> str:
    n = len(s["n"])
    spp_c = statistics.mean(s["spp_c"]) * 1e3 if s["spp_c"] else float("nan")
    spp_u = statistics.mean(s["spp_u"]) * 1e3 if s["spp_u"] else float("nan")
    over = f"{spp_c / spp_u:8.2f}x" if s["spp_u"] and s["spp_c"] else "      - "
    tpp_c = statistics.mean(s["tpp_c"]) if s["tpp_c"] else float("nan")
    tpp_u = statistics.mean(s["tpp_u"]) if s["tpp_u"] else float("nan")
    return (f"{name:<16}{n:>4}{pct(len(s['ok']), n):>10}{pct(len(s['clear']), n):>11}{pct(len(s['crash']), n):>7}"
            f"{pct(len(s['oc']), n):>10}{q(s['t_compile'], .5) * 1e3:>8.0f}{q(s['t_compile'], .95) * 1e3:>8.0f}"
            f"{len(s['valid']):>5}{pct(sum(s['valid']), len(s['valid'])):>7}{spp_c:>10.1f}{spp_u:>10.1f}{over:>9}"
            f"{tpp_c:>11.2f}{tpp_u:>11.2f}")


if __name__ == "__main__":
    sys.exit(main())
