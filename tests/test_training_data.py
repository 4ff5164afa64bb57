"""Tier 0: the synthetic training data (records, configs, sudoku) and its hold-out from ../shared/data."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import jsonschema
import pytest

from structdiff.backend.data import (
    MIXES,
    QUICKSTART_FACTS,
    example_stream,
    holdout_strings,
    record_example,
    schema_hash,
    shared_schema_hashes,
    sudoku_example,
)
from structdiff.backend.data_sudoku import count_solutions
from structdiff.backend.train import example_hashes, hash_strings

WEIGHTS = Path(__file__).resolve().parents[1] / "structdiff" / "backend" / "weights"


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_stream_is_deterministic_and_mixed():
    a = list(itertools.islice(example_stream(7), 60))
    b = list(itertools.islice(example_stream(7), 60))
    assert a == b
    assert list(itertools.islice(example_stream(8), 60)) != a
    assert {ex.family for ex in a} == {"record", "config", "sudoku4", "sudoku9"}


def test_records_are_valid_json_holding_the_prompt_facts():
    r = random.Random(3)
    for _ in range(150):
        ex = record_example(r)
        value = json.loads(ex.target)
        jsonschema.validate(value, ex.schema)
        for leaf in _leaves(value):
            if isinstance(leaf, bool):
                continue
            if isinstance(leaf, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", leaf):  # dates are normalised
                assert leaf in ex.prompt or leaf[:4] in ex.prompt, (leaf, ex.prompt)
                continue
            assert str(leaf) in ex.prompt, (leaf, ex.prompt)


@pytest.mark.parametrize("size", [4, 9])
def test_sudoku_pairs_have_a_unique_solution_matching_the_clues(size):
    r = random.Random(size)
    for _ in range(8):
        ex = sudoku_example(r, size)
        assert len(ex.puzzle) == len(ex.solution) == size * size
        assert all(p in ("0", s) for p, s in zip(ex.puzzle, ex.solution))
        cells = [int(c) for c in ex.solution]
        assert count_solutions(cells, size) == 1  # the solution is a valid grid
        assert count_solutions([int(c) for c in ex.puzzle], size) == 1
        assert ex.target.replace("\n", "") == ex.solution
        rows = ex.prompt.split("\n")[1:]
        assert "".join(rows) == ex.puzzle and all(len(row) == size for row in rows)


def test_exclude_drops_puzzles_solutions_and_schemas():
    first = list(itertools.islice(example_stream(0), 200))
    sol = next(ex.solution for ex in first if ex.family == "sudoku4")
    schema = next(ex.schema for ex in first if ex.schema is not None)
    excluded = frozenset({sol, schema_hash(schema)})
    for ex in itertools.islice(example_stream(0, exclude=excluded), 400):
        assert ex.solution != sol
        assert ex.schema is None or schema_hash(ex.schema) != schema_hash(schema)


def _shared_hashes(shared_data: Path) -> set[str]:
    strings = holdout_strings(shared_data)
    schemas = shared_schema_hashes(shared_data)
    assert len(schemas) > 150 and len(strings) > 500  # the evaluation sets were really read
    assert schemas <= strings
    return set(hash_strings(sorted(strings)))


def test_shipped_training_data_is_disjoint_from_shared_eval_sets(shared_data):
    manifest = set((WEIGHTS / "training_data.sha256").read_text().split())
    assert len(manifest) > 1000
    shared = _shared_hashes(shared_data)
    assert not manifest & shared
    # the manifest is what the training stream really produced: replay a prefix
    meta = json.loads((WEIGHTS / "training_meta.json").read_text())
    stream = example_stream(meta["seed"], exclude=holdout_strings(shared_data), weights=MIXES[meta.get("mix", "default")])
    for ex in itertools.islice(stream, 200):
        assert set(example_hashes(ex)) <= manifest


def test_stated_facts_can_be_held_out_and_the_quickstart_is():
    # the README's demo prompt is held out: an example stating its facts is dropped from the stream
    assert "alice.martin@example.com" in QUICKSTART_FACTS
    free = list(itertools.islice(example_stream(11, weights=MIXES["copy"], exclude_facts=()), 300))
    email = next(re.search(r"[a-z._]+@[a-z.]+", ex.prompt).group() for ex in free
                 if ex.family == "record" and "@" in ex.prompt)
    assert sum(email in ex.prompt for ex in free) >= 1
    held = list(itertools.islice(example_stream(11, weights=MIXES["copy"], exclude_facts=(email,)), 300))
    assert not any(email in ex.prompt for ex in held)
    for mix in MIXES.values():
        for ex in itertools.islice(example_stream(11, weights=mix), 2000):
            assert not any(f in ex.prompt for f in QUICKSTART_FACTS)


def test_without_the_holdout_4x4_grids_would_overlap(shared_data):
    # only 288 4x4 grids exist: the exclusion is what keeps the mini4 solutions out
    shared = holdout_strings(shared_data)
    seen = {ex.solution for ex in itertools.islice(example_stream(0, weights={"sudoku4": 1.0}), 600)}
    assert seen & shared
    kept = {ex.solution for ex in itertools.islice(example_stream(0, exclude=shared, weights={"sudoku4": 1.0}), 600)}
    assert not kept & shared
