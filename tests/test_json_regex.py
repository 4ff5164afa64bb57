"""Tier 0: the regex building blocks of the JSON Schema translation (ranges, patterns, formats)."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal as D

import pytest

from structdiff.constraints import json_regex as R
from structdiff.constraints.json_pattern import PatternUnsupported, pattern_to_string_body

PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


@pytest.mark.parametrize("lo", [None, -1000, -57, -10, -1, 0, 1, 9, 10, 99, 123])
@pytest.mark.parametrize("hi", [None, -100, -1, 0, 9, 10, 42, 100, 999, 1234])
def test_signed_int_range_is_exact(lo, hi):
    rx = R.signed_int_range(lo, hi)
    if lo is not None and hi is not None and lo > hi:
        assert rx is None
        return
    c = re.compile(rx)
    for x in range(-1300, 1300):
        want = (lo is None or x >= lo) and (hi is None or x <= hi)
        assert (c.fullmatch(str(x)) is not None) == want, (lo, hi, x)
    assert not c.fullmatch("-0") and not c.fullmatch("01") and not c.fullmatch("+1")


def _decimal_candidates():
    rnd = random.Random(0)
    out = {str(i) for i in range(-30, 130)}
    for _ in range(1500):
        ip = rnd.choice([0, 0, 1, 2, 3, 9, 10, 99, 100, rnd.randint(0, 120)])
        fr = rnd.choice(["0", "00", "5", "50", "25", "250", "001", "9", "99", "1", "10", "05",
                         "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 4)))])
        out.add(f"{rnd.choice(['', '-'])}{ip}.{fr}")
    return sorted(c for c in out if PLAIN_NUMBER.fullmatch(c))


CANDIDATES = _decimal_candidates()
BOUNDS = [None] + [D(x) for x in ["0", "0.5", "1", "1.25", "-1.25", "-0.5", "10", "2.05", "0.001", "-3", "99.99"]]


@pytest.mark.parametrize("lo", BOUNDS)
@pytest.mark.parametrize("hi", BOUNDS)
def test_decimal_range_is_exact(lo, hi):
    for lo_s in (False, True):
        for hi_s in (False, True):
            rx = R.decimal_range(lo, lo_s, hi, hi_s)
            c = re.compile(rx) if rx else None
            for x in CANDIDATES:
                v = D(x)
                want = (lo is None or (v > lo if lo_s else v >= lo)) and (hi is None or (v < hi if hi_s else v <= hi))
                want = want and not (x.startswith("-") and v == 0)
                assert (c is not None and c.fullmatch(x) is not None) == want, (lo, lo_s, hi, hi_s, x, rx)


PATTERNS = [r"^[a-z]+$", r"abc", r"^\d{3}-\d{4}$", r'^"quoted"', r"a.b", r"^[^\"]*$", r"\\", r"^(foo|bar)+$",
            r"[\s]", r"^\S+@\S+$", r"x{2,3}", r"^$", r"\w+", r"^[A-Z][a-z]*( [A-Z][a-z]*)*$", r"\n", "^\u00e9+$",
            r"^[\x00-\x7f]*$", r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$", r"^a|b$", r"[^abc]"]


def _ecma_oracle(p: str) -> re.Pattern:
    """Python ``re.search`` with ECMA meanings: ``$`` only at the very end, ASCII ``\\d``/``\\w``."""
    p = re.sub(r"\$(?=$|\|)", r"\\Z", p).replace("a|b$", "a|b\\Z")
    return re.compile(p.replace(r"\d", "[0-9]").replace(r"\w", "[A-Za-z0-9_]"))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_translation_matches_search_semantics(pattern):
    body = pattern_to_string_body(pattern)
    c = re.compile('"' + body + '"')
    oracle = _ecma_oracle(pattern)
    rnd = random.Random(hash(pattern) & 0xFFFF)
    alphabet = list('abcxyzAZ019_-@." \\\n\t\x01é/')
    fixed = ["foo", "bar", "foobar", "abc", "aXb", "123-4567", "a@b", "Hello World", "xx", "é", "1.2.3.4", "", '"q"']
    for i in range(800):
        s = fixed[i] if i < len(fixed) else "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))
        want = oracle.search(s) is not None
        assert (c.fullmatch(json.dumps(s, ensure_ascii=False)) is not None) == want, (pattern, s)


@pytest.mark.parametrize("pattern", [r"(?=a)", r"(a)\1", r"a^b", r"(?i)abc", r"(?<name>x)"])
def test_untranslatable_patterns_are_reported(pattern):
    with pytest.raises(PatternUnsupported):
        pattern_to_string_body(pattern)


@pytest.mark.parametrize("fmt,good,bad", [
    ("date", ["2024-02-29", "1999-12-31"], ["2024-13-01", "24-01-01", "2024-1-1"]),
    ("time", ["12:30:00Z", "23:59:59.5+01:00"], ["24:00:00Z", "12:30", "12:30:00"]),
    ("date-time", ["2024-01-01T00:00:00Z", "2024-01-01t10:00:00.123-05:30"], ["2024-01-01 00:00:00Z"]),
    ("uuid", ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000"]),
    ("email", ["a.b@example.com", "x+y@host"], ["@example.com", "a@", "a b@c.d"]),
    ("ipv4", ["0.0.0.0", "255.255.255.255"], ["256.1.1.1", "1.2.3", "01.2.3.4x"]),
    ("ipv6", ["::", "::1", "fe80::1", "2001:db8:0:0:0:0:2:1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8"],
     ["1:2:3:4:5:6:7:8:9", ":::", "12345::"]),
    ("uri", ["https://example.com/a?b=c#d", "urn:isbn:123", "mailto:a@b.c"], ["//foo.bar", "no scheme"]),
])
def test_format_regexes(fmt, good, bad):
    c = re.compile(R.FORMATS[fmt][0])
    for s in good:
        assert c.fullmatch(s), (fmt, s)
    for s in bad:
        assert not c.fullmatch(s), (fmt, s)


def test_value_literal_accepts_integral_float_forms():
    c = re.compile(R.value_literal({"a": [1, 2.0, "x"], "b": None}))
    assert c.fullmatch('{"a":[1,2,"x"],"b":null}') and c.fullmatch('{"a":[1.0,2.00,"x"],"b":null}')
    assert not c.fullmatch('{"a":[1,2.5,"x"],"b":null}')


def test_patterns_compile_in_outlines_core():
    """Every building block is valid Rust regex syntax (outlines-core builds an index from it)."""
    import outlines_core

    vocab = outlines_core.Vocabulary(0, {chr(i): [i] for i in range(32, 127) if chr(i) != "\x00"})
    pieces = [R.STRING, R.NUMBER, R.signed_int_range(-57, 1234), R.decimal_range(D("-1.25"), True, D("99.99"), False),
              '"' + pattern_to_string_body(r"^[^\"]*[\s]x{2,3}$") + '"', R.value_literal({"a": [1, "q\"x"]})]
    pieces += ['"' + body + '"' for body, _ in R.FORMATS.values()]
    for p in pieces:
        outlines_core.Index(p, vocab)  # raises on syntax it does not accept
