"""The validator contract: ``Violation`` (an offending span) and the ``Validator`` protocol.

It lives here, below the constraints, so that validators and constraints both import it
and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Validator", "Violation"]


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
