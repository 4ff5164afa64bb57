"""Solving Sudoku with a diffusion model: the model proposes digits, propagation and the solver guide it.

``SudokuConstraint`` is what ``Constraint.sudoku`` returns; it compiles to ``CompiledSudoku``,
whose ``hook_class`` (``SudokuHook``) runs a batch in the sampler. ``solve_grids`` runs the denoising loop with the CSP hook over a batch of validated grids and
returns one ``SudokuResult`` each; ``structdiff.solve_sudoku`` is the one-call wrapper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import InputError, UnsatisfiableError
from ..sampler import SamplerConfig, denoise
from ..sampler.hooks import HookChain
from .base import CompiledConstraint, Constraint
from .csp_hook import CanvasLayout, CSPHook
from .sudoku import (SudokuCSP, SudokuError, check_clues, grid_string, parse_puzzle, sudoku_layout,
                     validate_puzzle)

__all__ = ["CompiledSudoku", "SudokuConstraint", "SudokuHook", "SudokuResult", "solve_grids", "sudoku_constraint"]


@dataclass
class SudokuResult:
    """A solved grid and how it was reached. ``str(result)`` is the 81- (or 16-) digit string."""

    grid: list[list[int]]  # rows of digits
    valid: bool  # a solution consistent with the clues (always True when returned)
    passes: int  # model passes (all blocks)
    cells_by_model: int  # blanks whose digit the model's sample or best canvas placed
    cells_by_propagation: int  # blanks forced by propagation (singles, hidden singles)
    cells_by_solver: int  # blanks the complete solver had to fill
    solver_stepped_in: bool  # the solver filled cells or took back model digits at the end
    seconds: float
    conflicts: int = 0  # empty domains met while accepting model digits
    renoised_cells: int = 0  # model digits taken back (conflict-directed re-noising)
    unique: bool = True  # False when the puzzle had several solutions (allow_multiple=True)

    @property
    def size(self) -> int:
        return len(self.grid)

    def __str__(self) -> str:
        return grid_string(self.grid)


def _is_solution(grid: list[list[int]], clues: list[list[int]]) -> bool:
    """Independent check: every row, column and box is a permutation and the clues are kept."""
    n = len(grid)
    b = 2 if n == 4 else 3
    want = set(range(1, n + 1))
    units = [list(row) for row in grid] + [[grid[r][c] for r in range(n)] for c in range(n)]
    units += [[grid[br + i][bc + j] for i in range(b) for j in range(b)] for br in range(0, n, b) for bc in range(0, n, b)]
    kept = all(g == 0 or g == d for grow, row in zip(clues, grid) for g, d in zip(grow, row))
    return kept and all(set(u) == want for u in units)


def solve_grids(model, grids: list[list[list[int]]], prompt_ids: torch.Tensor, attention_mask: torch.Tensor,
                generator: torch.Generator, *, max_passes: int = 48, time_limit: float = 60.0,
                unique: list[bool] | None = None, observers: Sequence = (), **sampler_options
                ) -> list[SudokuResult]:
    """Solve validated grids of one size as one batch.

    Parameters
    ----------
    model : DiffusionModel
        The model that proposes digits.
    grids : list of grids
        Validated puzzles (``validate_puzzle``), all of the same size.
    prompt_ids, attention_mask : torch.Tensor
        ``[B, P]`` prompts (``sudoku_prompt`` of each grid, encoded).
    generator : torch.Generator
        Randomness of the sampler.
    max_passes : int
        Model passes per canvas; after them the solver finishes what is left.
    time_limit : float
        Seconds of model passes before the solver finishes the canvas.
    observers : sequence of CanvasHook
        Hooks that only watch each pass (live views, traces).

    Returns
    -------
    list of SudokuResult
    """
    if not grids or len({len(g) for g in grids}) != 1:
        raise InputError("give at least one grid, all of the same size")
    n = len(grids[0])
    layout = sudoku_layout(model.tokenizer, n)
    hook = CSPHook([SudokuCSP(g) for g in grids], layout, canvas_length=model.canvas_length,
                   eos_id=model.tokenizer.eos_id, pad_id=model.tokenizer.pad_id, time_limit=time_limit)
    config = SamplerConfig(max_tokens=hook.max_tokens, max_passes=max_passes, **sampler_options)
    run_hook = HookChain([hook, *observers]) if observers else hook
    out = denoise(model, prompt_ids, config=config, hook=run_hook, generator=generator, attention_mask=attention_mask)
    results = []
    for b, (grid, st) in enumerate(zip(grids, hook.stats)):
        solved = [[st.values[r * n + c] + 1 for c in range(n)] for r in range(n)]
        text = model.tokenizer.decode(out.tokens[b, :layout.length].tolist())
        if text != "\n".join("".join(map(str, row)) for row in solved) or not _is_solution(solved, grid):
            raise AssertionError("internal error: the canvas and the solver state disagree")  # pragma: no cover
        results.append(SudokuResult(solved, True, out.rows[b].passes, st.cells_by_model, st.cells_by_propagation,
                                    st.cells_by_solver, st.solver_stepped_in, out.seconds, st.conflicts,
                                    st.renoised_cells, True if unique is None else unique[b]))
    return results


@dataclass(frozen=True, eq=False)
class SudokuConstraint(Constraint):
    """``Constraint.sudoku(puzzle, size)``: the output must be the puzzle's solution, rows on lines.

    Immutable and hashable; ``compile`` binds it to a tokenizer (one token per digit).
    """

    puzzle: str  # row-major digits, 0 = blank
    size: int = 9
    allow_multiple: bool = False

    @property
    def key(self) -> str:
        return f"sudoku:{self.size}:{self.puzzle}:{int(self.allow_multiple)}"

    @property
    def grid(self) -> list[list[int]]:
        n = self.size
        return [[int(ch) for ch in self.puzzle[r * n:(r + 1) * n]] for r in range(n)]

    def compile(self, tokenizer, *, canvas_length: int, max_tokens: int | None = None) -> CompiledSudoku:
        """Bind to ``tokenizer``: the layout, the CSP, and a factory for the canvas hook."""
        layout = sudoku_layout(tokenizer, self.size)
        if max_tokens is not None and max_tokens < layout.length + 1:
            raise UnsatisfiableError(f"a {self.size}x{self.size} grid needs {layout.length + 1} tokens "
                                     f"(digits, newlines, EOS); max_tokens is {max_tokens}")
        return CompiledSudoku(self, tokenizer, layout, int(canvas_length), layout.length + 1)

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is a solution of the puzzle, rows on lines."""
        try:
            self.parse(text)
        except InputError:
            return False
        return text.count("\n") == self.size - 1

    def parse(self, text: str) -> list[list[int]]:
        """Output text -> the solved grid; ``InputError`` unless it is a solution of this puzzle."""
        try:
            grid = parse_puzzle(text.replace("\n", ""), self.size)
            check_clues(grid)
        except SudokuError as exc:
            raise InputError(f"the text is not a solved {self.size}x{self.size} grid: {exc}") from exc
        given = self.grid
        if any(d == 0 for row in grid for d in row) or any(
                g and g != d for grow, row in zip(given, grid) for g, d in zip(grow, row)):
            raise InputError("the text is not a complete solution that keeps the puzzle's clues")
        return grid


