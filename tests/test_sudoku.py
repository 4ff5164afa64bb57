"""Sudoku: parsing, bad input (every row of invalid.csv), the exact solver, the layout, the constraint,
and solve_sudoku end to end (fake model: tier 0; tiny random model: tier 1)."""

from __future__ import annotations

import csv

import pytest
import torch
from test_csp import FakeModel

import structdiff
from structdiff.constraints.base import Constraint
from structdiff.constraints.sudoku import (ContradictingCluesError, MultipleSolutionsError, PuzzleCharacterError,
                                          PuzzleLengthError, SudokuError, UnsolvablePuzzleError, check_clues,
                                          count_solutions, parse_puzzle, sudoku_layout, sudoku_prompt,
                                          validate_puzzle)
from structdiff.constraints.sudoku_solve import SudokuConstraint, solve_grids
from structdiff.errors import InputError, StructDiffError, UnsatisfiableError

EASY = "004300209005009001070060043006002087190007400050083002600000105003508690042910300"
EASY_SOL = "864371259325849761971265843436192587198657432257483916689734125713528694542916378"
MINI = "0420010403100003"

EXPECTED = {
    "wrong_length": (PuzzleLengthError, "characters"),
    "non_digit": (PuzzleCharacterError, "not a digit"),
    "contradicting_clues": (ContradictingCluesError, "appears twice"),
    "unsolvable": (UnsolvablePuzzleError, "no solution"),
    "multiple_solutions": (MultipleSolutionsError, "several solutions"),
}


