"""The one error hierarchy of structdiff.

Every failure a user can cause or meet is one of these. Messages say what was
wrong and what to do about it.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = [
    "StructDiffError",
    "SchemaError",
    "GrammarError",
    "UnsatisfiableError",
    "GenerationError",
    "BackendError",
    "InputError",
]


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