class CompiledSudoku(CompiledConstraint):
    """A Sudoku constraint bound to one tokenizer and canvas length (``max_tokens`` = layout + EOS)."""

    def __init__(self, constraint: SudokuConstraint, tokenizer, layout: CanvasLayout, canvas_length: int,
                 max_tokens: int):
        super().__init__(constraint, tokenizer, canvas_length, max_tokens)
        self.layout = layout
        self.eos_id = tokenizer.eos_id
        self.pad_id = tokenizer.pad_id

    @property
    def hook_class(self) -> type:
        return SudokuHook

    def matches(self, text: str) -> bool:
        """Whether ``text`` is a solution of the puzzle, rows on lines."""
        return self.constraint.accepts(text)

    def make_hook(self, batch_size: int = 1, *, time_limit: float = 60.0) -> SudokuHook:
        """A fresh hook for ``batch_size`` rows of this puzzle (hooks hold per-call state)."""
        return SudokuHook([self] * batch_size, time_limit=time_limit)


class SudokuHook(CSPHook):
    """``CSPHook`` for a batch of compiled Sudoku constraints (one per row, one size and tokenizer)."""

    def __init__(self, rows: Sequence[CompiledSudoku], *, time_limit: float = 60.0, **_: object):
        if not rows or len({(r.layout, r.canvas_length) for r in rows}) != 1:
            raise InputError("a Sudoku batch needs rows of one size, tokenizer and canvas length")
        first = rows[0]
        super().__init__([SudokuCSP(r.constraint.grid) for r in rows], first.layout,
                         canvas_length=first.canvas_length, eos_id=first.eos_id, pad_id=first.pad_id,
                         time_limit=time_limit)


def sudoku_constraint(puzzle: str | Sequence[Sequence[int]], size: int | None = None, *,
                      allow_multiple: bool = False) -> SudokuConstraint:
    """Validate ``puzzle`` and build its constraint: what ``Constraint.sudoku(puzzle, size)`` returns."""
    grid, _ = validate_puzzle(puzzle, size, allow_multiple=allow_multiple)
    return SudokuConstraint(grid_string(grid), len(grid), allow_multiple)
