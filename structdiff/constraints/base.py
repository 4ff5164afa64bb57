"""The shared constraint contract: Constraint (what the user wants), CompiledConstraint (what the sampler runs).

A ``Constraint`` is immutable and hashable (``.key``). ``compile(tokenizer, ...)`` turns it
into a ``CompiledConstraint`` for one tokenizer and token budget; the sampler hook built
from it keeps every canvas inside the constraint's language. Semantic checks a regex
cannot carry are ``Validator`` objects: they name offending character spans
(``Violation``), which the generator re-noises and denoises again.

JSON Schema / pydantic / bounded Lark constraints are ``RegexConstraint`` subclasses: a
translated pattern, validators for the rest, and a ``parse`` that builds the value.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Sequence

from ..errors import InputError, SchemaError, UnsatisfiableError, clip
from ..validators.base import Validator, Violation
from .edge import check_json_schema, check_options, check_text

__all__ = ["Violation", "Validator", "Constraint", "RegexConstraint", "CompiledConstraint", "CompiledRegex"]


def _validator_key(v: Any) -> str:
    return f"{type(v).__module__}.{type(v).__qualname__}:{getattr(v, 'name', '?')}"


class Constraint:
    """What the output must satisfy. Build one with a named constructor; subclasses implement ``compile``."""

    validators: tuple = ()

    @property
    def key(self) -> str:
        """Stable identity (cache key); equal keys mean equal constraints."""
        raise NotImplementedError

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constraint) and type(other) is type(self) and other.key == self.key

    # -- named constructors (the table is filled by ``constraints/__init__.py``: base imports nothing concrete) --
    _named: dict = {}

    @classmethod
    def _make(cls, name: str, *args: Any, **kw: Any) -> "Constraint":
        return cls._named[name](*args, **kw)

    @classmethod
    def from_regex(cls, pattern: str, *, validators: Iterable[Validator] = (), unicode_classes: bool = False,
                   budget: Any = None) -> "RegexConstraint":
        """The whole output matches ``pattern`` (Python/Rust regex syntax; ``\\d \\w \\s`` ASCII unless
        ``unicode_classes=True``; see ``automata.regex_parse``)."""
        if isinstance(pattern, str):
            check_text(pattern, "the regex", SchemaError, pointer=True)
        return RegexConstraint(pattern, validators=validators, unicode_classes=unicode_classes, budget=budget)

    @classmethod
    def from_choices(cls, options: Sequence[str]) -> "RegexConstraint":
        """The output is exactly one of ``options``."""
        if isinstance(options, (list, tuple)):
            for i, o in enumerate(options):
                if isinstance(o, str):
                    check_text(o, f"choice {i}")
        return cls._make("choices", options)

    @classmethod
    def from_json_schema(cls, schema: Any, **kw: Any) -> "Constraint":
        """A JSON value valid under ``schema`` (dict or JSON string)."""
        schema = check_json_schema(schema)
        return check_options(cls._named["json_schema"], schema, kw)

    @classmethod
    def from_pydantic(cls, model: Any, **kw: Any) -> "Constraint":
        """A JSON object that validates as the pydantic ``model`` (parse returns an instance)."""
        return check_options(cls._named["pydantic"], model, kw)

    @classmethod
    def from_lark(cls, grammar: str, start: str = "start", **kw: Any) -> "Constraint":
        """Text in the language of a Lark grammar."""
        return cls._make("lark", grammar, start=start, **kw)

    @classmethod
    def sudoku(cls, puzzle: Any, size: int | None = None, **kw: Any) -> Any:
        """A solved grid of the Sudoku ``puzzle`` (``size`` inferred when ``None``)."""
        return cls._make("sudoku", puzzle, size, **kw)

    # -- what subclasses provide ----------------------------------------------------------------
    def compile(self, tokenizer: Any, *, canvas_length: int, max_tokens: int) -> "CompiledConstraint":
        """Compile for one tokenizer and token budget."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """The user-facing value of a valid output (the text itself by default)."""
        return text

    def check(self, text: str) -> list[Violation]:
        """All validators' violations of ``text``."""
        out: list[Violation] = []
        for v in self.validators:
            out.extend(v.check(text))
        return out

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is a valid output (syntax and validators), checked without a tokenizer."""
        raise NotImplementedError


class RegexConstraint(Constraint):
    """The whole output matches a regular language; ``validators`` check what it cannot.

    The language is an ``automata.ir`` node: parsed from ``pattern`` (Python/Rust regex syntax,
    see ``automata.regex_parse``; ``\\d \\w \\s`` ASCII unless ``unicode_classes=True``), or built by
    a front-end (choices, Lark) that passes ``node=`` instead.

    Parameters
    ----------
    pattern : str
        Regex, full match (``^``/``$`` at the ends are accepted and change nothing).
    validators : iterable of Validator
        Semantic checks run on every candidate output.
    unicode_classes : bool
        ``\\d \\w \\s`` with their Unicode meanings.
    budget : automata.ir_dfa.Budget, optional
        Limits of the automaton build (states, derivative steps).

    Raises
    ------
    SchemaError
        Invalid regex, or a construct an automaton cannot express (look-around, back-references,
        word boundaries, anchors inside), naming it and its position.
    """


    def __init__(self, pattern: str | None = None, *, validators: Iterable[Validator] = (), node: Any = None,
                 unicode_classes: bool = False, budget: Any = None, what: str | None = None):
        vals = tuple(validators)
        for v in vals:
            if not callable(getattr(v, "check", None)):
                raise InputError(f"validator {v!r} has no check(text) method")
        if node is None and not isinstance(pattern, str):
            raise SchemaError(f"a regex must be a str, got {type(pattern).__name__}")
        if not isinstance(unicode_classes, bool):
            raise InputError(f"unicode_classes must be True or False, got {unicode_classes!r}")
        self._pattern = pattern
        self._unicode = unicode_classes
        self._budget = budget
        self._what = what or (f"regex {_short(pattern)}" if pattern is not None else type(self).__name__)
        self._byte_dfa = None
        if node is None:
            from ..automata.regex_parse import parse_regex

            node = parse_regex(pattern, dialect="python", unicode_classes=unicode_classes)
        self._node = node
        self.validators = vals

    @property
    def pattern(self) -> str | None:
        """The regex text this constraint was built from (``None`` for IR built by a front-end)."""
        return self._pattern

    @property
    def node(self) -> Any:
        """The language as an ``automata.ir`` node."""
        return self._node

    @property
    def key(self) -> str:
        h = hashlib.sha256(self._node.digest)
        for v in self.validators:
            h.update(b"\0" + _validator_key(v).encode())
        return f"{type(self).__name__}:{h.hexdigest()[:32]}"

    def __repr__(self) -> str:
        if self._pattern is None:
            return f"{type(self).__name__}({self._what}, validators={len(self.validators)})"
        return f"{type(self).__name__}({_short(self._pattern)}, validators={len(self.validators)})"

    def byte_dfa(self) -> Any:
        """The minimal byte DFA of the language (built once, no tokenizer needed)."""
        if self._byte_dfa is None:
            from ..automata.ir_dfa import to_byte_dfa

            self._byte_dfa = to_byte_dfa(self._node, budget=self._budget, error=self._error, what=self._what)
        return self._byte_dfa

    _error = SchemaError  # what a failed automaton build raises (GrammarError for Lark)

    def accepts(self, text: str) -> bool:
        """Whether ``text`` is a valid output: in the language and passing every validator (no tokenizer)."""
        if not isinstance(text, str):
            raise InputError(f"accepts() takes the output text (a str), got {type(text).__name__}")
        if "\x00" in text or not self._matches(text.encode("utf-8", errors="surrogatepass")):
            return False
        return not self.check(text)

    def _matches(self, data: bytes) -> bool:
        """The built DFA if there is one; else derivatives along ``data`` only (checking one text builds nothing)."""
        if self._byte_dfa is None:
            from ..automata import ir
            from ..automata.ir_dfa import matches

            if self._node is ir.NOTHING:
                raise self._error(f"{self._what} matches nothing: no output can satisfy it")
            return matches(self._node, data, budget=self._budget)
        return self.byte_dfa().matches(data)

    def compile(self, tokenizer: Any, *, canvas_length: int, max_tokens: int) -> "CompiledRegex":
        """Byte DFA -> token classes (disk-cached), then check the budget and keep only the states an output
        within it can pass through (``automata.within_budget``).

        Raises
        ------
        SchemaError
            Invalid, empty or too large regex (``GrammarError`` for grammars).
        UnsatisfiableError
            The shortest output needs more than ``max_tokens`` tokens.
        """
        from ..automata import compile_regex, within_budget

        for name, v in (("max_tokens", max_tokens), ("canvas_length", canvas_length)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise InputError(f"{name} must be a positive int, got {v!r}")
        self._check_length_fits(tokenizer, max_tokens)
        # the byte DFA is built (and kept) only when the token automaton is not cached
        auto = compile_regex(self._node, tokenizer, build=self.byte_dfa)
        need = int(auto.dist[0])
        if need > max_tokens:
            what = "no token sequence of this tokenizer spells a match" if need > 10**12 else \
                f"the shortest output needs {need} tokens"
            raise UnsatisfiableError(f"{what}, but max_tokens={max_tokens}: raise max_tokens or loosen "
                                     f"the constraint {clip(repr(self), 160)}")
        # the states no output within the budget passes through cost the DP work every pass: drop them
        return CompiledRegex(self, tokenizer, within_budget(auto, max_tokens), canvas_length, max_tokens)


    def _check_length_fits(self, tokenizer: Any, max_tokens: int) -> None:
        """Refuse before any DFA is built when even the longest tokens cannot spell the shortest match."""
        from ..automata import ir
        from ..automata.tokens import vocab_bytes

        lens = vocab_bytes(tokenizer).lens  # text tokens, longest first
        longest = int(lens[0]) if lens.size else 0
        need = ir.min_length(self._node)
        if need != float("inf") and need > max_tokens * longest:
            raise UnsatisfiableError(
                f"the shortest output is {int(need)} bytes, more than {max_tokens} tokens of at most {longest} "
                f"bytes can spell (max_tokens={max_tokens}): raise max_tokens or loosen the constraint "
                f"{clip(repr(self), 160)}")


def _short(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 60 else pattern[:57] + "...")


class CompiledConstraint:
    """A constraint compiled for one tokenizer and budget (immutable). The sampler hook runs it.

    ``hook_class(rows, ...)`` builds the ``CanvasHook`` for a batch whose rows all share
    this hook class (one compiled constraint per row).
    """

    hook_class: type = None  # set by subclasses

    def __init__(self, constraint: Constraint, tokenizer: Any, canvas_length: int, max_tokens: int):
        self.constraint = constraint
        self.tokenizer = tokenizer
        self.canvas_length = int(canvas_length)
        self.max_tokens = int(max_tokens)

    @property
    def key(self) -> tuple:
        return (self.constraint.key, self.tokenizer.fingerprint, self.canvas_length, self.max_tokens)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompiledConstraint) and other.key == self.key

    def matches(self, text: str) -> bool:
        """Whether ``text`` is in the constraint's (syntactic) language."""
        raise NotImplementedError

    def check(self, text: str) -> list[Violation]:
        """Validator violations of ``text``."""
        return self.constraint.check(text)


class CompiledRegex(CompiledConstraint):
    """A ``RegexConstraint`` on a ``TokenAutomaton``; runs in ``RegexHook`` (exact canvas DP)."""

    def __init__(self, constraint: RegexConstraint, tokenizer: Any, automaton: Any, canvas_length: int,
                 max_tokens: int):
        super().__init__(constraint, tokenizer, canvas_length, max_tokens)
        self.automaton = automaton

    @property
    def hook_class(self) -> type:
        from .hook import RegexHook

        return RegexHook

    def matches(self, text: str) -> bool:
        """Whether ``text`` is in the constraint's language (validators not run): the IR's byte DFA."""
        return "\x00" not in text and self.constraint._matches(text.encode("utf-8", "surrogatepass"))

    def matches_tokens(self, tokens) -> bool:
        """Whether the output tokens (EOS/pad after the text allowed) drive the automaton to acceptance.

        The final guard of generation: the automaton the sampler ran on, never another regex dialect.
        """
        from ..automata.canvas_dp import accepts

        return accepts(self.automaton, tokens)
