"""The one parser of user regex text: Python/Rust syntax (``regex=``) and ECMA-262 (JSON Schema ``pattern``) -> IR.

Text is parsed once, here, where a user wrote it; everything after works on ``automata.ir``
nodes. A small recursive-descent parser with an explicit nesting bound (``MAX_NESTING``,
never a ``RecursionError``) and a bound on counted repeats (``MAX_REPEAT``).

Dialects
--------
``python`` (``Constraint.from_regex``, Lark terminals): Python ``re`` syntax plus Rust
``regex`` additions — ``\\x{..}``, ``\\p{..}``/``\\P{..}``/``\\pL``, ``\\z``, POSIX classes
``[[:alpha:]]``, nested classes and class set operations ``&&`` ``--`` ``~~``.
``ecma`` (JSON Schema): ECMA-262 — ``\\uXXXX``, ``\\u{..}``, ``\\cX``, ``\\p{..}``; ``[[:`` and
``&&`` are literal characters; ``.`` excludes the four line terminators.

Meaning, the same in both: ``\\d`` ``\\w`` are ASCII (``[0-9]``, ``[0-9A-Za-z_]``), which is what
ECMA-262 says and what users of a generation SDK mean; ``\\s`` is ASCII whitespace in the
python dialect and ECMA's fixed set in ``ecma``. ``unicode_classes=True`` opts into the
Unicode meanings (``\\d`` = ``\\p{Nd}``, ``\\w`` and ``\\s`` as the ``regex`` package's Unicode
tables). ``\\p{..}`` names (general categories, scripts, binary properties) are resolved
with the ``regex`` package's Unicode tables.

Anchors (``^ $ \\A \\z \\Z``) are accepted where they sit at the ends of the pattern (of a
top-level alternative, also inside a group spanning it). With ``search=False`` (the whole
output must match) they are no-ops; with ``search=True`` (JSON Schema: ``pattern`` searches)
an end that carries no anchor is opened with "any text". Everything an automaton over the
whole text cannot express — look-around, back-references, ``\\b``/``\\B``, anchors elsewhere,
atomic groups, possessive quantifiers, conditionals — is refused naming the construct and
its character position.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from ..errors import SchemaError
from . import ir
from .charsets import MAX_CP, complement_ranges, normalise_ranges

__all__ = ["DIALECTS", "MAX_NESTING", "MAX_REPEAT", "parse_regex"]

DIALECTS = ("python", "ecma")
MAX_NESTING = 100      # groups/classes nested deeper than this are refused
MAX_REPEAT = 100_000   # counted repeats above this are refused (the DFA budget usually stops sooner)

_DIGIT = [(0x30, 0x39)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE_ASCII = [(0x09, 0x0D), (0x20, 0x20)]
_SPACE_ECMA = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
               (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)], "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0, 0x7F)], "blank": [(9, 9), (0x20, 0x20)], "cntrl": [(0, 0x1F), (0x7F, 0x7F)],
    "digit": _DIGIT, "graph": [(0x21, 0x7E)], "lower": [(0x61, 0x7A)], "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)], "space": _SPACE_ASCII,
    "upper": [(0x41, 0x5A)], "word": _WORD, "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_SIMPLE_ESC = {"n": 10, "t": 9, "r": 13, "f": 12, "v": 11}
_REFUSED_GROUPS = {"=": "a look-ahead", "!": "a negative look-ahead", "<=": "a look-behind",
                   "<!": "a negative look-behind", ">": "an atomic group", "(": "a conditional group",
                   "#": None}


@lru_cache(maxsize=None)
def _all_text() -> str:
    """Every code point once, in order (surrogates replaced): the string property tables are read from."""
    import numpy as np

    a = np.arange(MAX_CP + 1, dtype=np.uint32)
    a[0xD800:0xE000] = 0xFFFD
    return a.tobytes().decode("utf-32-le")


@lru_cache(maxsize=256)
def _property(expr: str) -> tuple[tuple[int, int], ...]:
    """Code-point ranges of a ``regex``-package class expression such as ``\\p{Lu}`` (Unicode tables)."""
    import regex

    found = [(m.start(), m.end() - 1) for m in regex.finditer(f"(?:{expr})+", _all_text())]
    return tuple(r for r in normalise_ranges(found) if not (r[0] >= 0xD800 and r[1] <= 0xDFFF))


class _Item:
    """A parsed piece: variants keyed by (start-anchored, end-anchored) -> (node, anchor positions)."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v  # {(sa, ea): (node, sa_pos, ea_pos)}

    @staticmethod
    def of(node: ir.Node) -> _Item:
        return _Item({(False, False): (node, None, None)})

    def plain(self) -> ir.Node | None:
        """The node when no variant carries an anchor, else None."""
        if len(self.v) == 1 and (False, False) in self.v:
            return self.v[(False, False)][0]
        return None


