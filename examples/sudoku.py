"""Solve a Sudoku with a diffusion model guided by constraint propagation and an exact solver.

    python examples/sudoku.py
"""

import torch

import structdiff
from structdiff.constraints.sudoku import MultipleSolutionsError

torch.set_num_threads(1)

puzzle = "410080000070500690500070020100097360000350100049602087200003075930000008008001400"
result = structdiff.solve_sudoku(puzzle, seed=0)
for row in result.grid:
    print(" ".join(map(str, row)))
print(f"{result.passes} passes, {result.seconds:.2f} s; cells by model/propagation/solver: "
      f"{result.cells_by_model}/{result.cells_by_propagation}/{result.cells_by_solver}; "
      f"solver stepped in: {result.solver_stepped_in}")

print(structdiff.solve_sudoku("0420010403100003", seed=0))  # 4x4, '.' works for blanks too

try:
    structdiff.solve_sudoku("0" * 81)
except MultipleSolutionsError as exc:
    print("empty grid:", exc)
print("any solution of the empty grid:", structdiff.solve_sudoku("0" * 81, allow_multiple=True, max_passes=8))

# one more puzzle on the same generic CSP hook
from structdiff.constraints.puzzles import Cage, KenKen  # noqa: E402

kenken = KenKen(3, [Cage(((0, 0), (0, 1)), "+", 3), Cage(((0, 2), (1, 2)), "+", 5), Cage(((1, 0), (2, 0)), "*", 6),
                    Cage(((1, 1), (2, 1)), "-", 2), Cage(((2, 2),), "=", 1)])
print("kenken:", kenken.solve(structdiff.api.resolve_model(None), seed=0).grid)
