"""Sudoku as a CSP: puzzle parsing and validation, an exact solver, the canvas layout, the constraint.

Grids are ``n x n`` (``n`` = 9 with 3x3 boxes, or 4 with 2x2 boxes). Inside, a cell's value is
the index ``digit - 1``; a domain is a bitmask over those indices (see ``csp.py``).

The exact solver is a small bitmask backtracking search with MRV (most constrained cell first)
and hidden singles; it counts solutions up to a limit. It is exact and complete; PyPI's options
(python-constraint2, exact-cover, dlx) would add a dependency without being clearly better for
9x9 grids with per-cell domains, which the canvas hook needs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..errors import InputError, StructDiffError, UnsatisfiableError
from .csp import CSP, AllDifferent, SearchLimitError
from .csp_hook import CanvasLayout

__all__ = [
    "ContradictingCluesError",
    "MultipleSolutionsError",
    "PuzzleCharacterError",
    "PuzzleLengthError",
    "SudokuCSP",
    "SudokuError",
    "UnsolvablePuzzleError",
    "check_clues",
    "count_solutions",
    "grid_string",
    "parse_puzzle",
    "sudoku_layout",
    "sudoku_prompt",
    "validate_puzzle",
]

_BOX = {4: 2, 9: 3}
_BLANKS = "0."


class SudokuError(StructDiffError):
    """Root of the Sudoku input errors."""


class PuzzleLengthError(SudokuError, InputError):
    """The puzzle has the wrong number of cells (or rows/columns)."""


class PuzzleCharacterError(SudokuError, InputError):
    """The puzzle holds something other than ASCII digits in range and ``0``/``.`` blanks."""


class ContradictingCluesError(SudokuError, UnsatisfiableError):
    """Two clues clash: a digit repeats in a row, column or box."""


class UnsolvablePuzzleError(SudokuError, UnsatisfiableError):
    """No clue clashes directly, but the puzzle has no solution."""


class MultipleSolutionsError(SudokuError, InputError):
    """The puzzle has more than one solution (pass ``allow_multiple=True`` to get one of them)."""


# -- parsing and validation ---------------------------------------------------------------------

def parse_puzzle(puzzle: str | Sequence[Sequence[int]], size: int | None = None) -> list[list[int]]:
    """A puzzle -> its grid (list of rows of ints, ``0`` = blank), checked for shape and characters.

    Parameters
    ----------
    puzzle : str or list of lists
        81 (9x9) or 16 (4x4) characters, row-major, ``0`` or ``.`` for blanks; or rows of ints.
    size : {9, 4}, optional
        Expected size; ``None`` infers it from the length.

    Raises
    ------
    PuzzleLengthError, PuzzleCharacterError
    """
    if size is not None and size not in _BOX:
        raise InputError(f"size must be 9 or 4, got {size!r}")
    if isinstance(puzzle, str):
        text = puzzle.strip()
        n = size or {81: 9, 16: 4}.get(len(text))
        if n is None or len(text) != n * n:
            want = f"{n * n} characters for a {n}x{n} puzzle" if n else "81 characters (9x9) or 16 (4x4)"
            hint = "; that is a 4x4 puzzle: pass size=4" if size == 9 and len(text) == 16 else ""
            raise PuzzleLengthError(f"the puzzle has {len(text)} characters, expected {want}{hint}")
        cells = []
        for i, ch in enumerate(text):
            if ch in _BLANKS:
                cells.append(0)
            elif "1" <= ch <= "9" and int(ch) <= n:
                cells.append(int(ch))
            else:
                what = f"digit {ch} is out of range 1-{n}" if "1" <= ch <= "9" else f"{ch!r} is not a digit"
                raise PuzzleCharacterError(f"cell {i} (row {i // n + 1}, column {i % n + 1}): {what}; "
                                           f"use 1-{n} for clues and 0 or '.' for blanks")
        return [cells[r * n:(r + 1) * n] for r in range(n)]
    if not isinstance(puzzle, Sequence) or isinstance(puzzle, bytes):
        raise InputError(f"the puzzle must be a string or a list of rows, got {type(puzzle).__name__}")
    n = size or len(puzzle)
    if n not in _BOX or len(puzzle) != n or any(not isinstance(r, Sequence) or len(r) != n for r in puzzle):
        raise PuzzleLengthError(f"a grid must be 9 rows of 9 (or 4 of 4) cells; got {len(puzzle)} rows of "
                                f"{sorted({len(r) if isinstance(r, Sequence) else -1 for r in puzzle})} cells")
    grid = []
    for r, row in enumerate(puzzle):
        for c, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= n:
                raise PuzzleCharacterError(f"row {r + 1}, column {c + 1}: {v!r} is not an int in 0-{n} "
                                           "(0 = blank)")
        grid.append(list(row))
    return grid


def check_clues(grid: list[list[int]]) -> None:
    """Raise ``ContradictingCluesError`` naming the first digit that repeats in a row, column or box."""
    n, b = len(grid), _BOX[len(grid)]
    units = [("row", r + 1, [(r, c) for c in range(n)]) for r in range(n)]
    units += [("column", c + 1, [(r, c) for r in range(n)]) for c in range(n)]
    units += [("box", f"of r{br + 1}c{bc + 1}", [(br + i, bc + j) for i in range(b) for j in range(b)])
              for br in range(0, n, b) for bc in range(0, n, b)]
    for kind, name, cells in units:
        seen: dict[int, tuple[int, int]] = {}
        for r, c in cells:
            d = grid[r][c]
            if d and d in seen:
                (r0, c0) = seen[d]
                raise ContradictingCluesError(f"digit {d} appears twice in {kind} {name} (r{r0 + 1}c{c0 + 1} and "
                                              f"r{r + 1}c{c + 1}): fix the clues")
            if d:
                seen[d] = (r, c)


# -- exact solver ---------------------------------------------------------------------------------

_TABLES: dict[int, tuple[list[list[int]], list[list[list[int]]]]] = {}


def _tables(n: int) -> tuple[list[list[int]], list[list[list[int]]]]:
    """(peers of each cell, the three units of each cell) for an ``n x n`` grid."""
    if n not in _TABLES:
        b = _BOX[n]
        units = [[r * n + c for c in range(n)] for r in range(n)]
        units += [[r * n + c for r in range(n)] for c in range(n)]
        units += [[(br + i) * n + bc + j for i in range(b) for j in range(b)]
                  for br in range(0, n, b) for bc in range(0, n, b)]
        units_of = [[u for u in units if i in u] for i in range(n * n)]
        peers = [sorted({j for u in units_of[i] for j in u} - {i}) for i in range(n * n)]
        _TABLES[n] = (peers, units_of)
    return _TABLES[n]


def _eliminate(doms: list[int], i: int, bit: int, peers, units_of) -> bool:
    """Remove ``bit`` from cell ``i``; propagate singles and hidden singles. False on a contradiction."""
    if not doms[i] & bit:
        return True
    doms[i] &= ~bit
    d = doms[i]
    if not d:
        return False
    if not d & (d - 1) and not all(_eliminate(doms, p, d, peers, units_of) for p in peers[i]):
        return False
    for unit in units_of[i]:
        places = [c for c in unit if doms[c] & bit]
        if not places:
            return False
        if len(places) == 1 and doms[places[0]] != bit and not _assign(doms, places[0], bit, peers, units_of):
            return False
    return True


def _assign(doms: list[int], i: int, bit: int, peers, units_of) -> bool:
    rest = doms[i] & ~bit
    while rest:
        low = rest & -rest
        rest ^= low
        if not _eliminate(doms, i, low, peers, units_of):
            return False
    return True


def _search(n: int, allowed: Sequence[int], limit: int, deadline: float) -> list[list[int]]:
    """Solutions (value index per cell) within per-cell ``allowed`` bitmasks, up to ``limit``.

    Depth-first over copies of the domains; each node propagates singles and hidden singles, then
    branches on a cell with the fewest candidates (MRV).
    """
    peers, units_of = _tables(n)
    full = (1 << n) - 1
    doms = [full] * (n * n)
    for i, m in enumerate(allowed):
        rest = full & ~m
        while rest:
            low = rest & -rest
            rest ^= low
            if not _eliminate(doms, i, low, peers, units_of):
                return []
    found: list[list[int]] = []
    stack = [doms]
    nodes = 0
    while stack:
        cur = stack.pop()
        nodes += 1
        if nodes & 255 == 0 and time.perf_counter() > deadline:
            raise SearchLimitError(f"the Sudoku search gave up after {nodes} nodes: raise time_limit")
        best, best_n = -1, n + 1
        for i, d in enumerate(cur):
            k = d.bit_count()
            if 1 < k < best_n:
                best, best_n = i, k
                if k == 2:
                    break
        if best < 0:
            found.append([d.bit_length() - 1 for d in cur])
            if len(found) >= limit:
                break
            continue
        m = cur[best]
        children = []
        while m:
            low = m & -m
            m ^= low
            child = list(cur)
            if _assign(child, best, low, peers, units_of):
                children.append(child)
        stack.extend(reversed(children))
    return found


def count_solutions(grid: list[list[int]], limit: int = 2, *, time_limit: float = 30.0
                    ) -> tuple[int, list[list[int]] | None]:
    """(number of solutions counted up to ``limit``, the first solution as rows of digits or ``None``)."""
    n = len(grid)
    full = (1 << n) - 1
    allowed = [1 << (d - 1) if d else full for row in grid for d in row]
    sols = _search(n, allowed, limit, time.perf_counter() + time_limit)
    first = [[sols[0][r * n + c] + 1 for c in range(n)] for r in range(n)] if sols else None
    return len(sols), first


class SudokuCSP(CSP):
    """An ``n x n`` Sudoku: one variable per cell (row-major), all-different rows, columns and boxes."""

    def __init__(self, grid: list[list[int]]):
        n, b = len(grid), _BOX[len(grid)]
        units = [[r * n + c for c in range(n)] for r in range(n)]
        units += [[r * n + c for r in range(n)] for c in range(n)]
        units += [[(br + i) * n + bc + j for i in range(b) for j in range(b)]
                  for br in range(0, n, b) for bc in range(0, n, b)]
        full = (1 << n) - 1
        doms = [1 << (d - 1) if d else full for row in grid for d in row]
        super().__init__(n * n, range(1, n + 1), [AllDifferent(u, "sudoku unit") for u in units], doms)
        self.size = n

    def solve(self, doms=None, *, limit: int = 1, max_nodes: int = 0, time_limit: float = 30.0) -> list[list[int]]:
        """Exact solutions via the bitmask search (``max_nodes`` unused: the search is bounded by time)."""
        return _search(self.size, list(self.domains if doms is None else doms), limit,
                       time.perf_counter() + time_limit)


# -- canvas layout and prompt -------------------------------------------------------------------

def _single_token(tokenizer, text: str) -> int:
    ids = tokenizer.encode(text)
    if len(ids) != 1:
        raise InputError(f"the tokenizer has no single token for {text!r} (got {ids}); a Sudoku canvas needs one "
                         "token per digit and one for the newline")
    return ids[0]


def sudoku_layout(tokenizer, size: int = 9) -> CanvasLayout:
    """Rows of ``size`` digit tokens separated by newline tokens (``size * (size + 1) - 1`` positions).

    Digit tokens are looked up one by one, so a BPE that merges digit runs cannot change the layout.
    """
    if size not in _BOX:
        raise InputError(f"size must be 9 or 4, got {size!r}")
    newline = _single_token(tokenizer, "\n")
    var_pos = tuple(r * (size + 1) + c for r in range(size) for c in range(size))
    fixed = tuple((r * (size + 1) + size, newline) for r in range(size - 1))
    digits = tuple(_single_token(tokenizer, str(d)) for d in range(1, size + 1))
    return CanvasLayout(size * (size + 1) - 1, var_pos, fixed, digits)


def grid_string(grid: list[list[int]]) -> str:
    """Rows of ints -> the row-major digit string (``0`` = blank)."""
    return "".join(str(d) for row in grid for d in row)


def sudoku_prompt(grid: list[list[int]]) -> str:
    """The prompt the model reads: the same text the shipped model was trained on."""
    n = len(grid)
    rows = "\n".join("".join(str(d) for d in row) for row in grid)
    return f"Solve this {n}x{n} sudoku (0 = blank):\n{rows}"


def validate_puzzle(puzzle: str | Sequence[Sequence[int]], size: int | None = None, *, allow_multiple: bool = False,
                    time_limit: float = 30.0) -> tuple[list[list[int]], bool]:
    """Parse and check a puzzle: (grid, has a unique solution).

    Raises
    ------
    PuzzleLengthError, PuzzleCharacterError, ContradictingCluesError, UnsolvablePuzzleError
        Malformed or impossible puzzles.
    MultipleSolutionsError
        Several solutions and ``allow_multiple`` is false.
    """
    grid = parse_puzzle(puzzle, size)
    check_clues(grid)
    count, _ = count_solutions(grid, 2, time_limit=time_limit)
    if count == 0:
        raise UnsolvablePuzzleError("the puzzle has no solution, although no two clues clash directly: "
                                    "some clue is wrong; check the clues against the source")
    if count > 1 and not allow_multiple:
        raise MultipleSolutionsError("the puzzle has several solutions (found at least 2), so it is not a proper "
                                     "Sudoku: add clues, or pass allow_multiple=True to get any one valid solution")
    return grid, count == 1
