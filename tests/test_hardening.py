"""Bad input at every public edge gets a named StructDiffError (issue 17's repros), fast.

Tier 0 (no model): schema documents, text encodability, Lark arguments, the automaton cache.
Tier 1 (tiny random model): call arguments, user validators, thread safety.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from fuzzing import pydantic_models
from test_automata import TOY_PIECES, ToyTokenizer

import structdiff as s
from structdiff.automata import automaton, compile_regex
from structdiff.automata.cache import AutomatonMemo, load_file
from structdiff.constraints import Constraint
from structdiff.constraints.edge import MAX_SCHEMA_NESTING, check_json_schema
from structdiff.errors import (
    GenerationError,
    GrammarError,
    InputError,
    SchemaError,
    StructDiffError,
    ValidatorError,
    clip,
)

K = {"canvas_length": 64, "max_tokens": 128}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path))


def _nest(key: str, depth: int) -> dict:
    schema: dict = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "object", key: {"a": schema}} if key == "properties" else {key: [schema]}
    return schema


# -- schema documents ------------------------------------------------------------------------------

@pytest.mark.parametrize("schema, fragment, pointer", [
    ('{"const": "\\ud800"}', "U+D800", "/const"),                       # legal JSON text, unencodable
    ({"enum": ["ok", "\udcff"]}, "U+DCFF", "/enum/1"),
    ({"properties": {"\ud800": {}}}, "key", "/properties"),
    ({"type": "integer", "maximum": float("inf")}, "Infinity", "/maximum"),
    ('{"type": "integer", "maximum": Infinity}', "Infinity", "/maximum"),
    ({"type": "number", "minimum": float("nan")}, "NaN", "/minimum"),
    ({"type": "integer", "maximum": 10**400}, "double", "/maximum"),
    ({"$schema": 5}, "$schema must be a URI string", "/$schema"),
    ({"enum": [{1, 2}]}, "set", "/enum/0"),
    ({"properties": {1: {}}}, "int key", "/properties"),
    ("[" * 5000 + "]" * 5000, "nests too deeply", ""),
    ({"anyOf": [{"$ref": "#"}, {"type": "integer"}]}, "never end", "/anyOf/0/$ref"),
    ({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}},
      "$ref": "#/$defs/a"}, "never end", None),
    (5, "a dict, a bool or JSON text", ""),
])
def test_bad_schema_documents_are_schema_errors(schema, fragment, pointer):
    with pytest.raises(SchemaError) as e:
        Constraint.from_json_schema(schema)
    assert fragment in str(e.value)
    if pointer is not None:
        assert e.value.pointer == pointer
    assert len(str(e.value)) < 600


def test_schema_nesting_and_cycles_never_recurse():
    deep = _nest("allOf", MAX_SCHEMA_NESTING)  # 1024 JSON levels
    with pytest.raises(SchemaError, match="nests more than"):
        check_json_schema(deep)
    loop: dict = {"type": "object", "properties": {}}
    loop["properties"]["self"] = loop
    with pytest.raises(SchemaError, match="contains itself"):
        check_json_schema(loop)
    shared = {"type": "integer"}  # the same dict twice is not a cycle
    assert check_json_schema({"properties": {"a": shared, "b": shared}})["properties"]["a"] is shared
    # recursion that descends into the value is fine
    tree = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}
    assert check_json_schema(tree) is tree


@pytest.mark.parametrize("options, error, fragment", [
    ({"resources": 5}, InputError, "resources must map URIs"),
    ({"resources": {"x.json": 5}}, SchemaError, "a dict, a bool or JSON text"),
    ({"resources": {"x.json": {"maximum": float("inf")}}}, SchemaError, "Infinity"),
    ({"max_nesting": "x"}, InputError, "max_nesting must be an int >= 1"),
    ({"max_nesting": -1}, InputError, "max_nesting"),
    ({"max_depth": True}, InputError, "max_depth"),
    ({"no_such_option": 1}, InputError, "unknown schema option"),
    ({"validators": 5}, InputError, "validators must be a list"),
])
def test_schema_options_are_checked(options, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        Constraint.from_json_schema({"$ref": "x.json"} if "resources" in options else {"type": "integer"},
                                    **options)


# -- text at the edges -----------------------------------------------------------------------------

def test_surrogates_in_regex_choices_grammar():
    with pytest.raises(SchemaError, match="U\\+D800") as e:
        Constraint.from_regex("ab\ud800")
    assert e.value.pointer == 2
    with pytest.raises(InputError, match="choice 1"):
        Constraint.from_choices(["ok", "x\udc80"])
    with pytest.raises(GrammarError, match="U\\+D800"):
        Constraint.from_lark('start: "a\ud800"')


def test_clip_bounds_quotes():
    assert clip("x" * 10) == "x" * 10
    long = clip("y" * 10_000)
    assert len(long) < 220 and "10000 characters" in long


# -- Lark arguments --------------------------------------------------------------------------------

def test_long_one_line_grammar_is_text_not_a_path():
    text = "start: " + " | ".join(f'"w{i}"' for i in range(60))  # 400+ characters, one line
    assert len(text) > 256
    c = Constraint.from_lark(text)
    assert c.grammar_name == "<grammar>"


def test_grammar_paths(tmp_path):
    g = tmp_path / "g.lark"
    g.write_text('start: "x"\n')
    assert Constraint.from_lark(str(g)).grammar_name == "g.lark"
    assert Constraint.from_lark(g).grammar_name == "g.lark"
    with pytest.raises(GrammarError, match="not found"):
        Constraint.from_lark(str(tmp_path / "missing.lark"))
    with pytest.raises(GrammarError):
        Constraint.from_lark("start: A\0")  # NUL: not a path, and not a valid grammar


@pytest.mark.parametrize("grammar, fragment", [
    ("%declare FOO\nstart: FOO", "has no pattern"),
    ("%import nothere.FOO\nstart: FOO", "%import cannot find"),
    ("start: A\nA: /a(/", "regex does not compile"),
])
def test_bad_grammars_are_grammar_errors(grammar, fragment):
    with pytest.raises(GrammarError, match=re.escape(fragment)):
        Constraint.from_lark(grammar)


# -- the automaton cache ---------------------------------------------------------------------------

def _only_file(tmp_path: Path) -> Path:
    files = list((tmp_path / "automata").glob("*.npz"))
    assert len(files) == 1, files
    return files[0]


def test_cache_file_is_verified_before_use(tmp_path):
    tok = ToyTokenizer(TOY_PIECES)
    good = compile_regex(r"(ab)+c", tok)
    path = _only_file(tmp_path)
    with np.load(path) as z:
        arrays = {n: z[n] for n in z.files}

    def rewrite(**changes):
        np.savez(path, **{**arrays, **changes})
        automaton._MEMO.clear()
        return compile_regex(r"(ab)+c", tok)

    # a loadable but wrong file (another automaton's arrays, checksum recomputed by a careless edit)
    bad_dist = arrays["dist"].copy()
    bad_dist[0] = 7
    again = rewrite(dist=bad_dist)
    assert np.array_equal(again.dist, good.dist)  # checksum mismatch: rebuilt
    truncated = rewrite(members=arrays["members"][:2])
    assert np.array_equal(truncated.members, good.members)
    other_tok = rewrite(meta=np.array([str(arrays["meta"][0]), "another-tokenizer", str(arrays["meta"][2])]))
    assert np.array_equal(other_tok.e_dst, good.e_dst)
    old_format = {k: v for k, v in arrays.items() if k not in ("meta", "checksum")}
    np.savez(path, **old_format)
    automaton._MEMO.clear()
    assert np.array_equal(compile_regex(r"(ab)+c", tok).e_src, good.e_src)
    path.write_bytes(b"PK\x03\x04 not a zip")
    automaton._MEMO.clear()
    assert np.array_equal(compile_regex(r"(ab)+c", tok).accept, good.accept)
    # after each rebuild the file is good again and loads as is
    assert load_file(path, good.key, tok, lambda *a: a) is not None


def test_cache_structural_check_even_with_matching_checksum(tmp_path):
    from structdiff.automata.cache import checksum

    tok = ToyTokenizer(TOY_PIECES)
    good = compile_regex(r"a+b", tok)
    path = _only_file(tmp_path)
    with np.load(path) as z:
        arrays = {n: z[n] for n in z.files}
    e_dst = arrays["e_dst"].copy()
    e_dst[0] = 10_000  # out of range, but with a freshly computed checksum
    fields = {n: arrays[n] for n in ("token_class", "members", "class_start", "e_src", "e_cls", "accept", "dist")}
    fields["e_dst"] = e_dst
    np.savez(path, **{**arrays, "e_dst": e_dst, "checksum": np.array(checksum(fields, arrays["specials"]))})
    assert load_file(path, good.key, tok, lambda *a: a) is None


def test_concurrent_compiles_write_one_good_file(tmp_path):
    tok = ToyTokenizer(TOY_PIECES)
    errors: list = []

    def work():
        try:
            automaton._MEMO.clear()
            compile_regex(r"(a|b)*c(ab)?", tok)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    path = _only_file(tmp_path)
    assert not list(path.parent.glob("*.tmp"))  # unique temp names, all renamed or removed
    assert load_file(path, compile_regex(r"(a|b)*c(ab)?", tok).key, tok, lambda *a: a) is not None


def test_memo_is_an_lru_bounded_by_bytes():
    tok = ToyTokenizer(TOY_PIECES)
    autos = [compile_regex(p, tok, use_cache=False) for p in ("a", "ab", "abc", "abcab")]
    size = max(sum(getattr(a, n).nbytes for n in ("token_class", "members", "class_start", "e_src", "e_cls",
                                                  "e_dst", "accept", "dist")) for a in autos)
    memo = AutomatonMemo(max_bytes=2 * size)
    for a in autos[:2]:
        memo.put(a.key, a)
    assert memo.get(autos[0].key) is autos[0]  # now most recent
    memo.put(autos[2].key, autos[2])
    assert memo.get(autos[1].key) is None and memo.get(autos[0].key) is autos[0]
    assert memo.nbytes <= 2 * size and len(memo) == 2
    tiny = AutomatonMemo(max_bytes=1)
    tiny.put(autos[0].key, autos[0])  # larger than the whole bound: not kept
    assert len(tiny) == 0


# -- call arguments (tier 1: they fail before any pass, but need a model object) ----------------------

@pytest.mark.tier1
@pytest.mark.parametrize("kwargs, fragment", [
    ({"seed": 2**64}, "seed must be in 0 .. 2**64-1"),
    ({"seed": -1}, "seed must be in"),
    ({"seed": 1.5}, "seed must be an int"),
    ({"max_passes": 10**6}, "LIMITS['max_passes']"),
    ({"max_passes": 0}, "max_passes must be an int in 1"),
    ({"stability_threshold": 10**6}, "stability_threshold must be an int in 0 .. 2"),
    ({"max_tokens": -5}, "max_tokens must be an int in 1"),
    ({"max_tokens": 10**9}, "LIMITS['max_tokens']"),
    ({"t_max": float("inf")}, "t_max must be a finite number"),
    ({"canvas_length": -5}, "unknown option 'canvas_length'"),
    ({"observers": 5}, "unknown option 'observers'"),
])
def test_generate_arguments(tiny_model, kwargs, fragment):
    kw = {"max_tokens": 8, "max_passes": 2, **kwargs}
    with pytest.raises(InputError, match=re.escape(fragment)):
        s.generate_regex("[ab]", "x", tiny_model, **kw)


@pytest.mark.tier1
@pytest.mark.parametrize("prompt, fragment", [
    (None, "got NoneType"),
    ({"a": 1}, "a dict is not a batch"),
    ("x\ud800", "U+D800"),
    (["ok", 5], "prompt 1 of the batch must be a str"),
    (["ok", "  "], "prompt 1 of the batch is empty"),
    (b"bytes", "got bytes"),
])
def test_prompt_types(tiny_model, prompt, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        s.generate_json({"type": "integer"}, prompt, tiny_model, max_tokens=8, max_passes=2)


@pytest.mark.tier1
def test_generator_arguments(tiny_model):
    c = Constraint.from_regex("[ab]")
    with pytest.raises(InputError, match="observers must be a list"):
        s.Generator(tiny_model, c, observers=5)
    with pytest.raises(InputError, match="max_repair_rounds must be an int in 0 .. 100"):
        s.Generator(tiny_model, c, max_repair_rounds=10**6)
    with pytest.raises(InputError, match="canvas_length must be a positive int"):
        c.compile(tiny_model.tokenizer, canvas_length=-5, max_tokens=8)
    with pytest.raises(InputError, match="schema_options must be a dict"):
        s.generate_json({"type": "integer"}, "x", tiny_model, schema_options=5)


# -- user validators -------------------------------------------------------------------------------

class _Raises:
    name = "raises"

    def check(self, text):
        raise RuntimeError("bug in my validator")


class _ReturnsNone:
    name = "returns_none"

    def check(self, text):
        return None


@pytest.mark.tier1
def test_user_validator_failures_are_validator_errors(tiny_model):
    for v, fragment in ((_Raises(), "RuntimeError: bug in my validator"), (_ReturnsNone(), "fix the validator")):
        c = Constraint.from_regex("[ab]{2}", validators=[v])
        with pytest.raises(ValidatorError, match=re.escape(fragment)) as e:
            s.Generator(tiny_model, c, max_tokens=8, max_passes=2)("x", seed=0)
        if isinstance(v, _Raises):
            assert isinstance(e.value.original, RuntimeError) and e.value.__cause__ is e.value.original


@pytest.mark.tier1
def test_pydantic_validator_failures(tiny_model):
    models = pydantic_models()
    crashes, flaky = models["RaisesType"], models["Flaky"]
    with pytest.raises(ValidatorError, match="TypeError: bad type handling") as e:
        s.generate_json(crashes, "x", tiny_model, max_tokens=16, max_passes=2, seed=0)
    assert isinstance(e.value.original, TypeError)
    with pytest.raises(GenerationError, match="make it deterministic") as e:
        s.generate_json(flaky, "x", tiny_model, max_tokens=16, max_passes=2, seed=0)
    assert e.value.last_output is not None


@pytest.mark.tier1
def test_self_referencing_anyof_is_refused_before_generating(tiny_model):
    with pytest.raises(SchemaError, match="never end"):
        s.generate_json({"anyOf": [{"$ref": "#"}, {"type": "integer"}]}, "x", tiny_model, max_tokens=16,
                        max_passes=2, seed=0)


@pytest.mark.tier1
def test_error_messages_do_not_quote_whole_instances(tiny_model):
    class _LongComplaint:
        name = "long"

        def check(self, text):
            from structdiff.constraints import Violation

            return [Violation(0, len(text), "rejected: " + json.dumps(text * 200))]

    c = Constraint.from_regex("[ab]{4}", validators=[_LongComplaint()])
    with pytest.raises(GenerationError) as e:
        s.Generator(tiny_model, c, max_tokens=8, max_passes=2, max_repair_rounds=0)("x", seed=0)
    assert len(str(e.value)) < 400 and all(len(m) < 250 for m in e.value.messages)


# -- threads ---------------------------------------------------------------------------------------

@pytest.mark.tier1
def test_one_model_shared_by_threads(tiny_model):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "ok": {"type": "boolean"}},
              "required": ["n", "ok"]}
    kw = {"max_tokens": 24, "max_passes": 3}
    seeds = [0, 1, 2, 3]
    sequential = [s.generate_json(schema, "a record", tiny_model, seed=i, **kw) for i in seeds]
    got: dict = {}
    errors: list = []
    barrier = threading.Barrier(len(seeds))

    def work(i):
        try:
            barrier.wait()
            got[i] = s.generate_json(schema, "a record", tiny_model, seed=i, **kw)
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert [got[i] for i in seeds] == sequential


def test_every_error_is_a_structdiff_error():
    assert issubclass(ValidatorError, StructDiffError) and not issubclass(ValidatorError, ValueError)


# -- the command line: inputs checked before the model loads ----------------------------------------

def _cli(capsys, *argv):
    from structdiff.cli import main

    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv, fragment", [
    (["regex", "[ab]", "x", "--seed", str(2**64)], "--seed must be in 0 .. 2**64-1"),
    (["regex", "[ab]", "x", "--seed", "-3"], "--seed must be in"),
    (["regex", "[ab]", "x", "--max-passes", "1000000"], "--max-passes must be an int in 1 .. 1,024"),
    (["regex", "[ab]", "x", "--max-tokens", "0"], "--max-tokens must be an int in 1"),
    (["regex", "[ab]", "x", "--repair-rounds", "-1"], "--repair-rounds must be in 0 .. 100"),
    (["regex", "[ab]", "x\udcff"], "PROMPT is not valid UTF-8 (byte 0xff"),
    (["regex", "[ab\udcfe]", "x"], "PATTERN is not valid UTF-8 (byte 0xfe"),
    (["regex", "[ab", "x"], "regex"),
    (["regex", "[ab]", "x", "--trace", "/no/such/folder/t.jsonl"], "does not exist"),
    (["json", '{"maximum": Infinity}', "x"], "Infinity"),
    (["json", '{"allOf": [' * 3000 + "{}" + "]}" * 3000, "x"], "nests too deeply"),
    (["sudoku", "0" * 81, "--allow-multiple", "--seed", str(2**70)], "--seed must be in"),
])
def test_cli_checks_inputs_before_loading_the_model(capsys, tmp_path, argv, fragment):
    # a model path that does not exist: reaching the model load would say so instead
    rc, out, err = _cli(capsys, *argv, "--model", str(tmp_path / "no_model_here"))
    assert rc == 2 and out == "", err
    assert fragment in err and "no_model_here" not in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.tier1
def test_cli_trace_to_a_full_disk(capsys, tiny_model, monkeypatch):
    from structdiff.cli import commands

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    monkeypatch.setitem(commands._MODELS, ("tiny-random", "cpu", None), tiny_model)
    rc, _, err = _cli(capsys, "regex", "[ab]", "x", "--trace", "/dev/full", "--model", "tiny-random",
                        "--max-tokens", "4", "--max-passes", "2", "-q")
    assert rc == 2 and "cannot write the trace file '/dev/full'" in err and "OSError" not in err
