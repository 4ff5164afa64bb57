"""Hostile inputs for every public entry point, and how each call is judged (test_fuzz and bench/fuzz).

``size="fast"`` keeps every input small enough for CI on a busy 2-core machine; ``size="deep"``
(bench/fuzz.py, each input in a child process) adds the pathological sizes: long literals,
huge counted repeats, deep nesting, big enums.

Each strategy yields plain, picklable data: schemas are JSON-like Python values (NaN, Infinity,
surrogates and wrong types included on purpose), regexes and grammars are str, CLI argvs are
lists of str (invalid UTF-8 appears as surrogate-escaped characters, as Python puts it in argv).
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["ENTRY_POINTS", "InvalidOutput", "api_calls", "choices_lists", "cli_argvs", "json_schemas", "lark_grammars",
           "pydantic_cases", "pydantic_models", "regexes", "run_api", "run_choices", "run_cli", "run_json_schema",
           "run_lark", "run_pydantic", "run_regex", "schema_options"]

SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udcff", "\udc80"])
ODD_TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    st.sampled_from(["", " ", "\0", "\n", "é", "日本", "\U0001f600", "\\", '"', "a\u0301", "\ufeff", "\x7f"]),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), SURROGATES, st.text(max_size=3)),
)


def _big(size: str) -> int:
    return 60 if size == "fast" else 200_000


# -- regexes ---------------------------------------------------------------------------------------

def regexes(size: str = "fast") -> st.SearchStrategy[str]:
    """Regex text: valid, invalid and pathological (anchors, lookaround, backrefs, huge counts, deep nesting)."""
    big = _big(size)
    literal = st.one_of(
        st.sampled_from(list("abcxyz019 -_.é日")),
        st.sampled_from([r"\.", r"\\", r"\n", r"\t", r"\x41", r"\x{263A}", r"\u00e9", r"\0", r"\/", r"\-"]),
        SURROGATES,
    )
    klass = st.one_of(
        st.sampled_from([r"[a-z]", r"[^a-z]", r"[0-9]", r"[A-Za-z0-9_]", r"\d", r"\w", r"\s", r"\D", r"\W", ".",
                         r"[\x00-\x7f]", r"[^\n]", r"[é-ü]", r"[[:alpha:]]", r"\p{L}", r"[]", r"[^]", r"[z-a]",
                         r"[a-z&&[^aeiou]]", r"[\d\s]", r"\pL"]),
    )
    atom = st.one_of(literal, klass)
    anchors = st.sampled_from(["^", "$", r"\A", r"\z", r"\Z", r"\b", r"\B"])
    quant = st.one_of(
        st.sampled_from(["*", "+", "?", "*?", "+?", "??", "*+", "++"]),
        st.integers(0, 12).map(lambda n: f"{{{n}}}"),
        st.tuples(st.integers(0, 8), st.integers(0, 12)).map(lambda t: f"{{{t[0]},{t[1]}}}"),
        st.integers(0, 6).map(lambda n: f"{{{n},}}"),
        st.sampled_from(["{", "{,3}", "{3,1}", "{-1}", "{a}"]),
        st.integers(13, big).map(lambda n: f"{{{n}}}"),
        st.just("{99999999999999999999}"),
    )

    def extend(inner):
        return st.one_of(
            st.lists(inner, min_size=1, max_size=4).map("".join),
            st.lists(inner, min_size=2, max_size=4).map("|".join),
            st.tuples(st.sampled_from(["(", "(?:", "(?P<g>", "(?i)(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"]),
                      inner).map(lambda t: f"{t[0]}{t[1]})"),
            st.tuples(inner, quant).map(lambda t: f"(?:{t[0]}){t[1]}"),
            st.tuples(atom, quant).map("".join),
            st.tuples(st.sampled_from(["(", "(?:"]), inner).map(lambda t: f"{t[0]}{t[1]})" + r"\1"),
        )

    body = st.recursive(st.one_of(atom, st.just("")), extend, max_leaves=8 if size == "fast" else 24)
    shaped = st.one_of(
        body,
        st.tuples(anchors, body, anchors).map("".join),
        st.tuples(body, anchors, body).map("".join),
        st.sampled_from([r"(a|aa)*b", r"(a*)*b", r"(a+)+$", r"(.*a){12}", r"(a|b)*a(a|b){10}", r"(\w+\s?)*$",
                         r"[0-9]{3}$", r"^[0-9]{3}$", r"\Aabc\z", r"a^b", r"a$b", "", ")", "(", "[", "*", "a**",
                         "(?P<x>a)(?P=x)", r"\p{Nope}", r"\x{110000}", r"\k<x>"]),
        st.integers(1, 40 if size == "fast" else 1000).map(lambda n: "(" * n + "a" + ")" * n),
        st.integers(1, 40 if size == "fast" else 20_000).map(lambda n: "a" * n),
        st.integers(1, 12 if size == "fast" else 100_000).map(lambda n: f"[a-z]{{{n}}}"),
        st.text(max_size=16),
    )
    return shaped


# -- JSON Schemas ----------------------------------------------------------------------------------

_TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]
_FORMATS = ["date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname", "regex", "duration",
            "iri", "json-pointer", "no-such-format", "", "DATE"]


def _numbers(size: str) -> st.SearchStrategy:
    return st.one_of(
        st.integers(-10, 10),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.sampled_from([0.5, 1e-300, 1e300, -0.0, 5e-324, 0.1, 2**53 + 1, 10**400 if size == "deep" else 10**30]),
        st.sampled_from([float("nan"), float("inf"), float("-inf")]),
        st.sampled_from(["5", None, True, [1]]),  # wrong types
    )


def _json_values(size: str, clean: bool = False) -> st.SearchStrategy:
    text = st.text(alphabet=st.characters(codec="utf-8"), max_size=6) if clean else ODD_TEXT
    leaf = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.floats(allow_nan=False,
                     allow_infinity=False), text)
    return st.recursive(leaf, lambda x: st.one_of(st.lists(x, max_size=3),
                                                  st.dictionaries(st.text(max_size=4), x, max_size=3)),
                        max_leaves=6)


def json_schemas(size: str = "fast") -> st.SearchStrategy:
    """JSON Schema documents with every keyword family, recursion through $ref, contradictions, odd values.

    Half of the keyword-built schemas use only well-formed keyword values (so that compiling and
    generating are exercised, not just the refusals); the other half mix in wrong types, NaN,
    Infinity, negative counts and broken patterns.
    """
    return st.one_of(_json_schemas(size, hostile=False), _json_schemas(size, hostile=True))


def _json_schemas(size: str, hostile: bool) -> st.SearchStrategy:
    big = _big(size)
    if hostile:
        nums = _numbers(size)
        counts = st.one_of(st.integers(0, 6), st.integers(-3, -1), st.integers(7, big),
                           st.sampled_from([1.5, "2", None]))
        names = st.one_of(st.sampled_from(["a", "b", "name", "id", "$ref", "", "é", "a b", "x/y", "~0"]), ODD_TEXT)
        patterns = regexes("fast")
        types = st.one_of(st.sampled_from(_TYPES), st.lists(st.sampled_from(_TYPES), max_size=3),
                          st.sampled_from(["int", 5, None, []]))
    else:
        nums = st.one_of(st.integers(-100, 100), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
                         st.sampled_from([0.5, 0.01, 1e-3]))
        counts = st.integers(0, 6)
        names = st.sampled_from(["a", "b", "name", "id", "é", "a b", "x/y", "$ref", ""])
        patterns = st.sampled_from(["^a", "b$", "^[a-z]+$", "[0-9]{2}", "^(ab|cd)*$", "x", "^\\d+$", "é"])
        types = st.one_of(st.sampled_from(_TYPES), st.lists(st.sampled_from(_TYPES), min_size=1, max_size=3,
                                                            unique=True))
    refs = st.sampled_from(["#", "#/$defs/node", "#/$defs/missing", "#/properties/a", "other.json",
                            "http://example.com/s.json", "#/definitions/x", "#bad anchor", "#/$defs/node/properties"]
                           if hostile else ["#/$defs/node", "#/$defs/leaf"])

    def keywords(sub):
        kv = {
            "type": types,
            "properties": st.dictionaries(names, sub, max_size=3),
            "required": st.one_of(st.lists(names, max_size=3, unique=True), st.just("a")) if hostile else
            st.lists(names, max_size=3, unique=True),
            "additionalProperties": st.one_of(st.booleans(), sub),
            "patternProperties": st.dictionaries(patterns, sub, max_size=2),
            "propertyNames": sub,
            "minProperties": counts, "maxProperties": counts,
            "dependentRequired": st.dictionaries(names, st.lists(names, max_size=2, unique=True), max_size=2),
            "dependentSchemas": st.dictionaries(names, sub, max_size=1),
            "items": st.one_of(sub, st.lists(sub, max_size=2)),
            "prefixItems": st.lists(sub, max_size=3),
            "additionalItems": sub,
            "contains": sub, "minContains": counts, "maxContains": counts,
            "minItems": counts, "maxItems": counts, "uniqueItems": st.one_of(st.booleans(), st.just("yes")),
            "enum": st.one_of(st.lists(_json_values(size), max_size=4),
                              st.integers(0, big).map(lambda n: list(range(n))), st.just([]), st.just("x")),
            "const": st.one_of(_json_values(size), st.integers(0, 3000 if size == "deep" else 80).map(lambda n: "x" * n)),
            "minimum": nums, "maximum": nums, "exclusiveMinimum": st.one_of(nums, st.booleans()),
            "exclusiveMaximum": st.one_of(nums, st.booleans()), "multipleOf": nums,
            "minLength": counts, "maxLength": counts,
            "pattern": patterns,
            "format": st.sampled_from(_FORMATS),
            "allOf": st.lists(sub, max_size=3), "anyOf": st.lists(sub, max_size=3), "oneOf": st.lists(sub, max_size=3),
            "not": sub, "if": sub, "then": sub, "else": sub,
            "$ref": refs,
            "$defs": st.dictionaries(st.sampled_from(["node", "x", "leaf"]), sub, max_size=2),
            "definitions": st.dictionaries(st.sampled_from(["x"]), sub, max_size=1),
            "$schema": st.one_of(st.sampled_from(["https://json-schema.org/draft/2020-12/schema",
                                                  "http://json-schema.org/draft-07/schema#",
                                                  "http://json-schema.org/draft-04/schema#",
                                                  "https://example.com/unknown"]), st.integers(0, 9)),
            "$id": st.sampled_from(["https://example.com/root.json", "relative.json", "#frag"]),
            "title": ODD_TEXT, "description": ODD_TEXT, "default": _json_values(size),
            "nullable": st.booleans(), "x-unknown": _json_values(size),
            "$dynamicRef": st.just("#node"), "$recursiveRef": st.just("#"),
            "contentEncoding": st.just("base64"),
        }
        if not hostile:
            clean = _json_values(size, clean=True)
            kv.update({
                "items": sub, "uniqueItems": st.booleans(), "enum": st.lists(clean, min_size=1, max_size=4),
                "const": clean, "exclusiveMinimum": nums, "exclusiveMaximum": nums,
                "multipleOf": st.sampled_from([1, 2, 0.5, 3]), "format": st.sampled_from(_FORMATS[:12]),
                "$schema": st.sampled_from(["https://json-schema.org/draft/2020-12/schema"]),
                "title": st.text(alphabet=st.characters(codec="utf-8"), max_size=8), "default": clean,
                "x-unknown": clean,
            })
            for k in ("$id", "$dynamicRef", "$recursiveRef", "additionalItems", "definitions", "description"):
                del kv[k]
        return st.dictionaries(st.sampled_from(sorted(kv)), st.none(), max_size=5).flatmap(
            lambda chosen: st.fixed_dictionaries({k: kv[k] for k in chosen}))

    leaf = st.one_of(st.booleans(), st.just({}), st.sampled_from([{"type": t} for t in _TYPES]))
    schema = st.recursive(leaf, keywords, max_leaves=6 if size == "fast" else 20)
    deep = st.tuples(st.sampled_from(["properties", "allOf", "anyOf", "items"]),
                     st.integers(1, 30 if size == "fast" else 1000)).map(lambda t: _nested(*t))
    recursive = st.sampled_from([
        {"anyOf": [{"$ref": "#"}, {"type": "integer"}]},
        {"allOf": [{"$ref": "#"}]},
        {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
         "$ref": "#/$defs/node"},
        {"type": "array", "items": {"$ref": "#"}},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}}, "required": ["a"]},
        {"type": "string", "minLength": 5, "maxLength": 2},
        {"type": ["integer", "string"], "not": {"type": ["integer", "string"]}},
        {"type": "number", "minimum": 0, "maximum": 1e-300},
        {"const": "\ud800"},
        {"enum": list(range(100))},
    ])
    if not hostile:
        return schema
    text = st.one_of(st.text(max_size=20), st.sampled_from(['{"type": "integer", "maximum": Infinity}',
                                                             '{"const": "\\ud800"}', '{"minimum": NaN}', "[", "",
                                                             "null", "5", '"string"']))
    wrong = st.sampled_from([5, None, [], [{}], 1.5, b"{}", object.__name__])
    return st.one_of(schema, schema, schema, deep, recursive, text, wrong)


def _nested(key: str, depth: int) -> dict:
    schema: dict = {"type": "integer"}
    for _ in range(depth):
        if key == "properties":
            schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
        elif key == "items":
            schema = {"type": "array", "items": schema, "minItems": 1}
        else:
            schema = {key: [schema]}
    return schema


def schema_options(size: str = "fast") -> st.SearchStrategy[dict]:
    """Options of ``Constraint.from_json_schema``: valid, out of range and of the wrong type."""
    ints = st.one_of(st.integers(0, 4), st.integers(-2, -1), st.sampled_from([True, 1.5, "3", None, 10**6]))
    return st.fixed_dictionaries({}, optional={
        "whitespace": st.sampled_from(["compact", "flexible", "pretty", None]),
        "extra_properties": st.booleans(),
        "max_depth": ints, "any_depth": st.one_of(ints, st.integers(0, 50 if size == "deep" else 3)),
        "max_repeat": ints, "max_nesting": st.one_of(ints, st.integers(1, 200)),
        "resources": st.one_of(st.just({}), st.just(5), st.just({"other.json": {"type": "integer"}}),
                               st.just({"other.json": 5}), st.just({"": {}}), st.just({"x.json": {"maximum": float("nan")}})),
        "post_hoc": st.booleans(),
        "bogus_option": st.just(1),
    })


# -- Lark grammars ---------------------------------------------------------------------------------

def lark_grammars(size: str = "fast") -> st.SearchStrategy[str]:
    """Lark grammar text: small random rule sets (recursive, ambiguous, broken) and directives."""
    big = _big(size)
    n_rules = 4
    rule_names = [f"r{i}" for i in range(n_rules)]
    term_names = ["A", "B", "WORD"]
    literal = st.one_of(st.sampled_from(['"a"', '"b"', '"("', '")"', '","', '"é"', '""', '"\\""', '"a\\nb"']),
                        ODD_TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                                     + '"'))
    term_regex = st.one_of(regexes("fast").map(lambda r: "/" + r.replace("/", "\\/").replace("\n", "") + "/"),
                           st.sampled_from(["/[a-z]+/", "/[0-9]+/i", "/a(/", "/a{100000}/" if size == "deep" else
                                            "/a{30}/", "/(?=a)a/"]))
    item = st.one_of(literal, st.sampled_from(rule_names + term_names + ["undefined_rule", "UNDEF"]), term_regex)
    item = st.tuples(item, st.sampled_from(["", "", "?", "*", "+", f"~{3}", f"~{big}"])).map("".join)
    seq = st.lists(item, min_size=0, max_size=4).map(" ".join)
    alts = st.lists(seq, min_size=1, max_size=3).map(" | ".join)
    group = st.tuples(st.sampled_from(["(", "["]), alts).map(lambda t: f"{t[0]}{t[1]}{')' if t[0] == '(' else ']'}")
    rhs = st.one_of(alts, st.tuples(alts, group).map(" ".join))

    @st.composite
    def grammar(draw):
        lines = [f"start: {draw(rhs)}"]
        for name in rule_names[:draw(st.integers(0, n_rules))]:
            lines.append(f"{draw(st.sampled_from(['', '?', '!']))}{name}: {draw(rhs)}")
        for name in term_names[:draw(st.integers(0, len(term_names)))]:
            lines.append(f"{name}: {draw(st.one_of(literal, term_regex))}")
        extra = draw(st.lists(st.sampled_from([
            "%import common.WS", "%ignore WS", "%import common.NUMBER", "%import nothere.X", "%declare A",
            "%ignore \" \"", "%import common (INT, WORD)", "%override start: \"z\"", "start: \"dup\"", ":",
            "rule with spaces: \"x\"", "%unknown_directive",
        ]), max_size=2))
        return "\n".join(lines + extra) + draw(st.sampled_from(["", "\n"]))

    nested = st.integers(1, 30 if size == "fast" else 1000).map(lambda n: "start: " + "(" * n + '"a"' + ")" * n)
    one_line = st.integers(30, 80).map(lambda n: "start: " + " | ".join(f'"w{i}"' for i in range(n)))
    names = st.sampled_from(["json", "arithmetic", "nope", "x.lark", "/etc/passwd", "../grammars/json.lark", "",
                             "a" * 300, "\0", "grammars"])
    return st.one_of(grammar(), grammar(), nested, one_line, names, st.text(max_size=30))


# -- choices, call arguments, command lines ------------------------------------------------------------

def choices_lists(size: str = "fast") -> st.SearchStrategy:
    """Option lists: empty, duplicates, empty strings, long, unencodable, wrong types."""
    return st.one_of(
        st.lists(ODD_TEXT, max_size=6),
        st.lists(st.text(max_size=4), min_size=1, max_size=200 if size == "fast" else 20_000),
        st.integers(1, 200 if size == "fast" else 20_000).map(lambda n: ["x" * n]),
        st.sampled_from(["yes", None, 5, ["a", 5], [b"a"], {"a": 1}, ("a", "b"), [""]]),
    )


def api_calls(size: str = "fast") -> st.SearchStrategy[dict]:
    """Keyword arguments of ``generate_json``/``generate`` with hostile prompts, seeds and sampler options."""
    anything = st.sampled_from([None, 5, -1, 1.5, float("nan"), float("inf"), "3", True, [], {}, b"x"])
    prompts = st.one_of(ODD_TEXT, st.lists(ODD_TEXT, max_size=3), anything, st.just({"a": "b"}),
                        st.integers(1, 2000 if size == "fast" else 200_000).map(lambda n: "word " * n))
    seeds = st.one_of(st.none(), st.integers(0, 2**64 - 1), st.integers(2**64, 2**80), st.integers(-(2**70), -1),
                      anything)
    ints = st.one_of(st.integers(1, 4), st.integers(-5, 0), st.integers(10**6, 10**12), anything)
    return st.fixed_dictionaries({"prompt": prompts}, optional={
        "seed": seeds, "max_tokens": st.one_of(st.integers(1, 48), ints), "max_passes": st.one_of(st.integers(1, 3), ints),
        "stability_threshold": ints, "t_min": st.one_of(st.floats(0, 1), anything),
        "t_max": st.one_of(st.floats(0, 2), anything), "entropy_bound": anything,
        "confidence_threshold": anything, "max_repair_rounds": ints, "whitespace": st.sampled_from(["compact", "x"]),
        "canvas_length": ints, "observers": st.sampled_from([5, [5], (), None, "x"]),
        "schema_options": st.sampled_from([None, {}, 5, {"max_depth": -1}, {"nope": 1}, {"resources": 5}]),
        "return_result": st.booleans(),
    })


def cli_argvs(size: str = "fast") -> st.SearchStrategy[list]:
    """``structdiff`` command lines: every subcommand, bad numbers, invalid UTF-8, odd paths."""
    bad_utf8 = st.builds(lambda a, b: a + chr(0xDC80 + b), st.text(max_size=3), st.integers(0, 127))
    text = st.one_of(ODD_TEXT.filter(lambda t: "\0" not in t), bad_utf8)
    number = st.one_of(st.integers(-5, 64).map(str), st.sampled_from(["0", "-1", str(2**64), str(2**64 - 1),
                                                                       "99999999999999999999", "1e3", "x", ""]))
    opts = st.lists(st.one_of(
        st.tuples(st.sampled_from(["--seed", "--max-tokens", "--max-passes", "--repair-rounds"]), number),
        st.tuples(st.just("--trace"), st.sampled_from(["/dev/full", "/no/such/dir/t.jsonl", "/", "/proc/version"])),
        st.tuples(st.sampled_from(["--whitespace"]), st.sampled_from(["compact", "flexible", "bad"])),
        st.tuples(st.sampled_from(["--start"]), text),
        st.tuples(st.sampled_from(["--raw", "-q", "--allow-multiple", "--unknown-flag"])),
    ), max_size=3).map(lambda xs: [a for x in xs for a in x])
    json_arg = st.one_of(json_schemas("fast").map(_dumps), st.sampled_from(["missing.json", "{bad", "true", "/",
                                                                            "mod:Class", "x.py:Y"]), text)
    regex_arg = st.one_of(regexes("fast"), text)
    grammar_arg = st.sampled_from(["json", "arithmetic", "nope", "x.lark", "/", "/dev/null", "grammars"])
    puzzle_arg = st.one_of(st.sampled_from(["0" * 81, "." * 16, "1" * 81, "12345", "0420010403100003"]), text)
    cmd = st.one_of(
        st.tuples(st.just(["json"]), json_arg.map(lambda a: [a]), st.lists(text, max_size=1)),
        st.tuples(st.just(["regex"]), regex_arg.map(lambda a: [a]), st.lists(text, max_size=1)),
        st.tuples(st.just(["grammar"]), grammar_arg.map(lambda a: [a]), st.lists(text, max_size=1)),
        st.tuples(st.just(["sudoku"]), puzzle_arg.map(lambda a: [a]), st.just([])),
    ).map(lambda t: t[0] + t[1] + t[2])
    return st.tuples(cmd, opts).map(lambda t: t[0] + t[1])


def _dumps(schema) -> str:
    import json

    try:
        return json.dumps(schema, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(schema)


# -- runners: one call per entry point, judged the same way in tests and in bench/fuzz.py ---------------

GEN = {"max_tokens": 24, "max_passes": 2, "max_repair_rounds": 1}
MAX_MESSAGE = 2000  # characters an error message may have (they clip quoted inputs)


class InvalidOutput(AssertionError):
    """A call returned output that its constraint does not accept (checked independently)."""


def _judge_error(e: Exception) -> str:
    """``"error:<class>"`` for a clear StructDiffError; anything else is re-raised (the property fails)."""
    from structdiff.errors import StructDiffError

    if not isinstance(e, StructDiffError):
        raise e
    if "internal invariant broken" in str(e):
        raise InvalidOutput(str(e)[:300])
    if len(str(e)) > MAX_MESSAGE:
        raise AssertionError(f"{type(e).__name__} message of {len(str(e))} characters")
    return f"error:{type(e).__name__}"


def _compile_and_maybe_generate(make, model, generate: bool):
    import structdiff as s

    c = make()
    comp = c.compile(model.tokenizer, canvas_length=model.canvas_length, max_tokens=GEN["max_tokens"])
    out = s.Generator(model, c, **GEN)("Write it:", seed=0) if generate else None
    return c, comp, out


def run_regex(pattern: str, model, generate: bool) -> str:
    """Compile (and maybe generate); the output must fullmatch the pattern (``re`` when it can parse it)."""
    import re

    from structdiff.constraints import Constraint

    try:
        _, comp, out = _compile_and_maybe_generate(lambda: Constraint.from_regex(pattern), model, generate)
    except Exception as e:  # noqa: BLE001 - judged: StructDiffError is fine, anything else re-raised
        return _judge_error(e)
    if out is not None:
        try:
            rx = re.compile(pattern)
        except (re.error, OverflowError, RecursionError, ValueError):
            rx = None
        ok = rx.fullmatch(out.text) is not None if rx is not None else comp.matches(out.text)
        if not ok:
            raise InvalidOutput(f"{out.text!r} does not match {pattern!r}")
    return "valid"


def run_json_schema(payload: tuple, model, generate: bool) -> str:
    """Compile (and maybe generate); the value must be valid under the schema (``jsonschema``)."""
    import json

    from structdiff.constraints import Constraint

    schema, options = payload
    try:
        _, _, out = _compile_and_maybe_generate(lambda: Constraint.from_json_schema(schema, **options), model,
                                                generate)
    except Exception as e:  # noqa: BLE001 - judged
        return _judge_error(e)
    if out is not None:
        import jsonschema

        value = json.loads(out.text)
        try:
            doc = json.loads(schema) if isinstance(schema, str) else schema
            ok = jsonschema.validators.validator_for(doc)(doc).is_valid(value)
        except Exception:  # noqa: BLE001 - jsonschema cannot judge (unresolvable $ref, odd draft): skip
            ok = True
        if not ok:
            raise InvalidOutput(f"{out.text!r} is not valid under {str(schema)[:200]}")
    return "valid"


def run_lark(grammar: str, model, generate: bool) -> str:
    """Compile (and maybe generate); the output must parse with the grammar."""
    from structdiff.constraints import Constraint

    try:
        c, _, out = _compile_and_maybe_generate(lambda: Constraint.from_lark(grammar), model, generate)
    except Exception as e:  # noqa: BLE001 - judged
        return _judge_error(e)
    if out is not None:
        try:
            c.lark.parse(out.text)
        except Exception as e:  # noqa: BLE001 - any parse failure is an invalid output
            raise InvalidOutput(f"{out.text!r} does not parse: {str(e)[:200]}") from None
    return "valid"


def run_choices(options, model, generate: bool) -> str:
    """Compile (and maybe generate); the output must be one of the options."""
    from structdiff.constraints import Constraint

    try:
        _, _, out = _compile_and_maybe_generate(lambda: Constraint.from_choices(options), model, generate)
    except Exception as e:  # noqa: BLE001 - judged
        return _judge_error(e)
    if out is not None and out.text not in options:
        raise InvalidOutput(f"{out.text!r} is not one of the choices")
    return "valid"


API_SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def run_api(kwargs: dict, model, generate: bool = True) -> str:
    """``generate_json`` with hostile arguments; a returned value must satisfy ``API_SCHEMA``."""
    import structdiff as s

    kw = dict(kwargs)
    prompt = kw.pop("prompt")
    kw.setdefault("max_tokens", 16)
    kw.setdefault("max_passes", 2)
    try:
        res = s.generate_json(API_SCHEMA, prompt, model, **kw)
    except Exception as e:  # noqa: BLE001 - judged
        return _judge_error(e)
    for v in res if isinstance(res, list) else [res]:
        v = v.value if hasattr(v, "value") else v
        if not (isinstance(v, dict) and isinstance(v.get("n"), int)):
            raise InvalidOutput(f"{v!r} is not valid under {API_SCHEMA}")
    return "valid"


def run_cli(argv: list, model, generate: bool = True) -> str:
    """``structdiff ARGV`` in process, with streams that encode like a real terminal's.

    Exit 0 is ``"valid"``; exit 1/2 with one ``structdiff: error:`` line (or an argparse usage
    error) is ``"error"``; a traceback, the catch-all "run again with --debug" line or another
    exit code fails.
    """
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from structdiff.cli import commands, main

    commands._MODELS[("tiny-random", "cpu", None)] = model
    full = [*argv, "--model", "tiny-random", "--max-tokens", "16", "--max-passes", "2"]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    with redirect_stdout(out), redirect_stderr(err):
        try:
            rc = main(full)
        except SystemExit as e:  # argparse usage errors
            rc = e.code
        out.flush()
        err.flush()
    text = err.buffer.getvalue().decode("utf-8", "replace")
    if "Traceback" in text or "run again with --debug" in text or rc not in (0, 1, 2, 130):
        raise AssertionError(f"exit {rc}: {text[-300:]}")
    return "valid" if rc == 0 else f"error:exit {rc}"


def pydantic_models() -> dict:
    """Named pydantic models whose validators misbehave in the ways users' code does."""
    from pydantic import BaseModel, field_validator, model_validator

    calls = {"n": 0}

    class Fine(BaseModel):
        n: int
        name: str

    class RaisesRuntime(BaseModel):
        n: int

        @field_validator("n")
        @classmethod
        def boom(cls, v):
            raise RuntimeError("validator crashed")

    class RaisesType(BaseModel):
        n: int

        @model_validator(mode="after")
        def boom(self):
            raise TypeError("bad type handling")

    class Rejects(BaseModel):
        n: int

        @field_validator("n")
        @classmethod
        def never(cls, v):
            raise ValueError("never valid")

    class Flaky(BaseModel):
        n: int

        @field_validator("n")
        @classmethod
        def flip(cls, v):
            calls["n"] += 1
            if calls["n"] % 2 == 0:
                raise ValueError("changed my mind")
            return v

    class Recursive(BaseModel):
        n: int
        child: Recursive | None = None

    Recursive.model_rebuild(_types_namespace={"Recursive": Recursive})

    class KeyErr(BaseModel):
        n: int

        @field_validator("n")
        @classmethod
        def lookup(cls, v):
            return {}[v]

    return {c.__name__: c for c in (Fine, RaisesRuntime, RaisesType, Rejects, Flaky, Recursive, KeyErr)}


