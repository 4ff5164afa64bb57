"""Choice constraints: the output is exactly one of a list of strings (a trie of literals in the IR)."""

from __future__ import annotations

from typing import Sequence

from ..automata import ir
from ..errors import InputError, clip
from .base import RegexConstraint

__all__ = ["ChoiceConstraint"]


class ChoiceConstraint(RegexConstraint):
    """Exactly one of ``options``; ``parse`` returns the chosen string.

    Parameters
    ----------
    options : sequence of str
        Non-empty list of distinct-or-not strings (duplicates are merged).
    """

    def __init__(self, options: Sequence[str]):
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise InputError("choices must be a list of strings, e.g. ['yes', 'no']")
        opts = tuple(dict.fromkeys(options))
        if not opts:
            raise InputError("choices is empty: give at least one option")
        bad = [o for o in opts if not isinstance(o, str)]
        if bad:
            raise InputError(f"every choice must be a str, got {type(bad[0]).__name__} {bad[0]!r}")
        for o in opts:
            try:
                o.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"choice {o!r} is not valid Unicode text (a lone surrogate)") from None
        self.options = opts
        super().__init__(node=ir.choices(opts), what=f"choices ({len(opts)} options)")

    def __repr__(self) -> str:
        shown = ", ".join(clip(repr(o), 40) for o in self.options[:5]) + (", ..." if len(self.options) > 5 else "")
        return f"ChoiceConstraint([{shown}])"
