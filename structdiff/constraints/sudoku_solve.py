"""Solving Sudoku with a diffusion model: the model proposes digits, propagation and the solver guide it.

``solve_grids`` runs the denoising loop with the CSP hook over a batch of validated grids and
returns one ``SudokuResult`` each; ``structdiff.solve_sudoku`` is the one-call wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InputError
from ..sampler import SamplerConfig, denoise
from .csp_hook import CSPHook
from .sudoku import SudokuCSP, grid_string, sudoku_layout

__all__ = ["SudokuResult", "solve_grids"]


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
                unique: list[bool] | None = None, **sampler_options) -> list[SudokuResult]:
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
    out = denoise(model, prompt_ids, config=config, hook=hook, generator=generator, attention_mask=attention_mask)
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
