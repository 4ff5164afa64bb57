"""Tier 0: JSON Schema -> typed form -> IR (ranges, patterns, formats, objects, bounds, golden printouts)."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal as D

import pytest

from structdiff import Constraint, SchemaError
from structdiff.automata import ir
from structdiff.automata.ir_dfa import to_byte_dfa
from structdiff.constraints import json_numbers as N
from structdiff.constraints.json_model import ObjectT, Ref
from structdiff.constraints.json_normalize import Normaliser
from structdiff.constraints.json_refs import RefContext
from structdiff.constraints.json_strings import FORMATS, UnsupportedPattern, format_body, pattern_body

PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def lang(node):
    """Full-match predicate of an IR node (its minimal byte DFA)."""
    dfa = to_byte_dfa(node) if node is not ir.NOTHING else None
    return lambda text: dfa is not None and dfa.matches(text.encode())


@pytest.mark.parametrize("lo", [None, -1000, -57, -1, 0, 9, 10, 123])
@pytest.mark.parametrize("hi", [None, -100, -1, 0, 9, 42, 100, 1234])
def test_signed_int_range_is_exact(lo, hi):
    m = lang(N.signed_int_range(lo, hi))
    for x in range(-1300, 1300):
        want = (lo is None or x >= lo) and (hi is None or x <= hi)
        assert m(str(x)) == want, (lo, hi, x)
    assert not m("-0") and not m("01") and not m("+1")


def _decimal_candidates():
    rnd = random.Random(0)
    out = {str(i) for i in range(-30, 130)}
    for _ in range(600):
        ip = rnd.choice([0, 0, 1, 2, 3, 9, 10, 99, 100, rnd.randint(0, 120)])
        fr = rnd.choice(["0", "00", "5", "50", "25", "250", "001", "9", "99", "1", "10", "05",
                         "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 4)))])
        out.add(f"{rnd.choice(['', '-'])}{ip}.{fr}")
    return sorted(c for c in out if PLAIN_NUMBER.fullmatch(c))


CANDIDATES = _decimal_candidates()
BOUNDS = [None] + [D(x) for x in ["0", "0.5", "1.25", "-1.25", "10", "2.05", "0.001", "-3"]]


@pytest.mark.parametrize("lo", BOUNDS)
@pytest.mark.parametrize("hi", BOUNDS)
def test_decimal_range_is_exact(lo, hi):
    for lo_s, hi_s in ((False, False), (True, True), (False, True)):
        m = lang(N.decimal_range(lo, lo_s, hi, hi_s))
        for x in CANDIDATES:
            v = D(x)
            want = (lo is None or (v > lo if lo_s else v >= lo)) and (hi is None or (v < hi if hi_s else v <= hi))
            want = want and not (x.startswith("-") and v == 0)
            assert m(x) == want, (lo, lo_s, hi, hi_s, x)


@pytest.mark.parametrize("mult,lo,hi", [(5, 0, 50), (4, None, None), (25, None, None), (7, -30, 30), (3, None, None)])
def test_multiple_of_int(mult, lo, hi):
    node = N.multiple_of_int(mult, lo, hi)
    if node is None:  # no exact small form: the validator's job (3 divides no power of ten)
        assert 1000 % mult and (lo is None or hi is None)
        return
    m = lang(node)
    for x in range(-200, 200):
        want = x % mult == 0 and (lo is None or x >= lo) and (hi is None or x <= hi)
        assert m(str(x)) == want, x


PATTERNS = [r"^[a-z]+$", r"abc", r"^\d{3}-\d{4}$", r'^"quoted"', r"a.b", r"^[^\"]*$", r"\\", r"^(foo|bar)+$",
            r"[\s]", r"^\S+@\S+$", r"x{2,3}", r"^$", r"\w+", r"^[A-Z][a-z]*( [A-Z][a-z]*)*$", r"\n", "^\u00e9+$",
            r"^[\x00-\x7f]*$", r"^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$", r"^a|b$", r"[^abc]", r"^\p{Lu}"]


def _ecma_oracle(p: str) -> re.Pattern:
    """Python ``re.search`` with ECMA meanings: ``$`` only at the very end, ASCII ``\\d``/``\\w``."""
    p = re.sub(r"\$(?=$|\|)", r"\\Z", p).replace("a|b$", "a|b\\Z").replace(r"\p{Lu}", "[A-ZÉ]")
    return re.compile(p.replace(r"\d", "[0-9]").replace(r"\w", "[A-Za-z0-9_]"))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_matches_search_semantics_over_json_text(pattern):
    m = lang(ir.concat(ir.literal('"'), pattern_body(pattern, "/pattern"), ir.literal('"')))
    oracle = _ecma_oracle(pattern)
    rnd = random.Random(len(pattern))
    alphabet = list('abcxyzAZ019_-@." \\\n\t\x01é/É')
    fixed = ["foo", "bar", "foobar", "abc", "aXb", "123-4567", "a@b", "Hello World", "xx", "é", "1.2.3.4", "", '"q"']
    for i in range(400):
        s = fixed[i] if i < len(fixed) else "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))
        assert m(json.dumps(s, ensure_ascii=False)) == (oracle.search(s) is not None), (pattern, s)


@pytest.mark.parametrize("pattern", [r"(?=a)", r"(a)\1", r"a^b", r"\bx"])
def test_patterns_the_automaton_cannot_carry_are_left_to_the_validator(pattern):
    with pytest.raises(UnsupportedPattern):
        pattern_body(pattern, "/pattern")
    c = Constraint.from_json_schema({"type": "string", "pattern": pattern})
    assert "pattern" in c.report["validator"] and "pattern" not in c.report["automaton"]


def test_invalid_pattern_is_a_schema_error_with_pointer():
    with pytest.raises(SchemaError) as e:
        Constraint.from_json_schema({"properties": {"a": {"type": "string", "pattern": "(unclosed"}}})
    assert e.value.pointer == "/properties/a/pattern"


@pytest.mark.parametrize("fmt,good,bad", [
    ("date", ["2024-02-29"], ["2024-13-01", "24-01-01"]),
    ("time", ["12:30:00Z", "23:59:59.5+01:00"], ["24:00:00Z", "12:30:00"]),
    ("date-time", ["2024-01-01T00:00:00Z"], ["2024-01-01 00:00:00Z"]),
    ("duration", ["P3D", "PT1H30M", "P1Y2M", "P2W"], ["invalid-duration", "P", "PT", "3D"]),
    ("uuid", ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000"]),
    ("email", ["a.b@example.com"], ["@example.com", "a b@c.d"]),
    ("ipv4", ["255.255.255.255"], ["256.1.1.1"]),
    ("ipv6", ["::1", "fe80::1", "::ffff:1.2.3.4"], [":::", "12345::"]),
    ("uri", ["https://example.com/a?b=c#d", "urn:isbn:123"], ["http://example.com/resource/{", "no scheme"]),
])
def test_formats_in_the_automaton_and_the_validator(fmt, good, bad):
    m = lang(format_body(fmt))
    c = Constraint.from_json_schema({"type": "string", "format": fmt})
    for s in good:
        assert m(s) and c.accepts(json.dumps(s)), (fmt, s)
    for s in bad:
        assert not c.accepts(json.dumps(s)), (fmt, s)
    assert "format" in c.report["automaton"] and "format" in c.report["validator"]


def test_every_format_is_checked_or_reported_unchecked():
    from structdiff.validators.json_schema import checked_formats

    assert set(FORMATS) <= checked_formats()  # every automaton form has the exact check behind it
    for fmt in ("uri-reference", "iri", "json-pointer", "uri-template", "idn-hostname", "regex"):
        c = Constraint.from_json_schema({"type": "string", "format": fmt})
        assert fmt in checked_formats() and not c.report["unchecked_formats"]
    c = Constraint.from_json_schema({"type": "object", "properties": {"p": {"type": "string", "format": "phone"}}})
    assert c.report["unchecked_formats"] == ["phone"] and c.accepts('{"p":"anything"}')
    assert not Constraint.from_json_schema({"type": "string", "format": "json-pointer"}).accepts('"no-slash"')


def test_any_json_for_empty_and_true_schemas():
    for schema in ({}, True):
        c = Constraint.from_json_schema(schema, whitespace="flexible")
        for text in ('{"a": [1, "b"], "c": {"d": null}}', "[]", '"s"', "-1.5e3", "true", "null"):
            assert c.accepts(text), (schema, text)
        assert not c.accepts("[1,]") and not c.accepts("[[[1]]]") and "any_depth" in c.report["bounded"][0]
    assert Constraint.from_json_schema({}, any_depth=3).accepts("[[[1]]]")
    assert Constraint.from_json_schema({}).node is Constraint.from_json_schema(True).node


def test_open_objects():
    c = Constraint.from_json_schema({"type": "object"})  # declares nothing: any members
    assert c.accepts('{"x":1,"y":[true]}') and c.accepts("{}")
    s = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]}
    closed = Constraint.from_json_schema(s)
    opened = Constraint.from_json_schema(s, extra_properties=True, whitespace="flexible")
    assert not closed.accepts('{"a":1,"z":2}')
    for text in ('{"a": 1, "z": 2}', '{"z": {"q": null}, "a": 1, "b": "x", "w": []}'):
        assert opened.accepts(text), text
    assert not opened.accepts('{"a": 1, "a": 2}')  # an undeclared key never spells a declared one
    assert not opened.accepts('{"z": 1}') and not opened.accepts('{"a": "s"}')
    anyorder = Constraint.from_json_schema(s, extra_properties=True, property_order="any")
    assert anyorder.accepts('{"b":"x","z":0,"a":1}') and not anyorder.accepts('{"b":"x"}')
    assert "required" in anyorder.report["validator"]


def test_many_optional_properties_without_narrowing():
    n = 40
    s = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(n)}, "minProperties": 1}
    c = Constraint.from_json_schema(s)
    for i in (0, 7, n - 1):
        assert c.accepts(f'{{"p{i}":1}}')
    assert c.accepts("{" + ",".join(f'"p{i}":{i}' for i in range(0, n, 3)) + "}")
    assert not c.accepts("{}") and not c.accepts('{"p3":1,"p2":1}')
    assert c.byte_dfa().n_states < 12 * n  # linear in the number of properties


def test_escapes_count_as_one_character_under_max_length():
    c = Constraint.from_json_schema({"type": "string", "minLength": 2, "maxLength": 5})
    for s in ['a"b', "a\\b", "\n\n\n\n\n", "é\tx", "ab"]:
        assert c.accepts(json.dumps(s, ensure_ascii=False)), s
    for s in ["a", "\n\n\n\n\n\n", "abcdef"]:
        assert not c.byte_dfa().matches(json.dumps(s, ensure_ascii=False).encode()), s
    assert {"minLength", "maxLength"} <= set(c.report["automaton"])


def test_deep_schemas_give_clear_errors_not_recursion_errors():
    deep: dict = {"type": "integer"}
    for _ in range(100):
        deep = {"type": "object", "properties": {"a": deep}}
    with pytest.raises(SchemaError) as e:
        Constraint.from_json_schema(deep)
    assert "nests more than" in str(e.value) and e.value.pointer.startswith("/properties/a/properties/a")
    assert Constraint.from_json_schema(deep, max_nesting=128).accepts('{"a":' * 100 + "1" + "}" * 100)


def test_refs_are_built_once_and_recursion_is_a_cycle():
    schema = {"$defs": {"n": {"type": "object", "properties": {"v": {"$ref": "#/$defs/leaf"},
                                                              "kids": {"type": "array", "items": {"$ref": "#/$defs/n"}}}},
                        "leaf": {"type": "integer"}},
              "type": "object", "properties": {"x": {"$ref": "#/$defs/leaf"}, "y": {"$ref": "#/$defs/leaf"},
                                               "tree": {"$ref": "#/$defs/n"}}}
    norm = Normaliser(RefContext(schema))
    root = norm.normalise()
    assert isinstance(root, ObjectT) and root.properties["x"].slot is root.properties["y"].slot
    tree = root.properties["tree"]
    assert isinstance(tree, Ref) and tree.slot.recursive and tree.slot.schema.properties["kids"].items.slot is tree.slot
    c = Constraint.from_json_schema(schema)
    assert c.accepts('{"x":1,"tree":{"v":2,"kids":[{"kids":[]}]}}')


def test_all_of_is_intersected():
    c = Constraint.from_json_schema({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}},
                                                "required": ["a"]},
                                               {"properties": {"a": {"minimum": 3}, "b": {"type": "boolean"}}}]})
    assert c.byte_dfa().matches(b'{"a":3,"b":true}') and not c.byte_dfa().matches(b'{"a":2}')


GOLDEN = [
    ({"type": "integer", "minimum": 3, "maximum": 42}, "(4[0-2]|[1-3][0-9]|[3-9])(\\.0+)?"),
    ({"enum": ["red", "green", None, 1]}, '"(green"|red")|1(\\.0+)?|null'),
    ({"type": "array", "items": {"type": "boolean"}, "maxItems": 2},
     "\\[(#1(,#1)?)?\\]\n#1 = false|true"),
    ({"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}},
     '\\{("a":null(,"b":null)?|#1|())\\}\n#1 = "b":null'),
]


@pytest.mark.parametrize("schema,printed", GOLDEN)
def test_golden_ir(schema, printed):
    assert ir.show(Constraint.from_json_schema(schema).node) == printed
