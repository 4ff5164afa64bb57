"""Lark grammars shipped with structdiff, loadable by name (``grammar="sql"``).

>>> from structdiff import grammars
>>> grammars.names()
['arithmetic', 'csv', 'ini', 'json', 'python_expr', 'sql', 'toml', 'yaml']
>>> text = grammars.load("arithmetic")
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GRAMMAR_DIR", "names", "path", "load"]

GRAMMAR_DIR = Path(__file__).resolve().parent


def names() -> list[str]:
    """Names of the shipped grammars (file stems of ``grammars/*.lark``), sorted."""
    return sorted(p.stem for p in GRAMMAR_DIR.glob("*.lark"))


def path(name: str) -> Path:
    """The file of the shipped grammar ``name``.

    Raises
    ------
    KeyError
        No shipped grammar has that name (the message lists them).
    """
    p = GRAMMAR_DIR / f"{name}.lark"
    if not isinstance(name, str) or "/" in name or not p.is_file():
        raise KeyError(f"no shipped grammar named {name!r}; shipped: {', '.join(names())}")
    return p


def load(name: str) -> str:
    """The text of the shipped grammar ``name`` (see ``names()``)."""
    return path(name).read_text(encoding="utf-8")
