"""Translate a JSON Schema ``pattern`` (ECMA-262 regex over decoded characters) into a regex over
the canonical *escaped* body of a JSON string literal.

The pattern is parsed with Python's own regex parser and re-emitted node by node, each
character set rewritten into its JSON-text form (``"`` -> ``\\"``, controls -> escapes).
Constructs with no exact regular equivalent (lookarounds, backreferences, inner anchors,
flags) raise ``PatternUnsupported``; the caller then keeps the pattern for the validator only.
"""

from __future__ import annotations

import re

try:  # Python >= 3.11
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

from ..automata.charsets import complement_ranges as _complement
from ..automata.charsets import normalise_ranges as _merge
from .json_regex import STRING_CHAR, alt, char_set_regex, group

__all__ = ["PatternUnsupported", "pattern_to_string_body"]

_DIGIT = [(0x30, 0x39)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
          (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_CATEGORIES = {
    _c.CATEGORY_DIGIT: (_DIGIT, False), _c.CATEGORY_NOT_DIGIT: (_DIGIT, True),
    _c.CATEGORY_WORD: (_WORD, False), _c.CATEGORY_NOT_WORD: (_WORD, True),
    _c.CATEGORY_SPACE: (_SPACE, False), _c.CATEGORY_NOT_SPACE: (_SPACE, True),
}
MAX_REPEAT_COUNT = 256
PLAIN_REPEAT_ABOVE = 8  # counted repeats above this use unescaped characters only (see json_regex.PLAIN_CHAR)
_escapes = [True]


class PatternUnsupported(Exception):
    """The pattern has no exact translation (the validator enforces it instead)."""


def _set_of(items) -> list[tuple[int, int]]:
    """Items of an ``IN`` node -> code point intervals."""
    negate = False
    iv: list[tuple[int, int]] = []
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            iv.append((av, av))
        elif op is _c.RANGE:
            iv.append(av)
        elif op is _c.CATEGORY:
            if av not in _CATEGORIES:
                raise PatternUnsupported(f"character category {av}")
            base, neg = _CATEGORIES[av]
            iv.extend(_complement(base) if neg else base)
        else:
            raise PatternUnsupported(f"set item {op}")
    return _complement(iv) if negate else _merge(iv)


def _emit(seq) -> str | None:
    """A parsed subpattern -> JSON-body regex (``None`` = empty language)."""
    out = []
    for op, av in seq:
        r = _emit_one(op, av)
        if r is None:
            return None
        out.append(r)
    return "".join(out)


def _emit_one(op, av) -> str | None:
    esc = _escapes[-1]
    if op is _c.LITERAL:
        return char_set_regex([(av, av)], esc)
    if op is _c.NOT_LITERAL:
        return char_set_regex(_complement([(av, av)]), esc)
    if op is _c.ANY:
        return char_set_regex(_complement([(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)]), esc)
    if op is _c.IN:
        return char_set_regex(_set_of(av), esc)
    if op is _c.BRANCH:
        return alt(_emit(s) for s in av[1])
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        if add_flags or del_flags:
            raise PatternUnsupported("inline flags")
        inner = _emit(sub)
        return None if inner is None else group(inner) if inner else ""
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        lo, hi, sub = av
        counted = hi is not _c.MAXREPEAT and hi > 1
        _escapes.append(_escapes[-1] and not (counted and max(lo, hi) > PLAIN_REPEAT_ABOVE))
        try:
            inner = _emit(sub)
        finally:
            _escapes.pop()
        if inner is None:
            return "" if lo == 0 else None
        if hi is _c.MAXREPEAT:
            hi = None
        if lo > MAX_REPEAT_COUNT or (hi is not None and hi > MAX_REPEAT_COUNT):
            raise PatternUnsupported(f"repetition count above {MAX_REPEAT_COUNT}")
        if inner == "":
            return ""
        g = group(inner)
        if hi is None:
            return g + ("*" if lo == 0 else "+" if lo == 1 else "{%d,}" % lo)
        if lo == hi:
            return inner if lo == 1 else g + "{%d}" % lo
        return g + ("?" if (lo, hi) == (0, 1) else "{%d,%d}" % (lo, hi))
    if op is _c.CATEGORY:
        return char_set_regex(_set_of([(op, av)]), esc)
    raise PatternUnsupported(f"regex construct {str(op).lower()}")


def _is_at(node, kinds) -> bool:
    return node[0] is _c.AT and node[1] in kinds


_BEGIN = (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING)
_END = (_c.AT_END, _c.AT_END_STRING)


def _branch(seq) -> str | None:
    """One top-level alternative: strip its anchors, pad unanchored ends with any characters."""
    items = list(seq)
    anchored_start = bool(items) and _is_at(items[0], _BEGIN)
    if anchored_start:
        items = items[1:]
    anchored_end = bool(items) and _is_at(items[-1], _END)
    if anchored_end:
        items = items[:-1]
    if any(op is _c.AT for op, _ in items):
        raise PatternUnsupported("anchor inside the pattern")
    body = _emit(items)
    if body is None:
        return None
    any_chars = STRING_CHAR + "*"
    return ("" if anchored_start else any_chars) + body + ("" if anchored_end else any_chars)


def pattern_to_string_body(pattern: str) -> str | None:
    """ECMA-262 ``pattern`` (search semantics) -> regex of matching canonical JSON string bodies.

    Returns ``None`` when no string matches. Raises ``PatternUnsupported`` (no exact translation)
    or ``re.error`` (not a valid regex).
    """
    if "(?<" in pattern.replace("(?<=", "").replace("(?<!", "") or "\\p{" in pattern or "\\P{" in pattern:
        raise PatternUnsupported("named groups / Unicode properties")
    parsed = _p.parse(pattern, re.UNICODE)
    flags = parsed.state.flags if hasattr(parsed, "state") else parsed.pattern.flags
    if flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE):
        raise PatternUnsupported("inline flags")
    data = list(parsed)
    if len(data) == 1 and data[0][0] is _c.BRANCH:
        return alt(_branch(s) for s in data[0][1][1])
    if len(data) == 1 and data[0][0] is _c.SUBPATTERN and not data[0][1][1] and not data[0][1][2]:
        inner = list(data[0][1][3])
        if len(inner) == 1 and inner[0][0] is _c.BRANCH:
            return alt(_branch(s) for s in inner[0][1][1])
    return _branch(data)
