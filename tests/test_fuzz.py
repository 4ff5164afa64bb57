"""Fuzz tier: hostile inputs at every entry point give valid output or a StructDiffError, in bounded time/memory.

Hypothesis builds random JSON Schemas, regexes, Lark grammars, choice lists, call arguments,
command lines and misbehaving pydantic models (``fuzzing``); each is compiled for the tiny
model's tokenizer and, for some, generated with the tiny random model. The property: the call
returns output that is valid (checked independently of structdiff: ``re``, ``jsonschema``,
``lark``) or raises a ``StructDiffError`` subclass with a bounded message; any other exception,
a hang (``EXAMPLE_SECONDS``, by alarm) or a peak-memory rise over ``EXAMPLE_BYTES`` fails the
test with the input that caused it.

The CI tier is derandomized and small (a dozen to a few dozen inputs per entry point, well
under a minute after the model loads); ``bench/fuzz.py`` runs long campaigns with the same
strategies and runners, each input in a child process so hangs are counted, not suffered.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest
from fuzzing import ENTRY_POINTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.tier1

EXAMPLE_SECONDS = 60  # one input's budget (compile + generate); CI inputs take well under a second
EXAMPLE_BYTES = 1 << 30  # rise of the process's peak RSS one input may cause
EXAMPLES = {"regex": 20, "json_schema": 25, "lark": 15, "choices": 12, "api_args": 15, "cli": 12, "pydantic": 7}
FAST = settings(deadline=None, derandomize=True, database=None, print_blob=True,
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

    before = _rss_peak() if _reset_peak() else None
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


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fuzz_cache"))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_fuzz_entry_point(tiny_model, entry):
    make, run, share = ENTRY_POINTS[entry]
    generate = st.just(True) if share >= 1 else st.integers(0, 7).map(lambda k: k == 0)

    @settings(FAST, max_examples=EXAMPLES[entry])
    @given(payload=make("fast"), gen=generate)
    def check(payload, gen):
        with budget(f"{entry} {payload!r:.300}"):
            outcome = run(payload, tiny_model, gen)
            assert outcome == "valid" or outcome.startswith("error:"), outcome

    check()