class _Parser:
    def __init__(self, text: str, dialect: str, unicode_classes: bool, error: type, where: str):
        self.s = text
        self.i = 0
        self.ecma = dialect == "ecma"
        self.uni = unicode_classes
        self.error = error
        self.where = where
        self.depth = 0
        self.flags = {"i": False, "s": False, "x": False}

    # -- errors -----------------------------------------------------------------------------------------------
    def fail(self, msg: str, pos: int | None = None):
        pos = self.i if pos is None else pos
        near = self.s[max(0, pos - 10):pos + 10]
        text = f"{self.where} {self._short()}: {msg} at position {pos} (near {near!r})"
        return self.error(text, pointer=pos) if issubclass(self.error, SchemaError) else self.error(text)

    def refuse(self, what: str, pos: int):
        return self.fail(f"{what} is not supported (an automaton over the whole output cannot express it; "
                         f"rewrite the pattern without it)", pos)

    def _short(self) -> str:
        return repr(self.s if len(self.s) <= 60 else self.s[:57] + "...")

    # -- scanning ---------------------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def skip_verbose(self) -> None:
        while self.flags["x"] and self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\n\r\f\v":
                self.i += 1
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                break

    # -- grammar ----------------------------------------------------------------------------------------------
    def parse(self) -> _Item:
        item = self.alternation()
        if self.i < len(self.s):
            raise self.fail("unbalanced parenthesis ')'" if self.peek() == ")" else f"unexpected {self.peek()!r}")
        return item

    def alternation(self) -> _Item:
        saved = dict(self.flags)
        parts = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            parts.append(self.sequence())
        self.flags = saved
        out: dict = {}
        for p in parts:
            for k, (n, sp, ep) in p.v.items():
                if k in out:
                    n0, sp0, ep0 = out[k]
                    out[k] = (ir.alt(n0, n), sp0 if sp0 is not None else sp, ep0 if ep0 is not None else ep)
                else:
                    out[k] = (n, sp, ep)
        return _Item(out)

    def sequence(self) -> _Item:
        items = []
        while True:
            self.skip_verbose()
            c = self.peek()
            if c == "" or c == "|" or c == ")":
                break
            start = self.i
            items.append(self.quantified(self.atom(), start).v)
        # fold from the right: each join prepends one item to a right-associated sequence, so a
        # long literal costs O(n), not O(n^2) re-association of an ever longer left part
        acc = {(False, False): (ir.EMPTY, None, None)}
        for item in reversed(items):
            acc = self.join(item, acc)
        return _Item(acc)

    def join(self, acc: dict, nxt: dict) -> dict:
        out: dict = {}
        for (sa1, ea1), (n1, sp1, ep1) in acc.items():
            for (sa2, ea2), (n2, sp2, ep2) in nxt.items():
                if sa2 and n1 is not ir.EMPTY:
                    raise self.refuse("a start anchor (^ or \\A) after the start of the pattern", sp2)
                if ea1 and n2 is not ir.EMPTY:
                    raise self.refuse("an end anchor ($, \\z or \\Z) before the end of the pattern", ep1)
                k = (sa1 or sa2, ea1 or ea2)
                n = ir.concat(n1, n2)
                sp = sp1 if sp1 is not None else sp2
                ep = ep2 if ep2 is not None else ep1
                if k in out:
                    n0, sp0, ep0 = out[k]
                    out[k] = (ir.alt(n0, n), sp0, ep0)
                else:
                    out[k] = (n, sp, ep)
        return out

    def quantified(self, item: _Item, start: int) -> _Item:
        while True:
            self.skip_verbose()
            c = self.peek()
            if c == "*":
                lo, hi = 0, None
                self.i += 1
            elif c == "+":
                lo, hi = 1, None
                self.i += 1
            elif c == "?":
                lo, hi = 0, 1
                self.i += 1
            elif c == "{":
                bounds = self.counted()
                if bounds is None:
                    return item
                lo, hi = bounds
            else:
                return item
            node = item.plain()
            if node is None:
                at = min(p for _n, sp, ep in item.v.values() for p in (sp, ep) if p is not None)
                raise self.refuse("an anchor inside a repeated group", at)
            if self.peek() == "?":  # lazy: the same set of whole-output matches
                self.i += 1
            elif self.peek() == "+" and not self.ecma:
                raise self.refuse("a possessive quantifier", self.i)
            item = _Item.of(ir.repeat(node, lo, hi))
            self.skip_verbose()
            if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self.counted_here()):
                raise self.fail("multiple repeat")

    def counted(self) -> tuple[int, int | None] | None:
        """``{n}``, ``{n,}``, ``{n,m}`` (and python's ``{,m}``) at ``self.i``; None when it is a literal brace."""
        j = self.i + 1
        s = self.s
        k = j
        while k < len(s) and s[k].isdigit():
            k += 1
        lo_txt = s[j:k]
        hi_txt: str | None = lo_txt
        if k < len(s) and s[k] == ",":
            m = k + 1
            while m < len(s) and s[m].isdigit():
                m += 1
            hi_txt = s[k + 1:m]
            k = m
        if k >= len(s) or s[k] != "}" or (not lo_txt and (self.ecma or not hi_txt)):
            return None  # not a quantifier: a literal "{" (Python and ECMA read it so)
        lo = int(lo_txt) if lo_txt else 0
        hi = int(hi_txt) if hi_txt else None
        for v in (lo, hi):
            if v is not None and v > MAX_REPEAT:
                raise self.fail(f"the repeat count {v} is above the limit {MAX_REPEAT}; use a smaller bound or *")
        if hi is not None and hi < lo:
            raise self.fail(f"min repeat {lo} greater than max repeat {hi}")
        self.i = k + 1
        return lo, hi

    def atom(self) -> _Item:
        c = self.peek()
        pos = self.i
        if c == "(":
            return self.group()
        if c in "*+?":
            raise self.fail("nothing to repeat")
        if c == "{" and self.counted_here():
            raise self.fail("nothing to repeat")
        self.i += 1
        if c == "[":
            return _Item.of(self.chars(self.char_class()))
        if c == ".":
            if self.flags["s"]:
                return _Item.of(ir.chars([(0, MAX_CP)]))
            return _Item.of(ir.any_char([10, 13, 0x2028, 0x2029] if self.ecma else [10]))
        if c == "^":
            return _Item({(True, False): (ir.EMPTY, pos, None)})
        if c == "$":
            return _Item({(False, True): (ir.EMPTY, None, pos)})
        if c == "\\":
            return self.escape(pos)
        return _Item.of(self.chars([(ord(c), ord(c))]))

    def counted_here(self) -> bool:
        save = self.i
        try:
            return self.counted() is not None
        finally:
            self.i = save

    def chars(self, ranges) -> ir.Node:
        ranges = normalise_ranges(ranges)
        if self.flags["i"]:
            ranges = _case_fold(ranges)
        return ir.chars(ranges)

    def group(self) -> _Item:
        pos = self.i
        self.i += 1
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"groups nested deeper than {MAX_NESTING}")
        saved = dict(self.flags)
        if self.peek() == "?":
            self.i += 1
            c = self.peek()
            for key, what in _REFUSED_GROUPS.items():
                if self.s.startswith(key, self.i):
                    if what is None:  # (?#comment)
                        end = self.s.find(")", self.i)
                        if end < 0:
                            raise self.fail("unterminated comment", pos)
                        self.i = end + 1
                        self.depth -= 1
                        return _Item.of(ir.EMPTY)
                    raise self.refuse(what, pos)
            if c == ":":
                self.i += 1
            elif c == "P" and self.peek(1) == "<" or c == "<" or (c == "'" and not self.ecma):
                close = ">" if c != "'" else "'"
                end = self.s.find(close, self.i + 2 if c == "P" else self.i + 1)
                if end < 0:
                    raise self.fail("unterminated group name", pos)
                self.i = end + 1
            elif c == "P" and self.peek(1) in "=>":
                raise self.refuse("a back-reference", pos)
            elif not self.ecma:
                self.inline_flags(pos)
                if self.peek() == ")":  # (?i): flags for the rest of the enclosing group
                    self.i += 1
                    self.depth -= 1
                    return _Item.of(ir.EMPTY)
                if self.peek() != ":":
                    raise self.fail("bad inline flag group")
                self.i += 1
            else:
                raise self.fail(f"unknown group syntax (?{c}")
        inner = self.alternation()
        if self.peek() != ")":
            raise self.fail("missing ')' for the group opened", pos)
        self.i += 1
        self.depth -= 1
        self.flags = saved
        return inner

    def inline_flags(self, pos: int) -> None:
        on = True
        while self.peek() and self.peek() not in ":)":
            c = self.peek()
            if c == "-":
                on = False
            elif c in "isx":
                self.flags[c] = on
            elif c in "muUa":
                pass  # multiline (anchors only at the ends), unicode, swap-greed (same matches), ASCII (the default)
            else:
                raise self.fail(f"unsupported inline flag {c!r}", self.i)
            self.i += 1

    # -- escapes ----------------------------------------------------------------------------------------------
    def escape(self, pos: int) -> _Item:
        c = self.peek()
        if c == "":
            raise self.fail("a pattern may not end with a backslash", pos)
        if c in "AzZ":
            if self.ecma:
                raise self.fail(f"unknown escape \\{c}", pos)
            self.i += 1
            if c == "A":
                return _Item({(True, False): (ir.EMPTY, pos, None)})
            return _Item({(False, True): (ir.EMPTY, None, pos)})
        if c in "bB":
            raise self.refuse(f"a word-boundary assertion \\{c}", pos)
        if c.isdigit() and c != "0":
            raise self.refuse("a back-reference", pos)
        if c == "k" and self.peek(1) == "<":
            raise self.refuse("a named back-reference", pos)
        if c == "G":
            raise self.refuse("the \\G assertion", pos)
        return _Item.of(self.chars(self.escape_ranges(pos)))

    def escape_ranges(self, pos: int, in_class: bool = False) -> list[tuple[int, int]]:
        """Code-point ranges of the escape after a backslash at ``pos`` (``self.i`` at the escaped char)."""
        c = self.peek()
        self.i += 1
        if c in "dDwWsS":
            base = self.shorthand(c.lower())
            return complement_ranges(base) if c.isupper() else base
        if c in "pP":
            ranges = self.unicode_property(pos)
            return complement_ranges(ranges) if c == "P" else ranges
        if c in _SIMPLE_ESC:
            return [(_SIMPLE_ESC[c],) * 2]
        if c == "a" and not self.ecma:
            return [(7, 7)]
        if c == "b" and in_class:
            return [(8, 8)]
        if c == "x":
            if self.peek() == "{" and not self.ecma:
                return [(self.braced_hex(pos),) * 2]
            return [(self.hex_digits(2, pos),) * 2]
        if c == "u":
            if self.peek() == "{":
                return [(self.braced_hex(pos),) * 2]
            cp = self.hex_digits(4, pos)
            if self.ecma and 0xD800 <= cp <= 0xDBFF and self.s.startswith("\\u", self.i):
                save = self.i
                self.i += 2
                low = self.hex_digits(4, pos)
                if 0xDC00 <= low <= 0xDFFF:
                    return [((0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)),) * 2]
                self.i = save
            return [(cp, cp)]
        if c == "U" and not self.ecma:
            return [(self.hex_digits(8, pos),) * 2]
        if c == "N" and not self.ecma and self.peek() == "{":
            end = self.s.find("}", self.i)
            try:
                cp = ord(unicodedata.lookup(self.s[self.i + 1:end]))
            except KeyError:
                raise self.fail("unknown character name", pos) from None
            self.i = end + 1
            return [(cp, cp)]
        if c == "c" and self.ecma and self.peek().isalpha() and self.peek().isascii():
            cp = ord(self.peek()) % 32
            self.i += 1
            return [(cp, cp)]
        if c == "0":
            if self.ecma:
                if self.peek().isdigit():
                    raise self.refuse("an octal escape", pos)
                return [(0, 0)]
            k = self.i
            while k < len(self.s) and k < self.i + 2 and self.s[k] in "01234567":
                k += 1
            cp = int("0" + self.s[self.i:k], 8)
            self.i = k
            return [(cp, cp)]
        if c.isdigit() and in_class and not self.ecma:
            raise self.fail("octal escapes in classes are not supported", pos)
        if c.isascii() and c.isalnum():
            raise self.fail(f"unknown escape \\{c}", pos)
        return [(ord(c), ord(c))]

    def hex_digits(self, n: int, pos: int) -> int:
        txt = self.s[self.i:self.i + n]
        if len(txt) != n or any(ch not in "0123456789abcdefABCDEF" for ch in txt):
            raise self.fail(f"bad escape: expected {n} hex digits", pos)
        self.i += n
        return int(txt, 16)

    def braced_hex(self, pos: int) -> int:
        end = self.s.find("}", self.i)
        txt = self.s[self.i + 1:end] if end > 0 else ""
        if not txt or len(txt) > 8 or any(ch not in "0123456789abcdefABCDEF" for ch in txt):
            raise self.fail("bad escape: expected hex digits in braces", pos)
        cp = int(txt, 16)
        if cp > MAX_CP:
            raise self.fail(f"code point {cp:#x} is above U+10FFFF", pos)
        self.i = end + 1
        return cp

    def shorthand(self, c: str) -> list[tuple[int, int]]:
        if self.uni:
            return list(_property({"d": r"\p{Nd}", "w": r"\w", "s": r"\s"}[c]))
        if c == "d":
            return list(_DIGIT)
        if c == "w":
            return list(_WORD)
        return list(_SPACE_ECMA if self.ecma else _SPACE_ASCII)

    def unicode_property(self, pos: int) -> list[tuple[int, int]]:
        if self.peek() == "{":
            end = self.s.find("}", self.i)
            if end < 0:
                raise self.fail("unterminated \\p{...}", pos)
            name = self.s[self.i + 1:end]
            self.i = end + 1
        elif not self.ecma and self.peek().isalpha():
            name = self.peek()
            self.i += 1
        else:
            raise self.fail("\\p needs a property name in braces, e.g. \\p{Lu}", pos)
        if not name or any(not (ch.isalnum() or ch in "_ =-&.") for ch in name) or "&&" in name:
            raise self.fail(f"bad Unicode property name {name!r}", pos)
        import regex

        try:
            return list(_property(f"\\p{{{name}}}"))
        except regex.error:
            raise self.fail(f"unknown Unicode property \\p{{{name}}} (general categories such as Lu, L, Nd, "
                            f"scripts such as Greek, and binary properties such as Alphabetic are known)",
                            pos) from None

    # -- classes ----------------------------------------------------------------------------------------------
    def char_class(self) -> list[tuple[int, int]]:
        """After '[': the class's code-point ranges (negation applied); ``self.i`` ends after ']'."""
        open_pos = self.i - 1
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"classes nested deeper than {MAX_NESTING}")
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        ranges = self.class_union(open_pos, first=True)
        while not self.ecma and self.s.startswith(("&&", "--", "~~"), self.i):
            op = self.s[self.i:self.i + 2]
            self.i += 2
            other = self.class_union(open_pos, first=False)
            if op == "&&":
                ranges = complement_ranges(complement_ranges(ranges) + complement_ranges(other))
            elif op == "--":
                ranges = complement_ranges(complement_ranges(ranges) + other)
            else:
                both = complement_ranges(complement_ranges(ranges) + complement_ranges(other))
                ranges = complement_ranges(both + complement_ranges(ranges + other))
        if self.peek() != "]":
            raise self.fail("unterminated character class", open_pos)
        self.i += 1
        self.depth -= 1
        ranges = normalise_ranges(ranges)
        if self.flags["i"]:
            ranges = _case_fold(ranges)
        return complement_ranges(ranges) if negate else ranges

    def class_union(self, open_pos: int, first: bool) -> list[tuple[int, int]]:
        ranges: list[tuple[int, int]] = []
        at_start = first
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("unterminated character class", open_pos)
            if c == "]" and not at_start:
                return ranges
            if c == "]" and at_start and self.ecma:
                return ranges  # ECMA: [] matches nothing, [^] anything
            if not self.ecma and self.s.startswith(("&&", "--", "~~"), self.i) and not at_start:
                return ranges
            at_start = False
            if not self.ecma and c == "[":
                if self.peek(1) == ":":
                    end = self.s.find(":]", self.i + 2)
                    name = self.s[self.i + 2:end] if end > 0 else ""
                    neg = name.startswith("^")
                    base = _POSIX.get(name.lstrip("^"))
                    if base is None:
                        raise self.fail(f"unknown POSIX class [:{name}:]", self.i)
                    ranges += complement_ranges(base) if neg else base
                    self.i = end + 2
                    continue
                self.i += 1
                ranges += self.char_class()
                continue
            lo_pos = self.i
            single = self.class_atom()
            if single is None:
                continue
            lo_set = single
            if self.peek() == "-" and self.peek(1) not in ("]", "") and not self.s.startswith("--", self.i):
                save = self.i
                self.i += 1
                if not self.ecma and self.peek() == "[":
                    self.i = save
                    ranges += lo_set
                    continue
                hi_set = self.class_atom()
                if hi_set is None or len(lo_set) != 1 or lo_set[0][0] != lo_set[0][1] or len(hi_set) != 1 \
                        or hi_set[0][0] != hi_set[0][1]:
                    if self.ecma:  # ECMA (no u flag): [\d-z] is \d, '-', 'z'
                        ranges += lo_set + [(45, 45)] + (hi_set or [])
                        continue
                    raise self.fail("bad character range", lo_pos)
                lo, hi = lo_set[0][0], hi_set[0][0]
                if hi < lo:
                    raise self.fail(f"bad character range {chr(lo)}-{chr(hi)}", lo_pos)
                ranges.append((lo, hi))
            else:
                ranges += lo_set

    def class_atom(self) -> list[tuple[int, int]] | None:
        c = self.peek()
        pos = self.i
        self.i += 1
        if c == "\\":
            if self.peek() == "":
                raise self.fail("a pattern may not end with a backslash", pos)
            return self.escape_ranges(pos, in_class=True)
        return [(ord(c), ord(c))]


