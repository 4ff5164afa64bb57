"""The one error hierarchy of structdiff.

Every failure a user can cause or meet is one of these. Messages say what was
wrong and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BackendError",
    "GenerationError",
    "GrammarError",
    "InputError",
    "SchemaError",
    "StructDiffError",
    "UnsatisfiableError",
    "ValidatorError",
    "clip",
]

MAX_QUOTE = 200  # characters of a rejected input or output quoted in a message


def clip(value: object, limit: int = MAX_QUOTE) -> str:
    """``repr``-style quote of ``value`` cut to ``limit`` characters (messages never quote whole inputs)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit - 30]}... ({len(text)} characters)"


class StructDiffError(Exception):
    """Root of all structdiff errors."""


class InputError(StructDiffError, ValueError):
    """A call argument is wrong (empty prompt, bad ``max_tokens``, bad seed, ...)."""


class SchemaError(StructDiffError, ValueError):
    """A JSON Schema, pydantic model or regex cannot be compiled.

    ``pointer`` is the JSON pointer (schemas) or character position (regexes) of the
    offending part, when known.
    """

    def __init__(self, message: str, *, pointer: str | int | None = None):
        super().__init__(message)
        self.pointer = pointer


class GrammarError(StructDiffError, ValueError):
    """A Lark grammar is malformed or cannot be used (``line``/``column`` when known)."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


class UnsatisfiableError(StructDiffError):
    """No output can satisfy the constraint (empty language, or it cannot fit the token budget)."""


class GenerationError(StructDiffError):
    """Generation ended without a valid output (e.g. repair rounds exhausted).

    Carries the last output text and the validator messages that rejected it.
    """

    def __init__(self, message: str, *, last_output: str | None = None, messages: Sequence[str] = ()):
        super().__init__(message)
        self.last_output = last_output
        self.messages = list(messages)


class BackendError(StructDiffError, RuntimeError):
    """Model or device problem: missing checkpoint, wrong architecture, unknown device, OOM."""

    def __init__(self, message: str, *, cause: Any = None):
        super().__init__(message)
        self.cause = cause


class ValidatorError(StructDiffError):
    """User validator code failed: it raised something other than its documented "reject" signal.

    A ``Validator.check`` rejects by returning ``Violation`` objects; a pydantic validator rejects by
    raising ``ValueError`` or ``AssertionError``. Anything else it raises (or returns) is the user's
    code failing, reported as this error; ``original`` is the exception it raised (also ``__cause__``).
    """

    def __init__(self, message: str, *, original: BaseException | None = None):
        super().__init__(message)
        self.original = original
