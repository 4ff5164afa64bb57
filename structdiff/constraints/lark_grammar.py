"""Lark grammars as constraints: a bounded-depth automaton, checked by Lark's own parser.

Approach (and why). A diffusion canvas is denoised all at once, so structdiff's exact
canvas DP needs a finite automaton over the whole output. A context-free language cut
at a bounded nesting depth *is* regular, and a canvas is bounded anyway, so
``LarkConstraint`` translates the grammar into one IR node (``lark_unroll``): Lark parses
the grammar and gives its BNF rules and terminal regexes; linear self-recursion (lists,
left-recursive operator rules, ``x*``/``x+``) becomes a loop with no bound; other
recursion (parentheses, nested arrays) is unrolled ``depth`` times. Every (rule, depth) is
one shared IR node, so the IR grows linearly with the depth; the automaton is what grows.
The depth is chosen as the largest one (up to ``MAX_AUTO_DEPTH``) whose minimal byte DFA
stays within ``AUTO_STATES`` states (the canvas DP costs O(L x edges) per pass, so states are
what a deeper bound costs), or set by the user, and is reported as ``constraint.depth``; the
choice is remembered per grammar text for the process. Sentences nested deeper than the bound are never produced;
everything the bound allows can be.

Guarantee. The translation is a sound under-approximation of what Lark accepts, and
the first validator of every ``LarkConstraint`` is the Lark parse itself
(``LarkParseValidator``, Earley parser, Lark's default dynamic lexer): if a canvas the
automaton allows does not parse (a lexing corner the translation cannot see), its
first error position and what follows are re-noised; if repair rounds run out the
generator raises ``GenerationError``. Returned text always parses with
``constraint.lark`` — never silently invalid.

Automaton. ``automata.ir_dfa`` determinises the IR by derivatives (shared rules are
differentiated once) and minimises it, under a ``Budget``; a grammar whose automaton
passes it gets a ``GrammarError`` naming the grammar, the depth and the knob to turn.
See ``bench/bench_grammar.py`` for states and compile times of the shipped grammars.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..automata.ir import dag_size as ir_dag_size
from ..automata.ir_dfa import Budget, to_byte_dfa
from ..errors import GenerationError, GrammarError, InputError, clip
from .base import RegexConstraint, Validator, Violation
from .edge import check_text
from .lark_unroll import GrammarRules, Unroller

__all__ = ["AUTO_STATES", "MAX_AUTO_DEPTH", "LarkConstraint", "LarkParseValidator", "from_lark"]

log = logging.getLogger(__name__)

MAX_AUTO_DEPTH = 8      # auto depth never goes beyond this
AUTO_STATES = 2_000     # auto depth: the deepest whose minimal byte DFA has at most this many states
_AUTO_MEMO: dict = {}   # (grammar text, start, budget) -> the automatic choice, for this process
_LINE_COL = re.compile(r"line (\d+),? col(?:umn)? (\d+)")


def _resolve(grammar: Any) -> tuple[str, str, list[str]]:
    """(grammar text, display name, import paths) for shipped names, file paths and grammar text."""
    from .. import grammars

    if not isinstance(grammar, (str, Path)):
        raise InputError(f"grammar must be Lark grammar text, a path to a .lark file, or a shipped name "
                         f"({', '.join(grammars.names())}); got {type(grammar).__name__}")
    text = str(grammar)
    if isinstance(grammar, str) and text in grammars.names():
        return grammars.load(text), text, [str(grammars.GRAMMAR_DIR)]
    if isinstance(grammar, Path) or _names_file(text):
        path = Path(text)
        if not _is_file(path):
            raise GrammarError(f"grammar file {clip(text, 120)!r} not found (a one-line argument ending in .lark "
                               f"is read as a path; pass grammar text with a rule such as 'start: ...')")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise GrammarError(f"cannot read grammar file {clip(str(path), 120)!r}: {e}") from None
        return text, path.name, [str(path.resolve().parent)]
    check_text(text, "the grammar text", GrammarError)
    if ":" not in text and re.fullmatch(r"[\w.-]+", text.strip()):
        raise GrammarError(f"no shipped grammar named {text!r}; shipped: {', '.join(grammars.names())} "
                           f"(or pass Lark grammar text or a path to a .lark file)")
    return text, "<grammar>", []


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # name too long, NUL byte, ...
        return False


def _names_file(text: str) -> bool:
    """A grammar argument is a path when it is one line ending in ``.lark`` or names an existing file."""
    if "\n" in text or len(text) > 4096:
        return False
    return text.strip().endswith(".lark") or _is_file(Path(text))


def _rule_names(text: str) -> list[str]:
    return sorted(set(re.findall(r"^\s*[?!]?([a-z_][a-z0-9_]*)\s*(?:\.\d+)?\s*:", text, flags=re.MULTILINE)))


def _grammar_error(exc: Exception, text: str, start: str) -> GrammarError:
    """A Lark error about the grammar itself -> GrammarError with line/column when they can be found."""
    msg = str(exc).strip()
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    m = _LINE_COL.search(msg)
    if m and (line is None or line < 1):
        line, column = int(m.group(1)), int(m.group(2))
    if "Using an undefined rule" in msg and repr(start) in msg:
        return GrammarError(f"unknown start rule {start!r}; the grammar defines: {', '.join(_rule_names(text))}")
    m = re.search(r"\(in rule (\w+)\)", msg)
    if m and (line is None or line < 1):
        found = re.search(rf"^\s*[?!]?{m.group(1)}\s*:", text, flags=re.MULTILINE)
        if found:
            line, column = text.count("\n", 0, found.start()) + 1, 1
    head = msg.splitlines()[0] if msg else type(exc).__name__
    where = f" (line {line}, column {column})" if line and line > 0 else ""
    return GrammarError(f"invalid Lark grammar{where}: {head}; fix the grammar text", line=line if line and
                        line > 0 else None, column=column if line and line > 0 else None)


def _regex_errors() -> tuple:
    try:
        import regex
    except ImportError:
        return (re.error,)
    return (re.error, regex.error)


def build_parser(text: str, start: str, import_paths: list[str]):
    """The Lark object of a grammar (Earley, dynamic lexer: Lark's defaults); GrammarError on a bad grammar."""
    from lark import Lark
    from lark.exceptions import LarkError

    if not isinstance(start, str) or not start:
        raise InputError(f"start must be a rule name, got {start!r}")
    try:
        return Lark(text, start=start, parser="earley", lexer="dynamic", import_paths=import_paths)
    except LarkError as exc:
        raise _grammar_error(exc, text, start) from None
    except (FileNotFoundError, ModuleNotFoundError) as exc:  # %import of a grammar that is nowhere
        where = f" (searched: {', '.join(import_paths)} and Lark's own grammars)" if import_paths else ""
        raise GrammarError(f"invalid Lark grammar: %import cannot find {clip(getattr(exc, 'filename', None) or exc, 120)}"
                           f"{where}; import from lark's common grammar (%import common.NUMBER) or pass the grammar "
                           f"as a .lark file beside the one it imports") from None
    except RecursionError:
        raise GrammarError("invalid Lark grammar: it nests too deeply for Lark's grammar parser; flatten nested "
                           "groups into named rules") from None
    except _regex_errors() as exc:  # Lark lets the regex module's errors on terminal patterns through
        raise GrammarError(f"invalid Lark grammar: a terminal's regex does not compile: {clip(str(exc), 160)}; "
                           f"fix the /.../ pattern") from None


class LarkParseValidator:
    """The Lark parse as a validator: the first error position and what follows are the violation.

    Parameters
    ----------
    parser : lark.Lark
        The grammar's parser.
    name : str
        Identifies the grammar in cache keys and messages.
    """

    def __init__(self, parser: Any, name: str):
        self.parser = parser
        self.name = name

    def check(self, text: str) -> list[Violation]:
        """``[]`` when ``text`` parses, else one violation from the first error to the end."""
        from lark.exceptions import UnexpectedEOF, UnexpectedInput

        try:
            self.parser.parse(text)
            return []
        except UnexpectedEOF:
            pos = len(text)
        except UnexpectedInput as exc:
            pos = getattr(exc, "pos_in_stream", None)
            pos = len(text) if pos is None or pos < 0 else pos
            detail = str(exc).strip().splitlines()[0]
            return [Violation(min(pos, max(len(text) - 1, 0)), max(len(text), 1),
                              f"{self.name}: does not parse at character {pos}: {detail}")]
        return [Violation(max(len(text) - 1, 0), max(len(text), 1), f"{self.name}: input ends too early")]


class LarkConstraint(RegexConstraint):
    """Text in the language of a Lark grammar, up to a recursion depth (see the module docstring).

    Parameters
    ----------
    grammar : str or Path
        A shipped grammar name (``grammars.names()``), a path to a ``.lark`` file, or grammar text. A ``Path``
        is always a file; a str is a file only when it is one line that ends in ``.lark`` or names an
        existing file, and grammar text otherwise (a long one-line grammar is never tried as a path).
    start : str
        The start rule.
    depth : int, optional
        Recursion unrolling depth; ``None`` picks the largest that keeps the automaton small.
    validators : iterable of Validator
        Extra semantic checks, run after the Lark parse.

    Attributes
    ----------
    depth : int
        The depth bound used (0 when the grammar has no recursion that needs unrolling).
    recursive : bool
        Whether the grammar has recursion beyond loops (so ``depth`` limits nesting).
    lark : lark.Lark
        The parser every output is checked with; ``parse`` returns its tree.
    """

    _error = GrammarError

    def __init__(self, grammar: Any, start: str = "start", *, depth: int | None = None,
                 validators: Iterable[Validator] = (), budget: Budget | None = None):
        text, self.grammar_name, paths = _resolve(grammar)
        self.start = start
        self.lark = build_parser(text, start, paths)
        try:
            rules = GrammarRules.from_lark(self.lark)
        except KeyError as exc:
            raise GrammarError(f"terminal {exc.args[0]} has no pattern (declared with %declare?): a constraint "
                               f"needs every terminal defined by a string or regex") from None
        try:
            memo_key = (text, start, budget) if depth is None else None
            chosen = _AUTO_MEMO.get(memo_key) if memo_key else None
            if chosen is None:
                chosen = _choose_depth(rules, start, depth, self.grammar_name, budget)
                if memo_key:
                    _AUTO_MEMO[memo_key] = chosen
                    while len(_AUTO_MEMO) > 32:
                        _AUTO_MEMO.pop(next(iter(_AUTO_MEMO)))
            node, dfa, self.depth, self.recursive = chosen
        except KeyError as exc:
            raise GrammarError(f"terminal {exc.args[0]} has no pattern (declared with %declare?): a constraint "
                               f"needs every terminal defined by a string or regex") from None
        except RecursionError:
            raise GrammarError(f"grammar {self.grammar_name!r}: its rules nest too deeply to translate; lower depth "
                               f"or flatten the nesting into loops (`item (sep item)*`)") from None
        digest = hashlib.sha256(f"{text}\0{start}".encode()).hexdigest()[:16]
        parse_check = LarkParseValidator(self.lark, f"lark:{self.grammar_name}:{digest}")
        super().__init__(node=node, validators=(parse_check, *validators), budget=budget,
                         what=f"grammar {self.grammar_name!r} at depth {self.depth}")
        self._byte_dfa = dfa
        log.debug("grammar %s: depth %d, %d IR nodes", self.grammar_name, self.depth, ir_dag_size(node))

    def __repr__(self) -> str:
        return (f"LarkConstraint({self.grammar_name!r}, start={self.start!r}, depth={self.depth}, "
                f"validators={len(self.validators) - 1})")

    def parse(self, text: str) -> Any:
        """The Lark parse tree of a valid output (``GenerationError`` if it does not parse)."""
        from lark.exceptions import LarkError

        try:
            return self.lark.parse(text)
        except LarkError as exc:
            raise GenerationError(f"output does not parse under grammar {self.grammar_name!r}: {clip(str(exc))}",
                                  last_output=text, messages=[clip(str(exc))]) from None


def _choose_depth(rules: GrammarRules, start: str, depth: int | None, name: str,
                  budget: Budget | None) -> tuple[Any, Any, int, bool]:
    """(IR node, its byte DFA or None, depth used, recursive?) for the requested or automatic depth."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise InputError(f"depth must be a non-negative int or None, got {depth!r}")
    un = Unroller(rules, start)
    min_depth = next((d for d in range(len(rules.productions) + 2) if un.rule(start, d) is not None), None)
    if min_depth is None:
        raise GrammarError(f"grammar {name!r}: rule {start!r} derives no finite sentence (every alternative "
                           f"recurses forever); add a base case")
    base = un.rule(start, min_depth).node
    if un.rule(start, min_depth + 1).node is base:  # hash-consed: identical IR means no depth-bounded recursion
        return base, None, 0, False
    if depth is not None:
        if depth < min_depth:
            raise GrammarError(f"grammar {name!r} has no sentence within depth {depth}: the shortest needs "
                               f"depth {min_depth}")
        return un.rule(start, depth).node, None, depth, True
    # deepen while the minimal automaton stays within AUTO_STATES; stop before a level whose predicted
    # size (the growth of the last level, squared) is near the bound, rather than pay for a build thrown away
    best, prev = None, None
    for d in range(min_depth, MAX_AUTO_DEPTH + 1):
        if prev is not None and best[1].n_states ** 2 / max(prev, 1) > 0.9 * AUTO_STATES:
            break
        node = un.rule(start, d).node
        cap = 4 * AUTO_STATES if best is not None else (budget or Budget()).max_states
        try:
            dfa = to_byte_dfa(node, budget=Budget(max_states=cap), error=GrammarError,
                              what=f"grammar {name!r} at depth {d}")
        except GrammarError:
            if best is None:
                raise
            break
        if best is not None and dfa.n_states > AUTO_STATES:
            break
        if best is not None:
            prev = best[1].n_states
        best = (node, dfa, d, True)
    return best


def from_lark(grammar: Any, start: str = "start", **kw: Any) -> LarkConstraint:
    """``Constraint.from_lark``: see ``LarkConstraint``."""
    return LarkConstraint(grammar, start=start, **kw)
