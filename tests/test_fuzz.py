"""Fuzz tier: hostile inputs at every entry point give valid output or a StructDiffError, in bounded time/memory.

Hypothesis builds random JSON Schemas, regexes, Lark grammars, choice lists, call arguments and
command lines (``fuzz_strategies``); each is compiled for the tiny model's tokenizer and, for
some, generated with the tiny random model. The property: the call returns output that is valid
(checked independently of structdiff: ``re``, ``jsonschema``, ``lark``) or raises a
``StructDiffError`` subclass; any other exception, a hang (``EXAMPLE_SECONDS``, by alarm) or a
peak-memory rise over ``EXAMPLE_BYTES`` fails the test with the input that caused it.

The CI tier is derandomized and small (a few dozen inputs per entry point, well under a minute
after the model loads); ``bench/fuzz.py`` runs long campaigns, each input in a child process.
"""

from __future__ import annotations

import json
import re
import signal
from contextlib import contextmanager

import pytest
from fuzz_strategies import api_calls, choices_lists, cli_argvs, json_schemas, lark_grammars, regexes, schema_options
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import structdiff as s
from structdiff.constraints import Constraint
from structdiff.errors import StructDiffError

pytestmark = pytest.mark.tier1

EXAMPLE_SECONDS = 60  # one input's budget (compile + generate); CI inputs take well under a second
EXAMPLE_BYTES = 1 << 30  # rise of the process's peak RSS one input may cause
GEN = {"max_tokens": 24, "max_passes": 2, "max_repair_rounds": 1}
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


class Hang(AssertionError):
    """An input ran past its time budget."""


def _rss_peak() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux)
        return True
    except OSError:
        return False


@contextmanager
def budget(what: str):
    """Fail the example on a hang (SIGALRM) or a peak-memory rise over ``EXAMPLE_BYTES``."""
    def on_alarm(signum, frame):
        raise Hang(f"{what}: still running after {EXAMPLE_SECONDS} s")

    can_measure = _reset_peak()
    before = _rss_peak() if can_measure else None
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(EXAMPLE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if before is not None:
        rise = (_rss_peak() or before) - before
        assert rise < EXAMPLE_BYTES, f"{what}: peak memory rose by {rise / 2**20:.0f} MiB"


def clear_or_valid(call, check_valid) -> str:
    """Run ``call``; ``"error"`` for a StructDiffError, ``"valid"`` after ``check_valid(result)`` passes."""
    try:
        result = call()
    except StructDiffError as e:
        assert "internal invariant broken" not in str(e), e
        assert len(str(e)) < 2000, f"message of {len(str(e))} characters"
        return "error"
    check_valid(result)
    return "valid"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fuzz_cache"))


def _compile(constraint_fn, model, generate: bool):
    def call():
        c = constraint_fn()
        comp = c.compile(model.tokenizer, canvas_length=model.canvas_length, max_tokens=GEN["max_tokens"])
        if not generate:
            return c, comp, None
        return c, comp, s.Generator(model, c, **GEN)("Write it:", seed=0)
    return call


def _regex_valid(pattern: str):
    def check(res):
        _, comp, out = res
        if out is None:
            return
        try:
            rx = re.compile(pattern)
        except (re.error, OverflowError, RecursionError):
            assert comp.matches(out.text)
            return
        assert rx.fullmatch(out.text) is not None, (pattern, out.text)
    return check


@settings(FAST, max_examples=20)
@given(pattern=regexes("fast"), generate=st.integers(0, 3).map(lambda k: k == 0))
def test_fuzz_regex(tiny_model, pattern, generate):
    with budget(f"regex {pattern!r}"):
        clear_or_valid(_compile(lambda: Constraint.from_regex(pattern), tiny_model, generate), _regex_valid(pattern))


def _json_valid(schema):
    def check(res):
        _, _, out = res
        if out is None:
            return
        import jsonschema

        doc = json.loads(schema) if isinstance(schema, str) else schema
        value = json.loads(out.text)
        try:
            cls = jsonschema.validators.validator_for(doc)
            ok = cls(doc).is_valid(value)
        except Exception:  # noqa: BLE001 - jsonschema cannot judge (unresolvable $ref, odd draft): skip
            return
        assert ok, (schema, out.text)
    return check


@FAST
@given(schema=json_schemas("fast"), options=schema_options("fast"), generate=st.integers(0, 3).map(lambda k: k == 0))
def test_fuzz_json_schema(tiny_model, schema, options, generate):
    with budget(f"schema {schema!r:.200}"):
        clear_or_valid(_compile(lambda: Constraint.from_json_schema(schema, **options), tiny_model, generate),
                       _json_valid(schema))


def _lark_valid(res):
    c, _, out = res
    if out is not None:
        c.lark.parse(out.text)  # raises if the output is not in the grammar's language


@settings(FAST, max_examples=15)
@given(grammar=lark_grammars("fast"), generate=st.integers(0, 3).map(lambda k: k == 0))
def test_fuzz_lark(tiny_model, grammar, generate):
    with budget(f"grammar {grammar!r:.200}"):
        clear_or_valid(_compile(lambda: Constraint.from_lark(grammar), tiny_model, generate), _lark_valid)


@settings(FAST, max_examples=12)
@given(options=choices_lists("fast"), generate=st.integers(0, 3).map(lambda k: k == 0))
def test_fuzz_choices(tiny_model, options, generate):
    def check(res):
        _, _, out = res
        assert out is None or out.text in options

    with budget(f"choices {options!r:.200}"):
        clear_or_valid(_compile(lambda: Constraint.from_choices(options), tiny_model, generate), check)


@settings(FAST, max_examples=15)
@given(kwargs=api_calls("fast"))
def test_fuzz_call_arguments(tiny_model, kwargs):
    kw = dict(kwargs)
    prompt = kw.pop("prompt")
    kw.setdefault("max_tokens", 16)
    kw.setdefault("max_passes", 2)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    def check(res):
        values = res if isinstance(res, list) else [res]
        for v in values:
            v = v.value if hasattr(v, "value") else v
            assert isinstance(v, dict) and isinstance(v.get("n"), int), v

    with budget(f"generate_json(prompt={prompt!r:.80}, {kw!r:.200})"):
        clear_or_valid(lambda: s.generate_json(schema, prompt, tiny_model, **kw), check)


@settings(FAST, max_examples=12)
@given(argv=cli_argvs("fast"))
def test_fuzz_cli(tiny_model, argv, monkeypatch, capsys):
    from structdiff.cli import commands, main

    monkeypatch.setitem(commands._MODELS, ("tiny-random", "cpu", None), tiny_model)
    full = [*argv, "--model", "tiny-random", "--max-tokens", "16", "--max-passes", "2"]
    with budget(f"structdiff {full!r:.300}"):
        try:
            rc = main(full)
        except SystemExit as e:  # argparse usage errors
            rc = e.code
    _, err = capsys.readouterr()
    assert rc in (0, 1, 2, 130), (full, rc, err)
    assert "Traceback" not in err and "run again with --debug" not in err, (full, err)
