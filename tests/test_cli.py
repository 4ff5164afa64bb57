"""The ``structdiff`` command line: inputs, bad input, bench, and generation on the tiny model (in-process)."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest

from structdiff.cli import main
from structdiff.cli.inputs import load_schema, read_puzzle, resolve_grammar
from structdiff.errors import InputError

TINY = ["--model", "tiny-random", "--seed", "0"]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"]}
PUZZLE_4 = "0420010403100003"


@pytest.fixture
def cli_tiny(tiny_model, monkeypatch):
    """``--model tiny-random`` in-process resolves to the session's tiny model (same config: canvas 64, seed 0)."""
    from structdiff.cli import commands

    monkeypatch.setitem(commands._MODELS, ("tiny-random", "cpu", None), tiny_model)
    return tiny_model


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr)."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("structdiff: error: ")
    return lines[0]


# -- inputs (tier 0) --------------------------------------------------------------------------------

def test_load_schema_file_inline_and_errors(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(SCHEMA))
    assert load_schema(str(f)) == (SCHEMA, "schema")
    assert load_schema('{"type": "integer"}') == ({"type": "integer"}, "schema")
    with pytest.raises(InputError, match="schema file not found"):
        load_schema(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": ')
    with pytest.raises(InputError, match=r"not valid JSON \(line 1"):
        load_schema(str(bad))
    with pytest.raises(InputError, match="inline schema is not JSON"):
        load_schema("{nope")
    with pytest.raises(InputError, match="is a folder"):
        load_schema(str(tmp_path))


def test_load_schema_pydantic_module_class(tmp_path, monkeypatch):
    (tmp_path / "cli_models_mod.py").write_text(textwrap.dedent("""
        from pydantic import BaseModel
        class Person(BaseModel):
            name: str
            age: int
        NOT_A_MODEL = 3
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    cls, kind = load_schema("cli_models_mod:Person")
    assert kind == "pydantic" and cls.__name__ == "Person"
    cls2, _ = load_schema("cli_models_mod.py:Person")
    assert cls2.model_fields.keys() == {"name", "age"}
    with pytest.raises(InputError, match="has no attribute 'Nobody'"):
        load_schema("cli_models_mod:Nobody")
    with pytest.raises(InputError, match="not a pydantic BaseModel"):
        load_schema("cli_models_mod:NOT_A_MODEL")
    with pytest.raises(InputError, match="cannot import 'no_such_module_xyz'"):
        load_schema("no_such_module_xyz:Person")


def test_resolve_grammar_and_read_puzzle(tmp_path):
    from structdiff import grammars

    name = grammars.names()[0]
    assert resolve_grammar(name) == name
    g = tmp_path / "g.lark"
    g.write_text('start: "a"+\n')
    assert resolve_grammar(str(g)) == g
    with pytest.raises(InputError, match=r"unknown grammar 'nope'.*" + re.escape(name)):
        resolve_grammar("nope")
    with pytest.raises(InputError, match="grammar file not found"):
        resolve_grammar(str(tmp_path / "missing.lark"))
    p = tmp_path / "p.txt"
    p.write_text("0 4 | 2 0\n0 1 | 0 4\n----+----\n0 3 | 1 0\n0 0 | 0 3\n")
    assert read_puzzle(str(p)) == PUZZLE_4
    assert read_puzzle(" 0420 0104\n03100003 ") == PUZZLE_4
    with pytest.raises(InputError, match="puzzle is empty"):
        read_puzzle("   ")
    with pytest.raises(InputError, match="puzzle file not found"):
        read_puzzle(str(tmp_path / "nope.txt"))


# -- bad input: one line on stderr, non-zero exit, no traceback (tier 0: fails before the model) ----

@pytest.mark.parametrize("argv, fragment", [
    (["json", "missing_schema.json", "a prompt"], "schema file not found"),
    (["json", "{bad", "a prompt"], "inline schema is not JSON"),
    (["grammar", "no_such_grammar", "a prompt"], "unknown grammar 'no_such_grammar'"),
    (["grammar", "missing.lark", "a prompt"], "grammar file not found"),
    (["sudoku", "12345"], "the puzzle has 5 characters"),
    (["sudoku", "1" * 81], "clue"),
    (["sudoku", "x" * 81], ""),
])
def test_bad_input_is_one_line(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, *argv, *TINY)
    assert rc == 2 or (rc == 1 and argv[0] == "sudoku"), err
    assert out == ""
    assert fragment in one_line_error(err)


def test_debug_shows_the_exception(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="schema file not found"):
        main(["json", "missing.json", "p", "--debug"])


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["regex"])
    assert e.value.code == 2
    capsys.readouterr()


# -- bench ------------------------------------------------------------------------------------------

def test_bench_runs_scripts_from_cwd(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, "bench")
    assert rc == 2 and "no bench/bench_*.py under" in one_line_error(err)
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bench_alpha.py").write_text("print('| alpha | 1.0x |')\n")
    (tmp_path / "bench" / "bench_beta.py").write_text("import sys\nprint('beta ran')\nsys.exit(3)\n")
    rc, out, err = run(capsys, "bench", "--list")
    assert rc == 0 and out.split() == ["alpha", "beta"]
    rc, out, err = run(capsys, "bench", "alpha")
    assert rc == 0 and "[1/1] bench/bench_alpha.py" in err
    rc, out, err = run(capsys, "bench", "gamma")
    assert rc == 2 and "no benchmark 'gamma'; available: alpha, beta" in err
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "structdiff.cli", "bench"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "| alpha | 1.0x |" in proc.stdout and "beta ran" in proc.stdout
    assert "1 of 2 benchmarks failed: bench/bench_beta.py (exit 3)" in proc.stderr


# -- generation on the tiny model (tier 1, in-process) ---------------------------------------------

@pytest.mark.tier1
def test_regex_same_seed_same_output(cli_tiny, capsys):
    argv = ["regex", "[0-9]{3}-[0-9]{4}", "a phone number", *TINY, "--max-tokens", "16", "--max-passes", "6"]
    rc, out, err = run(capsys, *argv)
    assert rc == 0 and re.fullmatch(r"[0-9]{3}-[0-9]{4}\n", out)
    assert "passes" in err and "seed 0" in err
    rc2, out2, _ = run(capsys, *argv)
    assert (rc2, out2) == (0, out)
    rc, raw, _ = run(capsys, *argv, "--raw", "-q")
    assert raw == out.rstrip("\n")


@pytest.mark.tier1
def test_json_schema_file_trace_and_watch_lines(cli_tiny, capsys, tmp_path):
    import jsonschema

    f = tmp_path / "person.json"
    f.write_text(json.dumps(SCHEMA))
    trace = tmp_path / "t.jsonl"
    rc, out, err = run(capsys, "json", str(f), "A person:", *TINY, "--max-tokens", "64", "--max-passes", "5",
                       "--trace", str(trace), "--watch")
    assert rc == 0, err
    value = json.loads(out)
    jsonschema.validate(value, SCHEMA)
    # --watch on a non-terminal: one plain line per pass
    lines = [ln for ln in err.splitlines() if re.match(r"block 0 pass \d+/5: accepted \d+/64", ln)]
    assert 1 <= len(lines) <= 5
    from structdiff.cli.trace import read_trace

    header, passes, end = read_trace(trace)
    assert header["command"] == "json" and header["seed"] == 0 and header["canvas_length"] == 64
    assert len(passes) == len(lines) == end["stats"]["passes"]
    assert end["kind"] == "result" and json.loads(end["text"]) == value
    first = passes[0]
    assert len(first["canvas"][0]) == 64 and set(first["accepted"][0]) <= {0, 1}
    assert [p["pass"] for p in passes] == list(range(len(passes)))


@pytest.mark.tier1
def test_json_pydantic_class(cli_tiny, capsys, tmp_path, monkeypatch):
    (tmp_path / "cli_shop_models.py").write_text(textwrap.dedent("""
        from typing import Literal
        from pydantic import BaseModel, Field
        class Item(BaseModel):
            sku: Literal["A1", "B2"]
            qty: int = Field(ge=1, le=9)
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    rc, out, err = run(capsys, "json", "cli_shop_models:Item", "An item:", *TINY, "--max-tokens", "32",
                       "--max-passes", "4")
    assert rc == 0, err
    value = json.loads(out)
    assert value["sku"] in ("A1", "B2") and 1 <= value["qty"] <= 9


@pytest.mark.tier1
def test_unsatisfiable_budget_is_one_line(cli_tiny, capsys):
    rc, out, err = run(capsys, "regex", "[a-z]{100}", "letters", *TINY, "--max-tokens", "4", "-q")
    assert rc == 1 and out == ""
    assert "max_tokens=4" in one_line_error(err)


@pytest.mark.tier1
def test_sudoku_4x4(cli_tiny, capsys, tmp_path):
    p = tmp_path / "p.txt"
    p.write_text(PUZZLE_4 + "\n")
    trace = tmp_path / "s.jsonl"
    rc, out, err = run(capsys, "sudoku", str(p), *TINY, "--max-passes", "4", "--trace", str(trace))
    assert rc == 0, err
    from structdiff.cli.trace import read_trace

    header, passes, end = read_trace(trace)
    assert header["command"] == "sudoku" and len(passes) == end["stats"]["passes"] >= 1
    grid = [[int(c) for c in row.split()] for row in out.splitlines()]
    assert len(grid) == 4 and all(sorted(r) == [1, 2, 3, 4] for r in grid)
    assert all(sorted(col) == [1, 2, 3, 4] for col in zip(*grid))
    assert all(g == int(c) or c == "0" for g, c in zip([d for row in grid for d in row], PUZZLE_4))
    rc, raw, _ = run(capsys, "sudoku", PUZZLE_4, *TINY, "--max-passes", "4", "--raw", "-q")
    assert raw.strip() == "".join(map(str, [d for row in grid for d in row]))


@pytest.mark.tier1
def test_info_json(cli_tiny, capsys):
    rc, out, err = run(capsys, "info", "--model", "tiny-random", "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["canvas_length"] == 64 and info["vocab_size"] == 3918 and info["device"] == "cpu"
    assert info["torch"].startswith("2.") and info["structdiff"] and "parameters" in info
    rc, out, _ = run(capsys, "info", "--model", "tiny-random")
    assert re.search(r"^canvas_length\s+64$", out, re.MULTILINE)


@pytest.mark.tier1
def test_grammar_file_and_bad_grammar(cli_tiny, capsys, tmp_path):
    g = tmp_path / "ab.lark"
    g.write_text('start: "ab"+\n')
    rc, out, err = run(capsys, "grammar", str(g), "abab", *TINY, "--max-tokens", "16", "--max-passes", "4")
    assert rc == 0, err
    assert re.fullmatch(r"(ab)+\n", out)
    bad = tmp_path / "bad.lark"
    bad.write_text("start: (\n")
    rc, out, err = run(capsys, "grammar", str(bad), "x", *TINY, "-q")
    assert rc == 2 and "invalid Lark grammar (line 1" in one_line_error(err)


@pytest.mark.tier1
def test_batch_prompts_file(cli_tiny, capsys, tmp_path):
    f = tmp_path / "prompts.txt"
    f.write_text("first\n\nsecond\nthird\n")
    common = ["regex", "[0-9]{3}", *TINY, "--max-tokens", "8", "--max-passes", "3"]
    rc, out, err = run(capsys, *common[:2], "--prompts", str(f), *common[2:])
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(re.fullmatch(r"[0-9]{3}", ln) for ln in lines)
    assert "3/3 prompts done" in err and "[3] " in err and "seed 2" in err
    # line i is the single-prompt run with seed SEED+i
    rc, single, _ = run(capsys, "regex", "[0-9]{3}", "third", "--model", "tiny-random", "--seed", "2",
                        "--max-tokens", "8", "--max-passes", "3", "-q")
    assert single.strip() == lines[2]
    rc, out, err = run(capsys, *common[:2], "also a prompt", "--prompts", str(f), *common[2:])
    assert rc == 2 and "either a PROMPT or --prompts FILE" in one_line_error(err)
    rc, out, err = run(capsys, *common, "-q")
    assert rc == 2 and "give a PROMPT" in one_line_error(err)


def test_model_and_schema_errors_are_one_line(capsys, tmp_path):
    rc, _, err = run(capsys, "info", "--model", str(tmp_path / "no_model_here"))
    assert rc == 1 and "does not exist" in one_line_error(err)
    rc, _, err = run(capsys, "json", '{"properties": {"a": {"$ref": "http://example.com/s"}}}', "p",
                       "--model", "tiny-random", "-q")
    assert rc == 2 and "remote references are never fetched" in one_line_error(err)


def test_cli_import_and_help_stay_light():
    import subprocess

    code = ("import sys, structdiff.cli as c; p = c.build_parser(); p.parse_args(['regex', 'a', 'b']); "
            "assert 'torch' not in sys.modules, 'the CLI imported torch before running a command'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_read_prompts_from_stdin_and_file(monkeypatch, tmp_path):
    import argparse
    import io

    from structdiff.cli.commands import read_prompts

    monkeypatch.setattr(sys, "stdin", io.StringIO("a\n\n  \nb\n"))
    assert read_prompts(argparse.Namespace(prompt=None, prompts="-")) == ["a", "b"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="no prompts in"):
        read_prompts(argparse.Namespace(prompt=None, prompts=str(empty)))
    with pytest.raises(InputError, match="cannot read the prompts file"):
        read_prompts(argparse.Namespace(prompt=None, prompts=str(tmp_path / "missing.txt")))
