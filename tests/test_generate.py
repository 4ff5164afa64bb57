"""Tier 1: constrained generation with the tiny random model always returns matching text."""

from __future__ import annotations

import re

import pytest

from structdiff.api import Generator, choice, generate, generate_regex
from structdiff.constraints import Constraint, Violation
from structdiff.errors import GenerationError, InputError, UnsatisfiableError

pytestmark = pytest.mark.tier1


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTDIFF_CACHE_DIR", str(tmp_path))


def test_regex_and_choices_always_match(tiny_model):
    for seed, pat in enumerate([r"[0-9]{3}-[0-9]{4}", r"\{\"id\": [1-9][0-9]{0,2}, \"ok\": (true|false)\}",
                                r"(é|ü)[a-z]{2,5}"]):
        text = generate_regex(pat, "Give me one:", tiny_model, max_tokens=32, seed=seed, max_passes=6)
        assert re.fullmatch(pat, text), text
    out = choice(["red", "green", "blue"], ["a colour", "another"], tiny_model, max_tokens=8, seed=1, max_passes=4)
    assert len(out) == 2 and all(o in ("red", "green", "blue") for o in out)


def test_mixed_batch_and_multi_block(tiny_model):
    cons = [Constraint.from_regex(r"[a-z]+( [a-z]+){30,40}"), Constraint.from_choices(["yes", "no"])]
    gen = Generator(tiny_model, cons, max_tokens=100, max_passes=4)  # canvas 64: two blocks
    res = gen(["write words", "answer"], seed=3)
    assert re.fullmatch(r"[a-z]+( [a-z]+){30,40}", res[0].text) and res[1].value in ("yes", "no")
    assert res[0].stats["passes"] > 0 and res[0].stats["tokens"] > 0


class _NoRepeatedDigit:
    name = "no_repeated_digit"

    def check(self, text):
        return [Violation(i, i + 2, f"digit {text[i]} repeated") for i in range(len(text) - 1)
                if text[i] == text[i + 1]]


class _Never:
    name = "never"

    def check(self, text):
        return [Violation(0, len(text), "always wrong")]


def test_repair_rounds_and_exhaustion(tiny_model):
    c = Constraint.from_regex(r"[0-9]{6}", validators=[_NoRepeatedDigit()])
    res = Generator(tiny_model, c, max_tokens=16, max_passes=4, max_repair_rounds=8)("digits", seed=0)
    assert re.fullmatch(r"[0-9]{6}", res.text) and not _NoRepeatedDigit().check(res.text)
    with pytest.raises(GenerationError) as e:
        Generator(tiny_model, Constraint.from_regex("[a-c]{3}", validators=[_Never()]), max_tokens=8,
                  max_passes=2, max_repair_rounds=1)("x", seed=0)
    assert re.fullmatch("[a-c]{3}", e.value.last_output) and e.value.messages == ["always wrong"]


def test_bad_input(tiny_model):
    with pytest.raises(UnsatisfiableError):
        generate("x", tiny_model, regex="a{100}", max_tokens=10)
    with pytest.raises(InputError):
        generate("x", tiny_model, regex="a", choices=["a"])
    with pytest.raises(InputError):
        choice([], "x", tiny_model)


def test_hook_reports_allowed_set_sizes_to_observers(tiny_model):
    from structdiff.sampler import CanvasHook

    class Seen(CanvasHook):
        def __init__(self):
            self.allowed = []

        def observe(self, record):
            self.allowed.append(record.extra.get("allowed"))

    seen = Seen()
    gen = Generator(tiny_model, Constraint.from_choices(["yes", "no"]), max_tokens=8, max_passes=3,
                    observers=[seen])
    assert gen("ok?", seed=0).text in ("yes", "no")
    first = seen.allowed[0][0]  # pass 0, row 0: one count per canvas position
    assert len(first) == tiny_model.canvas_length
    vocab = tiny_model.vocab_size
    assert 1 <= first[0] < vocab  # the first position admits only the starts of "yes" / "no"
    assert all(n <= 2 for n in first[8:])  # past the budget only EOS/pad remain
