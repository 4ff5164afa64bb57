"""IR of JSON string literals: characters as JSON text, ``pattern`` (ECMA-262), formats, lengths.

A JSON Schema ``pattern`` or ``format`` speaks of *decoded* characters; the automaton reads the
*escaped* text between the quotes. ``escape_ir`` rewrites a node over decoded code points into
a node over their JSON text: plain characters stand for themselves, ``"`` and ``\\`` become
``\\"`` and ``\\\\``, control characters their short or ``\\u00XX`` escapes (the forms
``json.dumps`` writes). Lengths count decoded characters, so a length-bounded string is a
repetition of whole character units (an escape is one unit), escapes included.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

from ..automata import ir
from ..automata.charsets import MAX_CP, complement_ranges, normalise_ranges
from ..automata.ir import _byte_ranges  # the IR's own mask -> ranges helper (one home)
from ..automata.regex_parse import parse_regex
from ..errors import SchemaError

__all__ = ["ANY_UNIT", "FORMATS", "STRING", "UnsupportedPattern", "escape_ir", "format_body", "json_char",
           "pattern_body", "plain_char_or_escape", "string_literal"]

_SHORT = {0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_MUST_ESCAPE = [(0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C)]
_HEX_LOW = ir.byteset([(0x30, 0x39), (0x61, 0x66)])
# every control character: the short escapes and \u00XX (also \u000a for \n: a superset of json.dumps)
_CONTROL_ESCAPES = ir.alt(ir.concat(ir.literal("\\"), ir.byteset([(0x62, 0x62), (0x66, 0x66), (0x6E, 0x6E),
                                                                (0x72, 0x72), (0x74, 0x74)])),
                          ir.concat(ir.literal("\\u00"), ir.byteset([(0x30, 0x31)]), _HEX_LOW))


class UnsupportedPattern(Exception):
    """A pattern the automaton cannot carry (the validator checks it instead); ``args[0]`` says why."""


def json_char(ranges) -> ir.Node:
    """One decoded code point from ``ranges``, as the JSON text of a string character."""
    return _json_char(tuple(normalise_ranges(ranges)))


def plain_char_or_escape(exclude: list[int]) -> ir.Node:
    """Any string character except the plain (unescaped) code points in ``exclude``; every escape allowed."""
    return ir.alt(ir.chars(complement_ranges(_MUST_ESCAPE + [(c, c) for c in exclude])), _ALL_ESCAPES)


@lru_cache(maxsize=4096)
def _json_char(rs: tuple) -> ir.Node:
    plain = complement_ranges(_MUST_ESCAPE + complement_ranges(rs))
    parts = [ir.chars(plain)]
    controls = [c for lo, hi in rs for c in range(max(lo, 0), min(hi, 0x1F) + 1)]
    if len(controls) == 32:
        parts.append(_CONTROL_ESCAPES)
    else:
        parts += [ir.literal(_SHORT.get(c, f"\\u{c:04x}")) for c in controls]
    parts += [ir.literal(_SHORT[c]) for c in (0x22, 0x5C) if any(lo <= c <= hi for lo, hi in rs)]
    return ir.alt(*parts)


_ALL_ESCAPES = ir.alt(_CONTROL_ESCAPES, ir.literal('\\"'), ir.literal("\\\\"))
ANY_UNIT = json_char([(0, MAX_CP)])
STRING = ir.concat(ir.literal('"'), ir.star(ANY_UNIT), ir.literal('"'))


def string_literal(text: str) -> ir.Node:
    """The canonical JSON text of the string ``text`` (with quotes)."""
    import json

    return ir.literal(json.dumps(text, ensure_ascii=False))


def escape_ir(node: ir.Node) -> ir.Node:
    """``node`` over decoded code points -> the same language as JSON string-body text."""
    if node.height > 4000:
        raise UnsupportedPattern("pattern too long to rewrite")
    memo: dict[int, ir.Node] = {}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, node.height * 3 + 500))
    try:
        return _esc(node, memo)
    finally:
        sys.setrecursionlimit(old)


def _esc(n: ir.Node, memo: dict) -> ir.Node:
    hit = memo.get(id(n))
    if hit is not None:
        return hit
    k = n.kind
    if n is ir.EMPTY or n is ir.NOTHING:
        out = n
    elif k == ir.CHARS:
        out = json_char(n.ranges)
    elif k == ir.BYTES:
        if n.mask >> 0x80:
            raise UnsupportedPattern("raw non-ASCII bytes in a pattern")
        out = json_char(_byte_ranges(n.mask))
    elif k == ir.CONCAT:
        out = ir.concat(_esc(n.kids[0], memo), _esc(n.kids[1], memo))
    elif k == ir.ALT:
        out = ir.alt(*(_esc(c, memo) for c in n.kids))
    else:
        out = ir.repeat(_esc(n.kids[0], memo), n.lo, n.hi)
    memo[id(n)] = out
    return out


def pattern_body(pattern: str, ptr: str) -> ir.Node:
    """String-body node of the strings an ECMA-262 ``pattern`` finds a match in (search semantics).

    Raises
    ------
    UnsupportedPattern
        Valid regex, but a construct the automaton cannot carry (lookaround, backreference, ...).
    SchemaError
        Not a regex at all (Python cannot read it either).
    """
    try:
        node = parse_regex(pattern, dialect="ecma", search=True, error=SchemaError, where=ptr)
    except SchemaError as e:
        try:
            re.compile(pattern)
        except re.error:
            raise SchemaError(f"invalid regex in 'pattern' at {ptr or '/'}: {e}", pointer=ptr) from None
        raise UnsupportedPattern(str(e)) from None
    return escape_ir(node)


# ---------------------------------------------------------------- formats (regexes of the decoded string)

_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = _DEC_OCTET + r"(?:\." + _DEC_OCTET + "){3}"
_H16 = "[0-9a-fA-F]{1,4}"


def _ipv6() -> str:
    """RFC 4291 text forms (full, ``::``-compressed, embedded IPv4 tail)."""
    forms = []
    for n_tail_groups, tail in ((2, None), (0, _IPV4)):
        total = 6 + n_tail_groups if tail is None else 6
        forms.append(":".join([_H16] * total + ([tail] if tail else [])))
        for k in range(total + 1):
            before = ":".join([_H16] * k) if k else ""
            max_after = total - k - 1
            if max_after < 0:
                continue
            if tail:
                forms.append(f"{before}::(?:{_H16}:){{0,{max_after}}}{tail}")
            else:
                after = f"(?:{_H16}:){{0,{max_after - 1}}}{_H16}" if max_after >= 1 else None
                forms.append(before + "::" + ("(?:" + after + ")?" if after else ""))
    return "(?:" + "|".join(forms) + ")"


_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HOST = _LABEL + r"(?:\." + _LABEL + ")*"
_URI_CHARS = r"a-zA-Z0-9._~!$&'()*+,;=:@%/-"
_DUR_T = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
_DUR = r"P(?:(?:[0-9]+D|[0-9]+M(?:[0-9]+D)?|[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?)(?:" + _DUR_T + r")?|" + _DUR_T + \
       r"|[0-9]+W)"

# format -> regex (Python dialect) of the decoded string: every valid value matches it (the validator's
# format checker has the last word where it is stricter: calendars, host lengths, URI details)
FORMATS: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE + "[Tt]" + _TIME,
    "duration": _DUR,
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "email": r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@" + _HOST,
    "ipv4": _IPV4,
    "ipv6": _ipv6(),
    "hostname": _HOST,
    "uri": r"[a-zA-Z][a-zA-Z0-9+.-]*:[" + _URI_CHARS + r"]*(?:\?[" + _URI_CHARS + r"?]*)?(?:#[" + _URI_CHARS +
           r"?]*)?",
}
_FORMAT_IR: dict[str, ir.Node] = {}


def format_body(fmt: str) -> ir.Node | None:
    """String-body node for ``format`` (``None``: the automaton has no form for it)."""
    if fmt not in FORMATS:
        return None
    if fmt not in _FORMAT_IR:
        _FORMAT_IR[fmt] = escape_ir(parse_regex(FORMATS[fmt], dialect="python", where=f"format {fmt}"))
    return _FORMAT_IR[fmt]