def _rows(shared_data, name):
    with open(shared_data / "sudoku" / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tok():
    from structdiff.backend import build_tiny_tokenizer

    return build_tiny_tokenizer()


def test_parse_string_dots_and_lists():
    grid = parse_puzzle(EASY.replace("0", "."))
    assert grid == parse_puzzle(EASY) and grid[0] == [0, 0, 4, 3, 0, 0, 2, 0, 9]
    assert parse_puzzle(grid) == grid
    assert parse_puzzle(MINI) == [[0, 4, 2, 0], [0, 1, 0, 4], [0, 3, 1, 0], [0, 0, 0, 3]]
    assert parse_puzzle(EASY + "\n") == grid  # surrounding whitespace is fine


@pytest.mark.parametrize("bad, err, words", [
    ("0" * 80, PuzzleLengthError, "80 characters"),
    (MINI, PuzzleLengthError, "pass size=4"),  # with size=9 below
    ("5" + MINI[1:], PuzzleCharacterError, "out of range 1-4"),
    ([[0] * 9] * 8, PuzzleLengthError, "9 rows of 9"),
    ([[0] * 4] * 3 + [[0, 0, 0, "1"]], PuzzleCharacterError, "not an int"),
    (12345, InputError, "string or a list"),
])
def test_parse_errors_are_specific(bad, err, words):
    size = 9 if bad is MINI else None
    with pytest.raises(err, match=words):
        parse_puzzle(bad, size)


def test_every_invalid_row_gets_its_specific_error(shared_data):
    rows = _rows(shared_data, "invalid.csv")
    assert len(rows) == 33
    for row in rows:
        err, words = EXPECTED[row["why"]]
        with pytest.raises(err, match=words) as exc:
            validate_puzzle(row["puzzle"], 9)
        assert isinstance(exc.value, SudokuError) and isinstance(exc.value, StructDiffError), row["id"]


def test_contradiction_message_names_the_unit(shared_data):
    by_id = {r["id"]: r for r in _rows(shared_data, "invalid.csv")}
    for rid, words in [("invalid-013", "digit 6 appears twice in row 1"), ("invalid-014", "digit 8 appears twice "
                       "in column 1"), ("invalid-015", "digit 2 appears twice in box of r1c1")]:
        with pytest.raises(ContradictingCluesError, match=words):
            check_clues(parse_puzzle(by_id[rid]["puzzle"]))


def test_multiple_solutions_allowed_returns_one_valid_grid(shared_data):
    by_id = {r["id"]: r for r in _rows(shared_data, "invalid.csv")}
    grid, unique = validate_puzzle(by_id["invalid-033"]["puzzle"], allow_multiple=True)
    assert not unique and count_solutions(grid, 3)[0] == 2
    with pytest.raises(UnsolvablePuzzleError):
        validate_puzzle(by_id["invalid-001"]["puzzle"], allow_multiple=True)  # still an error


@pytest.mark.parametrize("name, take", [("easy_sample.csv", 30), ("hard_sample.csv", 8), ("mini4_sample.csv", 100)])
def test_exact_solver_matches_the_published_solutions(shared_data, name, take):
    for row in _rows(shared_data, name)[:take]:
        n, sol = count_solutions(parse_puzzle(row["puzzle"]), 2)
        assert n == 1 and "".join(str(d) for r in sol for d in r) == row["solution"], row["id"]


@pytest.mark.parametrize("size", [9, 4])
def test_layout_is_one_token_per_cell(tok, size):
    layout = sudoku_layout(tok, size)
    assert layout.length == size * (size + 1) - 1 and len(layout.var_pos) == size * size
    sol = EASY_SOL if size == 9 else "3421213443121243"
    vals = [int(ch) - 1 for ch in sol]
    text = tok.decode(layout.tokens(vals))
    assert text == "\n".join(sol[r * size:(r + 1) * size] for r in range(size))
    assert [tok.decode([t]) for t in layout.value_tokens] == [str(d) for d in range(1, size + 1)]
    assert len(tok.encode(sol[:9])) < 9  # the BPE merges digit runs, which is why cells are placed one by one


def test_prompt_matches_the_training_format():
    assert sudoku_prompt(parse_puzzle(MINI)) == "Solve this 4x4 sudoku (0 = blank):\n0420\n0104\n0310\n0003"


def test_constraint_contract(tok):
    c = Constraint.sudoku(MINI, size=4)
    assert isinstance(c, SudokuConstraint) and c == Constraint.sudoku(MINI.replace("0", "."), size=4)
    assert hash(c) == hash(Constraint.sudoku(MINI, size=4)) and c.key.startswith("sudoku:4:")
    assert Constraint.sudoku(MINI).size == 4  # inferred from the length
    with pytest.raises(PuzzleLengthError, match="pass size=4"):
        Constraint.sudoku(MINI, size=9)
    cc = c.compile(tok, canvas_length=64, max_tokens=64)
    assert cc.max_tokens == 20 and cc.matches("3421\n2134\n4312\n1243") and not cc.matches("3421\n2134\n4312\n1234")
    assert c.parse("3421\n2134\n4312\n1243")[0] == [3, 4, 2, 1]
    with pytest.raises(InputError):
        c.parse("1111\n2134\n4312\n1243")
    with pytest.raises(UnsatisfiableError, match="needs 20 tokens"):
        c.compile(tok, canvas_length=64, max_tokens=10)


def _fake_solve(tok, grid, prefer, canvas_length=32, **kw):
    model = FakeModel(tok, canvas_length, prefer)
    ids = torch.tensor([tok.encode(sudoku_prompt(grid), add_bos=True)])
    return solve_grids(model, [grid], ids, torch.ones_like(ids, dtype=torch.bool), torch.Generator().manual_seed(0),
                       **kw)[0]


def test_wrong_model_on_a_hard_puzzle_still_solves_it(tok, shared_data):
    row = _rows(shared_data, "hard_sample.csv")[0]
    grid = parse_puzzle(row["puzzle"])
    layout = sudoku_layout(tok, 9)
    wrong = {layout.var_pos[i]: layout.value_tokens[int(ch) % 9] for i, ch in enumerate(row["solution"])}
    res = _fake_solve(tok, grid, wrong.get, max_passes=12)
    assert str(res) == row["solution"] and res.valid
    assert res.conflicts > 0 and res.renoised_cells > 0  # conflict-directed re-noising happened
    blanks = row["puzzle"].count("0")
    assert res.cells_by_model + res.cells_by_propagation + res.cells_by_solver == blanks


def test_right_model_places_the_cells_itself(tok, shared_data):
    row = _rows(shared_data, "hard_sample.csv")[1]
    layout = sudoku_layout(tok, 9)
    right = {layout.var_pos[i]: layout.value_tokens[int(ch) - 1] for i, ch in enumerate(row["solution"])}
    res = _fake_solve(tok, parse_puzzle(row["puzzle"]), right.get, canvas_length=128)
    assert str(res) == row["solution"] and res.cells_by_model > 0
    assert res.cells_by_solver == 0 and not res.solver_stepped_in and res.conflicts == 0


@pytest.mark.tier1
@pytest.mark.parametrize("which", ["easy", "hard", "mini4"])
def test_solve_sudoku_tiny_model_multi_block(tiny_model, shared_data, which):
    row = _rows(shared_data, f"{which}_sample.csv")[2]
    res = structdiff.solve_sudoku(row["puzzle"], tiny_model, seed=0, max_passes=6)
    assert str(res) == row["solution"] and res.valid and len(str(res)) == len(row["puzzle"])
    assert res.grid[0] == [int(ch) for ch in row["solution"][:res.size]]
    assert res.cells_by_model + res.cells_by_propagation + res.cells_by_solver == row["puzzle"].count("0")
    assert res.passes >= 1 and res.seconds > 0


@pytest.mark.tier1
def test_solve_sudoku_one_canvas_and_seed_determinism(tiny_model_256, shared_data):
    row = _rows(shared_data, "hard_sample.csv")[3]
    a = structdiff.solve_sudoku(row["puzzle"], tiny_model_256, seed=5, max_passes=3)
    b = structdiff.solve_sudoku(row["puzzle"], tiny_model_256, seed=5, max_passes=3)
    assert str(a) == str(b) == row["solution"]
    assert (a.passes, a.cells_by_model, a.conflicts) == (b.passes, b.cells_by_model, b.conflicts)


@pytest.mark.tier1
def test_solve_sudoku_errors_and_allow_multiple(tiny_model, shared_data):
    by_id = {r["id"]: r for r in _rows(shared_data, "invalid.csv")}
    with pytest.raises(MultipleSolutionsError, match="allow_multiple=True"):
        structdiff.solve_sudoku(by_id["invalid-033"]["puzzle"], tiny_model)
    res = structdiff.solve_sudoku(by_id["invalid-033"]["puzzle"], tiny_model, seed=1, allow_multiple=True,
                                  max_passes=4)
    assert res.valid and not res.unique
    assert count_solutions(res.grid, 1)[0] == 1
    puzzle = by_id["invalid-033"]["puzzle"]
    assert all(g == "0" or g == d for g, d in zip(puzzle, str(res)))
    with pytest.raises(PuzzleCharacterError):
        structdiff.solve_sudoku(by_id["invalid-029"]["puzzle"], tiny_model)


@pytest.mark.tier1
def test_time_limit_hands_over_to_the_solver(tiny_model, shared_data):
    row = _rows(shared_data, "hard_sample.csv")[4]
    res = structdiff.solve_sudoku(row["puzzle"], tiny_model, seed=0, time_limit=0.0)
    assert str(res) == row["solution"] and res.passes <= 6
