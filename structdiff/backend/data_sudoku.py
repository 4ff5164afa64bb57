"""Sudoku puzzles with a unique solution, generated from a seeded RNG (4x4 and 9x9)."""

from __future__ import annotations

import random

__all__ = ["count_solutions", "make_puzzle"]


def _box(n: int) -> int:
    return 2 if n == 4 else 3


def _full_grid(r: random.Random, n: int) -> list[int]:
    """A uniformly shuffled valid grid: base pattern + digit, row, column, band and stack shuffles."""
    b = _box(n)
    base = [[(b * (i % b) + i // b + j) % n + 1 for j in range(n)] for i in range(n)]
    digits = list(range(1, n + 1))
    r.shuffle(digits)
    bands = r.sample(range(b), b)
    rows = [band * b + k for band in bands for k in r.sample(range(b), b)]
    stacks = r.sample(range(b), b)
    cols = [s * b + k for s in stacks for k in r.sample(range(b), b)]
    grid = [[digits[base[i][j] - 1] for j in cols] for i in rows]
    if r.random() < 0.5:
        grid = [list(c) for c in zip(*grid)]
    return [v for row in grid for v in row]


def count_solutions(cells: list[int], n: int, limit: int = 2) -> int:
    """Number of completions of ``cells`` (0 = blank), counted up to ``limit``."""
    b = _box(n)
    full = (1 << (n + 1)) - 2
    rows, cols, boxes = [0] * n, [0] * n, [0] * n
    blanks = []
    for idx, v in enumerate(cells):
        i, j = divmod(idx, n)
        if v:
            bit = 1 << v
            k = (i // b) * b + j // b
            if rows[i] & bit or cols[j] & bit or boxes[k] & bit:
                return 0
            rows[i] |= bit
            cols[j] |= bit
            boxes[k] |= bit
        else:
            blanks.append(idx)
    count = 0

    def search(todo: list[int]) -> None:
        nonlocal count
        if count >= limit:
            return
        if not todo:
            count += 1
            return
        best, best_mask, best_n = -1, 0, n + 1
        for t, idx in enumerate(todo):  # most constrained cell first
            i, j = divmod(idx, n)
            mask = full & ~(rows[i] | cols[j] | boxes[(i // b) * b + j // b])
            c = mask.bit_count()
            if c < best_n:
                best, best_mask, best_n = t, mask, c
                if c <= 1:
                    break
        if best_n == 0:
            return
        idx = todo[best]
        rest = todo[:best] + todo[best + 1:]
        i, j = divmod(idx, n)
        k = (i // b) * b + j // b
        for v in range(1, n + 1):
            bit = 1 << v
            if best_mask & bit:
                rows[i] |= bit
                cols[j] |= bit
                boxes[k] |= bit
                search(rest)
                rows[i] &= ~bit
                cols[j] &= ~bit
                boxes[k] &= ~bit

    search(blanks)
    return count


def make_puzzle(r: random.Random, n: int) -> tuple[str, str]:
    """A puzzle with a unique solution: (puzzle, solution) strings, ``0`` = blank.

    Clues: 4-10 for 4x4, 28-45 for 9x9 (cells are removed while the solution stays unique).
    """
    if n not in (4, 9):
        raise ValueError(f"size must be 4 or 9, got {n}")
    solution = _full_grid(r, n)
    target = r.randint(4, 10) if n == 4 else r.randint(28, 45)
    cells = solution[:]
    order = r.sample(range(n * n), n * n)
    clues = n * n
    for idx in order:
        if clues <= target:
            break
        keep = cells[idx]
        cells[idx] = 0
        if count_solutions(cells, n) != 1:
            cells[idx] = keep
        else:
            clues -= 1
    return "".join(map(str, cells)), "".join(map(str, solution))
