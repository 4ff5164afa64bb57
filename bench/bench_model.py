"""Benchmark the shipped small model: JSON records and Sudoku, model alone vs constrained.

    python bench/bench_model.py [--records 10] [--sudoku 6] [--quickstart 5] [--threads 1] [--model PATH]
                                [--before PATH]

Held-out record prompts come from the training generator under a seed the training run never
used (and any prompt seen in training is dropped). Baseline in the same run: the built-in
tiny random model (canvas 256) on the same prompts. Correctness first: every constrained
output must be valid JSON matching its schema; every returned Sudoku grid must be a solution.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _records(n: int, seed: int) -> list:
    from structdiff.backend.data import record_example

    r = random.Random(seed)
    return [record_example(r) for _ in range(n)]


def _field_accuracy(expected: dict, got) -> tuple[int, int]:
    """(correct leaf facts, all leaf facts) of ``expected`` found at the same place in ``got``."""
    ok = total = 0

    def walk(e, g):
        nonlocal ok, total
        if isinstance(e, dict):
            for k, v in e.items():
                walk(v, g.get(k) if isinstance(g, dict) else None)
        elif isinstance(e, list) and all(isinstance(x, dict) for x in e):
            for i, v in enumerate(e):
                walk(v, g[i] if isinstance(g, list) and i < len(g) else None)
        else:
            total += 1
            ok += int(e == g and type(e) is type(g))

    walk(expected, got)
    return ok, total


def _unconstrained(dm, prompts: list[str], seed: int) -> list[dict]:
    """Model-only generation through structdiff's sampler: text + stats per prompt."""
    from structdiff.api import encode_prompts, make_generator
    from structdiff.sampler import SamplerConfig, denoise

    out = []
    for i, p in enumerate(prompts):
        ids, mask, _ = encode_prompts(dm, p)
        t0 = time.perf_counter()
        res = denoise(dm, ids, config=SamplerConfig(max_tokens=256), generator=make_generator(seed + i),
                      attention_mask=mask)
        secs = time.perf_counter() - t0
        row = res.rows[0]
        out.append({"text": dm.tokenizer.decode(res.tokens[0].tolist()), "seconds": secs,
                    "tokens_per_pass": row.tokens_per_pass, "passes": row.passes,
                    "passes_per_canvas": statistics.mean(row.passes_per_block) if row.passes_per_block else 0,
                    "seconds_per_pass": statistics.mean(res.seconds_per_pass) if res.seconds_per_pass else 0})
    return out


def _json_rows(label: str, outs: list[dict], examples: list) -> dict:
    valid = acc_ok = acc_total = 0
    for o, ex in zip(outs, examples):
        truth = json.loads(ex.target)
        try:
            got = json.loads(o["text"])
            valid += 1
        except ValueError:
            got = None
        ok, total = _field_accuracy(truth, got)
        acc_ok, acc_total = acc_ok + ok, acc_total + total
    n = len(outs)
    return {"what": label, "valid %": 100 * valid / n, "field acc %": 100 * acc_ok / max(1, acc_total),
            "tok/pass": statistics.mean(o["tokens_per_pass"] for o in outs),
            "passes/canvas": statistics.mean(o["passes_per_canvas"] for o in outs),
            "ms/pass": 1000 * statistics.mean(o["seconds_per_pass"] for o in outs),
            "s/call": statistics.mean(o["seconds"] for o in outs)}


