"""Sudoku benchmark: solver-guided diffusion vs the unconstrained sampler, on ../shared/data/sudoku.

For each sample file: solved %, validity % (must be 100), share of blank cells the model placed,
passes per puzzle, seconds per puzzle; baseline = the plain sampler on the same prompts, its text
parsed as a grid and checked (validity = a complete solution that keeps the clues).

    python bench/bench_sudoku.py              # small default sample (a few minutes on 2 CPUs)
    python bench/bench_sudoku.py --n 50 --batch 8
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from structdiff.api import encode_prompts, make_generator, resolve_model
from structdiff.constraints.sudoku import parse_puzzle, sudoku_prompt, validate_puzzle
from structdiff.constraints.sudoku_solve import _is_solution, solve_grids
from structdiff.sampler import SamplerConfig, denoise

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sudoku"
FILES = {"easy_sample.csv": 6, "hard_sample.csv": 6, "mini4_sample.csv": 16}


def _baseline_valid(text: str, grid: list[list[int]]) -> bool:
    n = len(grid)
    lines = text.strip().split("\n")[:n]
    if len(lines) != n or any(len(line) != n or not line.isdigit() for line in lines):
        return False
    cand = [[int(ch) for ch in line] for line in lines]
    return _is_solution(cand, grid)


def run(name: str, n: int, batch: int, max_passes: int, model, seed: int) -> dict:
    rows = list(csv.DictReader(open(DATA / name, encoding="utf-8", newline="")))[:n]
    grids = [validate_puzzle(r["puzzle"])[0] for r in rows]
    blanks = sum(r["puzzle"].count("0") for r in rows)
    res, t0 = [], time.perf_counter()
    for i in range(0, len(grids), batch):
        chunk = grids[i:i + batch]
        ids, mask, _ = encode_prompts(model, [sudoku_prompt(g) for g in chunk])
        res += solve_grids(model, chunk, ids, mask, make_generator(seed + i), max_passes=max_passes)
    t_struct = time.perf_counter() - t0
    solved = sum(str(r) == row["solution"] for r, row in zip(res, rows))
    valid = sum(_is_solution(r.grid, parse_puzzle(row["puzzle"])) for r, row in zip(res, rows))
    # baseline: the plain sampler writes the grid on its own
    size = len(grids[0])
    base_ok, t0 = 0, time.perf_counter()
    for i in range(0, len(grids), batch):
        chunk = grids[i:i + batch]
        ids, mask, _ = encode_prompts(model, [sudoku_prompt(g) for g in chunk])
        out = denoise(model, ids, config=SamplerConfig(max_tokens=size * (size + 1), max_passes=max_passes),
                      generator=make_generator(seed + i), attention_mask=mask)
        for row, g in zip(out.tokens, chunk):
            base_ok += _baseline_valid(model.tokenizer.decode(row.tolist()), g)
    t_base = time.perf_counter() - t0
    k = len(rows)
    return {
        "file": name, "n": k, "solved%": 100 * solved / k, "valid%": 100 * valid / k,
        "model%": 100 * sum(r.cells_by_model for r in res) / blanks,
        "prop%": 100 * sum(r.cells_by_propagation for r in res) / blanks,
        "solver%": 100 * sum(r.cells_by_solver for r in res) / blanks,
        "stepped_in%": 100 * sum(r.solver_stepped_in for r in res) / k,
        "conflicts": sum(r.conflicts for r in res) / k,
        "passes": sum(r.passes for r in res) / k, "s/puzzle": t_struct / k,
        "base_valid%": 100 * base_ok / k, "base_s/puzzle": t_base / k,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="puzzles per file (default: 6 / 6 / 16)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-passes", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = resolve_model(None)
    print(f"model: {model!r}")
    warm = [parse_puzzle(list(csv.DictReader(open(DATA / "mini4_sample.csv")))[0]["puzzle"])]  # warm-up
    ids, mask, _ = encode_prompts(model, sudoku_prompt(warm[0]))
    solve_grids(model, warm, ids, mask, make_generator(0), max_passes=2)
    cols = ["file", "n", "solved%", "valid%", "model%", "prop%", "solver%", "stepped_in%", "conflicts", "passes",
            "s/puzzle", "base_valid%", "base_s/puzzle"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for name, default_n in FILES.items():
        r = run(name, args.n or default_n, args.batch, args.max_passes, model, args.seed)
        print("| " + " | ".join(f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |",
              flush=True)


if __name__ == "__main__":
    main()
