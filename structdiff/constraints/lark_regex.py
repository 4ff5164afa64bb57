"""Lark terminal patterns (Python ``re`` syntax) -> the regex syntax outlines-core (Rust ``regex``) accepts.

Lark stores every terminal as a Python regular expression (a ``PatternStr`` is just an
escaped literal). The two dialects differ in the corners that matter here: Python's
``\\d``/``\\w``/``\\s`` are Unicode-wide, lazy quantifiers and look-arounds change what
Lark's *lexer* matches but have no meaning for a full-match automaton, and some
escapes are spelled differently. Rather than patching strings, the pattern is parsed
with Python's own regex parser (``re._parser``) and re-emitted in a small dialect that
both engines read the same way:

* meta characters are backslashed, other printable ASCII stays literal, and class
  members and everything else are ``\\xHH`` / ``\\uHHHH`` / ``\\UHHHHHHHH`` escapes;
* character classes become explicit code-point ranges (negation computed here);
* ``\\d \\w \\s`` become their ASCII sets and their negations stay inside ASCII, so the
  emitted language is never larger than Python's (a sound under-approximation);
* lazy repeats become greedy (the same set of strings under full match; where laziness
  changes what Lark's lexer cuts, the Lark-parse validator of ``lark_grammar`` catches it);
  the two lazy terminals of Lark's ``common.lark`` (``ESCAPED_STRING``, ``C_COMMENT``) are
  replaced by their exact regular equivalents;
* anchors, look-arounds and back-references have no automaton equivalent and raise
  ``GrammarError`` naming the terminal.
"""

from __future__ import annotations

import re
import re._constants as sre_c  # noqa: PLC2701 - the stdlib regex parser is the reference for Lark's dialect
import re._parser as sre_p  # noqa: PLC2701

from ..automata.charsets import MAX_CP as _MAX_CP
from ..automata.charsets import complement_ranges as _complement
from ..automata.charsets import normalise_ranges as _normalise
from ..errors import GrammarError

__all__ = ["terminal_regex", "python_regex_to_portable", "word_edges"]

# Lark's common.ESCAPED_STRING: '"' then the shortest run ending at an unescaped quote.
_ESCAPED_STRING_LARK = r'".*?(?<!\\)(\\\\)*?"'
_ESCAPED_STRING_REGULAR = r'"(?:[^"\\\n]|\\[^\n])*"'
# Lark's common.C_COMMENT: the shortest "/* ... */" (lazy), i.e. no "*/" inside.
_C_COMMENT_LARK = "/\\*(.|\n)*?\\*/"
_C_COMMENT_REGULAR = r"/\*(?:[^*]|\*+[^*/])*\*+/"