def _constrained_json(dm, examples: list, seed: int) -> dict | str:
    import jsonschema

    from structdiff import api

    gen_json = getattr(api, "generate_json", None)
    if gen_json is None:
        return "structdiff.api.generate_json does not exist yet: constrained JSON not measured"
    from structdiff.api import Generator
    from structdiff.constraints import Constraint

    outs, valid, acc_ok, acc_total = [], 0, 0, 0
    for i, ex in enumerate(examples):
        gen = Generator(dm, Constraint.from_json_schema(ex.schema), max_tokens=256)
        t0 = time.perf_counter()
        res = gen(ex.prompt, seed=seed + i)
        secs = time.perf_counter() - t0
        value = json.loads(res.text)
        jsonschema.validate(value, ex.schema)  # correctness: constrained output must be valid
        valid += 1
        ok, total = _field_accuracy(json.loads(ex.target), value)
        acc_ok, acc_total = acc_ok + ok, acc_total + total
        st = res.stats
        outs.append({"seconds": secs, "tokens_per_pass": st.get("tokens_per_pass", 0.0),
                     "passes": st.get("passes", 0), "text": res.text})
    n = len(examples)
    return {"what": "constrained (generate_json)", "valid %": 100 * valid / n,
            "field acc %": 100 * acc_ok / max(1, acc_total),
            "tok/pass": statistics.mean(o["tokens_per_pass"] for o in outs),
            "passes/canvas": statistics.mean(o["passes"] for o in outs),
            "ms/pass": float("nan"), "s/call": statistics.mean(o["seconds"] for o in outs),
            "_samples": [o["text"] for o in outs]}


def _sudoku(dm, path: Path, n: int, seed: int) -> dict:
    from structdiff.backend.data import sudoku_prompt

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:n]
    outs = _unconstrained(dm, [sudoku_prompt(r["puzzle"]) for r in rows], seed)
    solved = sum("".join(ch for ch in o["text"] if ch.isdigit()) == r["solution"] for o, r in zip(outs, rows))
    cells_ok = cells = 0
    for o, r in zip(outs, rows):
        digits = "".join(ch for ch in o["text"] if ch.isdigit())
        for k, (p, s) in enumerate(zip(r["puzzle"], r["solution"])):
            if p == "0":
                cells += 1
                cells_ok += int(k < len(digits) and digits[k] == s)
    res = {"set": path.name, "n": len(rows), "model-only solved %": 100 * solved / len(rows),
           "model-only blank cells right %": 100 * cells_ok / max(1, cells),
           "model-only s/call": statistics.mean(o["seconds"] for o in outs)}
    from structdiff import api

    solve = getattr(api, "solve_sudoku", None)
    if solve is None:
        res["constrained"] = "structdiff.api.solve_sudoku does not exist yet"
        return res
    c_solved = by_model = blanks = 0
    secs = []
    for i, r in enumerate(rows):
        t0 = time.perf_counter()
        out = solve(r["puzzle"], model=dm, seed=seed + i)
        secs.append(time.perf_counter() - t0)
        assert out.valid, "solve_sudoku returned an invalid grid"
        c_solved += int(str(out) == r["solution"])
        by_model += out.cells_by_model
        blanks += r["puzzle"].count("0")
    res.update({"constrained solved %": 100 * c_solved / len(rows),
                "constrained cells by model %": 100 * by_model / max(1, blanks),
                "constrained s/call": statistics.mean(secs)})
    return res


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return "\n".join(lines)