def _case_fold(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add the other case of every character in ``ranges`` (ASCII exactly; other scripts by simple case maps)."""
    extra = []
    for lo, hi in ranges:
        for a, b, shift in ((0x41, 0x5A, 0x20), (0x61, 0x7A, -0x20)):
            s, e = max(lo, a), min(hi, b)
            if s <= e:
                extra.append((s + shift, e + shift))
        if hi >= 0x80 and hi - max(lo, 0x80) < 50_000:
            for cp in range(max(lo, 0x80), hi + 1):
                ch = chr(cp)
                for other in (ch.lower(), ch.upper()):
                    if len(other) == 1 and other != ch:
                        extra.append((ord(other), ord(other)))
    if any(lo <= 0x73 <= hi or lo <= 0x53 <= hi for lo, hi in ranges):
        extra.append((0x17F, 0x17F))  # long s folds to s (as in Python's re)
    if any(lo <= 0x6B <= hi or lo <= 0x4B <= hi for lo, hi in ranges):
        extra.append((0x212A, 0x212A))  # Kelvin sign folds to k
    return normalise_ranges(ranges + extra)


def parse_regex(pattern: str, *, dialect: str = "python", unicode_classes: bool = False, search: bool = False,
                error: type = SchemaError, where: str = "regex") -> ir.Node:
    """Parse user regex text into an IR node.

    Parameters
    ----------
    pattern : str
        The regex text.
    dialect : {"python", "ecma"}
        ``python``: Python ``re`` / Rust ``regex`` syntax (``regex=``); ``ecma``: ECMA-262 (JSON Schema).
    unicode_classes : bool
        ``\\d \\w \\s`` with their Unicode meanings (default: ASCII; see the module docstring).
    search : bool
        False: the whole text must match (anchors at the ends are no-ops). True: the pattern may
        match anywhere unless anchored (JSON Schema ``pattern``).
    error : type
        Exception class for refusals and syntax errors (called with a message and ``pointer=`` the position).
    where : str
        What the pattern is, for messages (``"regex"``, ``"pattern at /properties/id"``, ``"terminal NAME"``).

    Returns
    -------
    ir.Node

    Raises
    ------
    error
        Invalid syntax, or a construct the automaton cannot express, naming the construct and its position.
    """
    if not isinstance(pattern, str):
        raise error(f"a regex must be a str, got {type(pattern).__name__}")
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    item = _Parser(pattern, dialect, unicode_classes, error, where).parse()
    parts = []
    anything = ir.star(ir.chars([(0, MAX_CP)]))
    for (sa, ea), (node, _sp, _ep) in item.v.items():
        if search:
            node = ir.concat(ir.EMPTY if sa else anything, node, ir.EMPTY if ea else anything)
        parts.append(node)
    return ir.alt(*parts)