_DIGIT = [(0x30, 0x39)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE = [(0x09, 0x0D), (0x20, 0x20)]
# NUL is left out of every negated class and "any character": no text output needs it, and
# the engine's byte DFA uses \x00 as its end sentinel (a class containing it blows up the DFA).
_ASCII = [(0x01, 0x7F)]
_ANY = [(0x01, _MAX_CP)]
_META = set(".^$*+?()[]{}|\\")
# nodes whose emitted text is one atom (a quantifier may follow it directly)
_ATOMS = (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN, sre_c.CATEGORY, sre_c.SUBPATTERN, sre_c.BRANCH)


def _with_case(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add the other ASCII case of every letter in ``ranges`` (IGNORECASE)."""
    extra = []
    for lo, hi in ranges:
        for a, b, shift in ((0x41, 0x5A, 0x20), (0x61, 0x7A, -0x20)):
            s, e = max(lo, a), min(hi, b)
            if s <= e:
                extra.append((s + shift, e + shift))
    return _normalise(ranges + extra)


def _esc(cp: int, in_class: bool) -> str:
    """One code point, written so Python ``re`` and Rust ``regex`` read it identically."""
    ch = chr(cp)
    if ch.isascii() and ch.isalnum():
        return ch
    if not in_class and ch == " ":
        return ch
    if not in_class and ch in _META:
        return "\\" + ch
    if not in_class and 0x21 <= cp < 0x7F:
        return ch
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _class(ranges: list[tuple[int, int]]) -> str:
    """Inclusive ranges -> one literal or a ``[...]`` class (``ranges`` non-empty)."""
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _esc(ranges[0][0], False)
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_esc(lo, True))
        elif hi == lo + 1:
            parts.append(_esc(lo, True) + _esc(hi, True))
        else:
            parts.append(f"{_esc(lo, True)}-{_esc(hi, True)}")
    return "[" + "".join(parts) + "]"


class _Emitter:
    """Walks one ``re._parser`` tree; raises GrammarError on constructs an automaton cannot express."""

    def __init__(self, name: str):
        self.name = name

    def fail(self, what: str) -> GrammarError:
        return GrammarError(f"terminal {self.name} uses {what}, which a finite automaton cannot express; "
                            "rewrite the terminal without it (e.g. as an explicit character class)")

    def category(self, cat) -> tuple[list[tuple[int, int]], bool]:
        """(ASCII ranges, negated) for a \\d \\w \\s category."""
        name = str(cat)
        base = _DIGIT if "DIGIT" in name else _WORD if "WORD" in name else _SPACE if "SPACE" in name else None
        if base is None:
            raise self.fail(f"the regex category {name}")
        return base, "NOT" in name

    def charset(self, items, icase: bool) -> list[tuple[int, int]]:
        negate, ranges, negated_cats = False, [], []
        for op, av in items:
            if op is sre_c.NEGATE:
                negate = True
            elif op is sre_c.LITERAL:
                ranges.append((av, av))
            elif op is sre_c.RANGE:
                ranges.append(tuple(av))
            elif op is sre_c.CATEGORY:
                base, neg = self.category(av)
                if neg:
                    negated_cats.append(base)
                else:
                    ranges.extend(base)
            else:
                raise self.fail(f"the character-class item {op}")
        for base in negated_cats:  # stay inside ASCII: never wider than Python's Unicode meaning
            ranges.extend(_complement(_normalise(base), _ASCII))
        ranges = _normalise(ranges)
        if icase:
            ranges = _with_case(ranges)
        if negate:
            universe = _ASCII if negated_cats else _ANY
            ranges = _complement(ranges, universe)
        if not ranges:
            raise self.fail("an empty character class")
        return ranges

    def seq(self, data, flags: int) -> str:
        return "".join(self.node(op, av, flags) for op, av in data)

    def node(self, op, av, flags: int) -> str:
        icase = bool(flags & re.IGNORECASE)
        if op is sre_c.LITERAL:
            return _class(_with_case([(av, av)]) if icase else [(av, av)])
        if op is sre_c.NOT_LITERAL:
            return _class(self.charset([(sre_c.NEGATE, None), (sre_c.LITERAL, av)], icase))
        if op is sre_c.ANY:
            return _class(_ANY if flags & re.DOTALL else _complement([(10, 10)], _ANY))
        if op is sre_c.IN:
            return _class(self.charset(av, icase))
        if op is sre_c.CATEGORY:
            base, neg = self.category(av)
            return _class(_complement(_normalise(base), _ASCII) if neg else base)
        if op is sre_c.BRANCH:
            return "(?:" + "|".join(self.seq(alt.data, flags) for alt in av[1]) + ")"
        if op is sre_c.SUBPATTERN:
            _group, add, remove, sub = av
            return "(?:" + self.seq(sub.data, (flags | add) & ~remove) + ")"
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            body = self.seq(sub.data, flags)
            if len(sub.data) != 1 or sub.data[0][0] not in _ATOMS:
                body = "(?:" + body + ")"
            if hi is sre_c.MAXREPEAT:
                return body + ("*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}")
            if (lo, hi) == (0, 1):
                return body + "?"
            return body + (f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}")
        what = {sre_c.AT: "an anchor (^, $, \\b, \\A, \\Z)", sre_c.ASSERT: "a look-ahead/look-behind",
                sre_c.ASSERT_NOT: "a negative look-ahead/look-behind", sre_c.GROUPREF: "a back-reference"}
        raise self.fail(what.get(op, f"the regex construct {op}"))


def python_regex_to_portable(pattern: str, name: str = "<regex>") -> str:
    """Translate one Python regular expression into the portable dialect described above.

    Parameters
    ----------
    pattern : str
        A Python ``re`` pattern (inline flags allowed).
    name : str
        The terminal's name, for error messages.

    Returns
    -------
    str
        A pattern that Python ``re`` and outlines-core read as the same language (a subset of
        the input's language where Unicode categories were narrowed to ASCII).

    Raises
    ------
    GrammarError
        The pattern is not valid Python regex, or uses anchors, look-arounds or back-references.
    """
    if _ESCAPED_STRING_LARK in pattern:
        pattern = pattern.replace(_ESCAPED_STRING_LARK, _ESCAPED_STRING_REGULAR)
    if pattern == _C_COMMENT_LARK:
        pattern = _C_COMMENT_REGULAR
    try:
        tree = sre_p.parse(pattern, 0)
    except re.error as exc:
        raise GrammarError(f"terminal {name} has an invalid regular expression {pattern!r}: {exc}") from exc
    return _Emitter(name).seq(tree.data, tree.state.flags)


def terminal_regex(terminal) -> str:
    """Portable regex of one ``lark.lexer.TerminalDef`` (strings and regexes alike)."""
    return python_regex_to_portable(terminal.pattern.to_regexp(), terminal.name)


def _is_word(lo: int, hi: int) -> bool:
    return any(lo <= b and a <= hi for a, b in _WORD)


def _edges(data) -> tuple[bool, bool, bool]:
    """(may start with a word char, may end with one, matches empty) of a parsed portable regex."""
    starts = ends = False
    nullable = True
    items = [_node_edges(op, av) for op, av in data]
    for s, _e, n in items:  # first: scan until a non-nullable item
        starts = starts or s
        if not n:
            nullable = False
            break
    for _s, e, n in reversed(items):
        ends = ends or e
        if not n:
            break
    return starts, ends, nullable


def _node_edges(op, av) -> tuple[bool, bool, bool]:
    if op is sre_c.LITERAL:
        w = _is_word(av, av)
        return w, w, False
    if op is sre_c.IN:
        w = any(_is_word(*(item if kind is sre_c.RANGE else (item, item))) for kind, item in av
                if kind in (sre_c.RANGE, sre_c.LITERAL))
        return w, w, False
    if op is sre_c.SUBPATTERN:
        return _edges(av[3].data)
    if op is sre_c.BRANCH:
        parts = [_edges(alt.data) for alt in av[1]]
        return any(p[0] for p in parts), any(p[1] for p in parts), any(p[2] for p in parts)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        s, e, n = _edges(av[2].data)
        return s, e, n or av[0] == 0
    return True, True, False  # anything else: assume the worst (a word char)


def word_edges(portable: str) -> tuple[bool, bool, bool]:
    """Whether a portable regex may start / may end with a word character ``[0-9A-Za-z_]``, and matches "".

    Used to decide where two adjacent terminals need an ignored separator (``NAME NAME``
    must be ``"a b"``, not ``"ab"``, or Lark's lexer reads one token).
    """
    return _edges(sre_p.parse(portable, 0).data)