def _quickstart(dm, seeds: int) -> dict:
    """The README quickstart (examples/quickstart.py) over ``seeds`` seeds: how often each field is right."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "examples" / "quickstart.py")
    qs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qs)
    from structdiff.api import Generator
    from structdiff.constraints import Constraint

    gen = Generator(dm, Constraint.from_json_schema(qs.SCHEMA), max_tokens=96)
    right = {k: 0 for k in qs.EXPECTED}
    all_right, tpp, first = 0, [], None
    for seed in range(seeds):
        res = gen(qs.PROMPT, seed=seed)
        value = json.loads(res.text)
        first = first or res.text
        ok = {k: value.get(k) == v for k, v in qs.EXPECTED.items()}
        for k, hit in ok.items():
            right[k] += hit
        all_right += all(ok.values())
        tpp.append(res.stats.get("tokens_per_pass", 0.0))
    row = {"n seeds": seeds, "all 4 right": f"{all_right}/{seeds}"}
    row.update({k: f"{v}/{seeds}" for k, v in right.items()})
    row["tok/pass"] = statistics.mean(tpp)
    row["seed 0"] = first
    return row


def _load_seconds(path: str | None) -> float:
    """Seconds from a fresh interpreter to a loaded model (imports of torch and transformers included)."""
    import subprocess

    code = ("import time; t = time.perf_counter(); from structdiff.backend import load_model; "
            f"load_model({path!r}); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _breakdown(examples: list, samples: list[str]) -> list[dict]:
    """Constrained field accuracy per record shape and per phrasing (n prompts each)."""
    rows = []
    for attr in ("shape", "phrasing"):
        groups: dict[str, list[tuple[int, int]]] = {}
        for ex, text in zip(examples, samples):
            groups.setdefault(getattr(ex, attr) or "-", []).append(_field_accuracy(json.loads(ex.target),
                                                                                   json.loads(text)))
        for name, accs in sorted(groups.items()):
            rows.append({"by": attr, "group": name, "n prompts": len(accs),
                         "field acc %": 100 * sum(a for a, _ in accs) / max(1, sum(t for _, t in accs))})
    return rows


def _bench_one(label: str, path: str | None, args, examples: list, base_rows: list[dict]) -> list[str]:
    from structdiff.backend import load_model

    t0 = time.perf_counter()
    dm = load_model(path)
    load_s = time.perf_counter() - t0
    fresh = _load_seconds(path)
    print(f"\n## {label}: {dm!r}, load {load_s:.2f} s in this process, {fresh:.2f} s from a fresh interpreter, "
          f"params {sum(p.numel() for p in dm.model.parameters()) / 1e6:.2f}M")
    prompts = [ex.prompt for ex in examples]
    notes: list[str] = []
    _unconstrained(dm, prompts[:1], args.seed)  # warm-up
    outs = _unconstrained(dm, prompts, args.seed)
    rows = base_rows + [_json_rows(f"{label}, model only", outs, examples)]
    constrained = _constrained_json(dm, examples, args.seed)
    samples = []
    if isinstance(constrained, str):
        notes.append(constrained)
    else:
        samples = constrained.pop("_samples")
        constrained["what"] = f"{label}, constrained (generate_json)"
        rows.append(constrained)
    print(f"\nJSON records ({len(examples)} held-out prompts)\n")
    print(_table(rows))
    if samples:
        print(f"\nConstrained field accuracy by record shape and phrasing ({label})\n")
        print(_table(_breakdown(examples, samples)))
    for i, (ex, o) in enumerate(list(zip(examples, outs))[:3]):
        print(f"\n  prompt: {ex.prompt!r}\n  truth:  {ex.target}\n  model:  {o['text']!r}")
        if samples:
            print(f"  constrained: {samples[i]}")
    if args.quickstart:
        print(f"\nREADME quickstart prompt ({label}, generate_json, max_tokens 96)\n")
        print(_table([_quickstart(dm, args.quickstart)]))
    sud = []
    for name in ("mini4_sample.csv", "easy_sample.csv"):
        spath = SHARED / "sudoku" / name
        if not spath.is_file():
            notes.append(f"{spath} missing: sudoku not measured")
            continue
        if args.sudoku:
            sud.append(_sudoku(dm, spath, args.sudoku, args.seed))
    if sud:
        print(f"\nSudoku ({label})\n")
        keys = sorted({k for r in sud for k in r}, key=lambda k: list(sud[0]).index(k) if k in sud[0] else 99)
        print(_table([{k: r.get(k, "-") for k in keys} for r in sud]))
    return notes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10)
    ap.add_argument("--sudoku", type=int, default=6)
    ap.add_argument("--quickstart", type=int, default=5, help="seeds of the README quickstart prompt (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--model", default=None, help="a checkpoint folder (default: the shipped model)")
    ap.add_argument("--before", default=None,
                    help="an earlier checkpoint folder measured in the same run, on the same prompts and seeds")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from structdiff.backend import load_model

    examples = _records(args.records, seed=10**6 + args.seed)
    prompts = [ex.prompt for ex in examples]
    base = load_model("tiny-random", canvas_length=256)
    base_rows = [_json_rows("tiny-random baseline, model only", _unconstrained(base, prompts, args.seed), examples)]
    notes = []
    if args.before:
        notes += _bench_one("before", args.before, args, examples, base_rows)
    notes += _bench_one("shipped" if args.model is None else "model", args.model, args, examples, base_rows)
    for n in notes:
        print(f"\nNOTE: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