def run_pydantic(name: str, model, generate: bool = True) -> str:
    """``generate_json(Model, ...)`` for a model from ``pydantic_models``; the result must be an instance."""
    import structdiff as s

    cls = pydantic_models()[name]
    try:
        res = s.generate_json(cls, "A record:", model, max_tokens=32, max_passes=2, max_repair_rounds=1, seed=0)
    except Exception as e:  # noqa: BLE001 - judged
        return _judge_error(e)
    if not isinstance(res, cls):
        raise InvalidOutput(f"{res!r} is not a {name}")
    return "valid"


def pydantic_cases(size: str = "fast") -> st.SearchStrategy[str]:
    return st.sampled_from(["Fine", "RaisesRuntime", "RaisesType", "Rejects", "Flaky", "Recursive", "KeyErr"])


# entry point -> (strategy factory, runner, share of inputs that also generate)
ENTRY_POINTS = {
    "regex": (regexes, run_regex, 0.15),
    "json_schema": (lambda size: st.tuples(json_schemas(size), schema_options(size)), run_json_schema, 0.15),
    "lark": (lark_grammars, run_lark, 0.15),
    "choices": (choices_lists, run_choices, 0.15),
    "api_args": (api_calls, run_api, 1.0),
    "cli": (cli_argvs, run_cli, 1.0),
    "pydantic": (pydantic_cases, run_pydantic, 1.0),
}
