"""More puzzles on the generic CSP hook, one small class each: KenKen.

A puzzle only says what its variables, values, rules, layout and prompt are; ``CSPHook``
does the rest (model proposals, propagation, conflict-directed re-noising, the solver).

>>> from structdiff.constraints.puzzles import Cage, KenKen
>>> k = KenKen(3, [Cage(((0, 0), (0, 1)), "+", 3), Cage(((0, 2), (1, 2)), "+", 5),
...                Cage(((1, 0), (2, 0)), "*", 6), Cage(((1, 1), (2, 1)), "-", 2), Cage(((2, 2),), "=", 1)])
>>> k.solve_exact()
[[1, 2, 3], [3, 1, 2], [2, 3, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import InputError, UnsatisfiableError
from ..sampler import SamplerConfig, denoise
from .csp import CSP, AllDifferent, Predicate
from .csp_hook import CanvasLayout, CSPHook, CSPStats

__all__ = ["Cage", "KenKen", "PuzzleResult", "grid_layout"]

_OPS = {"+", "*", "-", "/", "="}


def grid_layout(tokenizer, n_rows: int, n_cols: int, value_texts: Sequence[str]) -> CanvasLayout:
    """Rows of one token per cell, newline tokens between rows; ``value_texts[k]`` must be one token each."""
    def one(text: str) -> int:
        ids = tokenizer.encode(text)
        if len(ids) != 1:
            raise InputError(f"the tokenizer has no single token for {text!r}; each value needs one token")
        return ids[0]

    nl = one("\n")
    var_pos = tuple(r * (n_cols + 1) + c for r in range(n_rows) for c in range(n_cols))
    fixed = tuple((r * (n_cols + 1) + n_cols, nl) for r in range(n_rows - 1))
    return CanvasLayout(n_rows * (n_cols + 1) - 1, var_pos, fixed, tuple(one(t) for t in value_texts))


@dataclass(frozen=True)
class Cage:
    """Cells ``(row, col)`` whose values combine with ``op`` (``+ * - / =``) to ``target``."""

    cells: tuple[tuple[int, int], ...]
    op: str
    target: int

    def holds(self, vals: tuple) -> bool:
        if self.op == "+":
            return sum(vals) == self.target
        if self.op == "*":
            return math.prod(vals) == self.target
        if self.op == "-":
            return abs(vals[0] - vals[1]) == self.target
        if self.op == "/":
            lo, hi = sorted(vals)
            return hi == lo * self.target
        return vals[0] == self.target


@dataclass
class PuzzleResult:
    """A solved grid (rows of ints) and who placed its cells (``CSPStats``)."""

    grid: list[list[int]]
    stats: CSPStats
    passes: int
    seconds: float


class KenKen:
    """An ``n x n`` KenKen: Latin-square rows and columns (all-different) plus arithmetic cages.

    Parameters
    ----------
    size : int
        Grid size, 3-9 (values 1..size, one token each).
    cages : sequence of Cage
        Must cover every cell exactly once; ``-`` and ``/`` take two cells, ``=`` one.
    """

    def __init__(self, size: int, cages: Sequence[Cage]):
        if not 3 <= size <= 9:
            raise InputError(f"KenKen size must be 3-9, got {size}")
        seen: list[tuple[int, int]] = []
        for cage in cages:
            if cage.op not in _OPS:
                raise InputError(f"unknown cage operation {cage.op!r}: use one of {sorted(_OPS)}")
            need = {"-": 2, "/": 2, "=": 1}.get(cage.op)
            if need is not None and len(cage.cells) != need:
                raise InputError(f"a {cage.op!r} cage needs {need} cell(s), got {len(cage.cells)}")
            seen.extend(cage.cells)
        if sorted(seen) != [(r, c) for r in range(size) for c in range(size)]:
            raise InputError("the cages must cover every cell of the grid exactly once")
        self.size = size
        self.cages = tuple(cages)

    def csp(self) -> CSP:
        n = self.size
        labels = range(1, n + 1)
        rules = [AllDifferent([r * n + c for c in range(n)], f"row {r + 1}") for r in range(n)]
        rules += [AllDifferent([r * n + c for r in range(n)], f"column {c + 1}") for c in range(n)]
        rules += [Predicate([r * n + c for r, c in cage.cells], cage.holds, labels, f"cage {cage.op}{cage.target}")
                  for cage in self.cages]
        return CSP(n * n, labels, rules)

    def prompt(self) -> str:
        cages = "; ".join(f"{' '.join(f'r{r + 1}c{c + 1}' for r, c in k.cells)} {k.op}{k.target}" for k in self.cages)
        return f"Solve this {self.size}x{self.size} kenken. Cages: {cages}\n"

    def _grid(self, vals: Sequence[int]) -> list[list[int]]:
        n = self.size
        return [[vals[r * n + c] + 1 for c in range(n)] for r in range(n)]

    def solve_exact(self) -> list[list[int]]:
        """One solution by exact search only (no model); ``UnsatisfiableError`` when there is none."""
        found = self.csp().solve(limit=1)
        if not found:
            raise UnsatisfiableError("this KenKen has no solution: check the cages")
        return self._grid(found[0])

    def solve(self, model, *, seed: int | None = 0, max_passes: int = 48, time_limit: float = 60.0) -> PuzzleResult:
        """Solve with ``model`` (a loaded ``DiffusionModel``) proposing digits; always a valid grid.

        Raises
        ------
        UnsatisfiableError
            When the cages admit no solution (checked before any model pass).
        """
        csp = self.csp()
        if not csp.solve(limit=1):
            raise UnsatisfiableError("this KenKen has no solution: check the cages")
        tok = model.tokenizer
        layout = grid_layout(tok, self.size, self.size, [str(v) for v in range(1, self.size + 1)])
        hook = CSPHook([csp], layout, canvas_length=model.canvas_length, eos_id=tok.eos_id, pad_id=tok.pad_id,
                       time_limit=time_limit)
        g = torch.Generator().manual_seed(seed) if seed is not None else torch.Generator()
        ids = torch.tensor([tok.encode_prompt(self.prompt())], dtype=torch.long)
        out = denoise(model, ids, config=SamplerConfig(max_tokens=hook.max_tokens, max_passes=max_passes), hook=hook,
                      generator=g)
        st = hook.stats[0]
        return PuzzleResult(self._grid(st.values), st, out.rows[0].passes, out.seconds)
