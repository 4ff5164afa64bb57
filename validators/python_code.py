"""Python source checked by the interpreter's own parser (``ast.parse`` / ``compile``)."""

from __future__ import annotations

import ast

from .base import Violation

__all__ = ["PythonSyntax"]


def _offset(text: str, line: int, col: int) -> int:
    """Character offset of 1-based ``line`` and 1-based ``col``."""
    lines = text.split("\n")
    line = max(1, min(line, len(lines)))
    return min(len(text), sum(len(x) + 1 for x in lines[:line - 1]) + max(0, col - 1))


class PythonSyntax:
    """Valid Python (``mode="exec"`` statements or ``"eval"`` one expression); the error position is the span.

    Parameters
    ----------
    mode : {"exec", "eval"}
        What the text must be.
    """

    def __init__(self, mode: str = "exec"):
        if mode not in ("exec", "eval"):
            raise ValueError(f"mode must be 'exec' or 'eval', got {mode!r}")
        self.mode = mode
        self.name = f"python-{mode}"

    def check(self, text: str) -> list[Violation]:
        """``[]`` when ``text`` compiles; else one violation from the error position to the end."""
        try:
            compile(ast.parse(text, mode=self.mode), "<output>", self.mode)
            return []
        except SyntaxError as exc:
            start = _offset(text, exc.lineno or 1, exc.offset or 1)
            start = min(start, max(len(text) - 1, 0))
            return [Violation(start, max(len(text), start + 1), f"Python: {exc.msg} (line {exc.lineno}, "
                                                                 f"column {exc.offset})")]
        except ValueError as exc:  # e.g. NUL bytes
            return [Violation(0, max(len(text), 1), f"Python: {exc}")]
