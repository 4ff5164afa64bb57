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
import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

from ..errors import InputError, SchemaError, UnsatisfiableError

__all__ = ["Violation", "Validator", "Constraint", "RegexConstraint", "CompiledConstraint", "CompiledRegex",
           "escape_literal"]


@dataclass(frozen=True)
class Violation:
    """A semantic error in an output: character span ``[start, end)`` of the text and a message."""

    start: int
    end: int
    message: str


@runtime_checkable
class Validator(Protocol):
    """A semantic check a regex cannot carry (uniqueItems, numeric ranges, cross-field rules, ...)."""

    name: str

    def check(self, text: str) -> list[Violation]:
        """Violations of ``text`` (``[]`` means valid)."""
        ...


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

    # -- named constructors ---------------------------------------------------------------------
    @classmethod
    def from_regex(cls, pattern: str, *, validators: Iterable[Validator] = ()) -> "RegexConstraint":
        """The whole output matches ``pattern`` (Rust/outlines-core regex syntax)."""
        from .edge import check_text

        if isinstance(pattern, str):
            check_text(pattern, "the regex", SchemaError, pointer=True)
        return RegexConstraint(pattern, validators=validators)

    @classmethod
    def from_choices(cls, options: Sequence[str]) -> "RegexConstraint":
        """The output is exactly one of ``options``."""
        from .edge import check_text
        from .regex import ChoiceConstraint

        if isinstance(options, (list, tuple)):
            for i, o in enumerate(options):
                if isinstance(o, str):
                    check_text(o, f"choice {i}")
        return ChoiceConstraint(options)

    @classmethod
    def from_json_schema(cls, schema: Any, **kw: Any) -> "Constraint":
        """A JSON value valid under ``schema`` (dict or JSON string)."""
        from . import json_schema
        from .edge import check_json_schema, check_options

        schema = check_json_schema(schema)
        return check_options(json_schema.from_json_schema, schema, kw)

    @classmethod
    def from_pydantic(cls, model: Any, **kw: Any) -> "Constraint":
        """A JSON object that validates as the pydantic ``model`` (parse returns an instance)."""
        from . import json_schema
        from .edge import check_options

        return check_options(json_schema.from_pydantic, model, kw)

    @classmethod
    def from_lark(cls, grammar: str, start: str = "start", **kw: Any) -> "Constraint":
        """Text in the language of a Lark grammar."""
        from . import lark_grammar

        return lark_grammar.from_lark(grammar, start=start, **kw)

    @classmethod
    def sudoku(cls, puzzle: Any, size: int | None = None, **kw: Any) -> Any:
        """A solved grid of the Sudoku ``puzzle`` (``size`` inferred when ``None``)."""
        from . import sudoku

        return sudoku.sudoku_constraint(puzzle, size, **kw)

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


class RegexConstraint(Constraint):
    """The whole output matches ``pattern``; ``validators`` check what the pattern cannot.

    Parameters
    ----------
    pattern : str
        Rust regex syntax (outlines-core), full match.
    validators : iterable of Validator
        Semantic checks run on every candidate output.
    """

    dfa_builder = "outlines"  # subclasses whose patterns are in the portable dialect may say "native"

    def __init__(self, pattern: str, *, validators: Iterable[Validator] = ()):
        if not isinstance(pattern, str):
            raise SchemaError(f"a regex must be a str, got {type(pattern).__name__}")
        vals = tuple(validators)
        for v in vals:
            if not callable(getattr(v, "check", None)):
                raise InputError(f"validator {v!r} has no check(text) method")
        self._pattern = pattern
        self.validators = vals

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def key(self) -> str:
        h = hashlib.sha256(self._pattern.encode())
        for v in self.validators:
            h.update(b"\0" + _validator_key(v).encode())
        return f"{type(self).__name__}:{h.hexdigest()[:32]}"

    def __repr__(self) -> str:
        p = self._pattern if len(self._pattern) <= 60 else self._pattern[:57] + "..."
        return f"{type(self).__name__}({p!r}, validators={len(self.validators)})"

    def compile(self, tokenizer: Any, *, canvas_length: int, max_tokens: int) -> "CompiledRegex":
        """Byte DFA -> token classes (disk-cached), then check the budget.

        Raises
        ------
        SchemaError
            Invalid, empty or too large regex.
        UnsatisfiableError
            The shortest output needs more than ``max_tokens`` tokens.
        """
        from ..automata import compile_regex

        for name, v in (("max_tokens", max_tokens), ("canvas_length", canvas_length)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise InputError(f"{name} must be a positive int, got {v!r}")
        auto = compile_regex(self._pattern, tokenizer, builder=self.dfa_builder)
        need = int(auto.dist[0])
        if need > max_tokens:
            what = "no token sequence of this tokenizer spells a match" if need > 10**12 else \
                f"the shortest output needs {need} tokens"
            raise UnsatisfiableError(f"{what}, but max_tokens={max_tokens}: raise max_tokens or loosen "
                                     f"the constraint {self!r}")
        return CompiledRegex(self, tokenizer, auto, canvas_length, max_tokens)


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
        self._re = None

    @property
    def hook_class(self) -> type:
        from .hook import RegexHook

        return RegexHook

    def matches(self, text: str) -> bool:
        """Python ``re.fullmatch`` of the pattern, falling back to the automaton for Rust-only syntax."""
        if self._re is None:
            try:
                self._re = re.compile(self.constraint.pattern)
            except re.error:
                self._re = False
        if self._re is not False:
            return self._re.fullmatch(text) is not None
        ids = self.tokenizer.encode(text)
        s = self.automaton.run(ids)
        return s >= 0 and bool(self.automaton.accept[s])


def escape_literal(text: str) -> str:
    """Escape ``text`` as a literal in Rust regex syntax (ASCII punctuation and controls as ``\\x{..}``)."""
    out = []
    for ch in text:
        if ch.isascii() and not ch.isalnum():
            out.append(f"\\x{{{ord(ch):X}}}")
        else:
            out.append(ch)
    return "".join(out)
