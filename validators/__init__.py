"""Shipped validators: semantic checks a grammar or regex cannot express, naming offending spans.

A validator is any object with a ``name`` and ``check(text) -> list[Violation]``; pass
yours in ``validators=`` the same way. ``REGISTRY`` maps short names to the shipped classes.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["REGISTRY", "get", "PythonSyntax", "SqlSchema", "TomlDuplicateKeys", "IniDuplicateKeys"]

# name -> (module, class)
REGISTRY = {
    "python": ("structdiff.validators.python_code", "PythonSyntax"),
    "sql": ("structdiff.validators.sql", "SqlSchema"),
    "toml": ("structdiff.validators.config", "TomlDuplicateKeys"),
    "ini": ("structdiff.validators.config", "IniDuplicateKeys"),
}


def get(name: str, *args: Any, **kwargs: Any) -> Any:
    """Build the shipped validator ``name`` (``REGISTRY``) with the given arguments."""
    if name not in REGISTRY:
        raise KeyError(f"no shipped validator {name!r}; shipped: {', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name]
    return getattr(import_module(module), cls)(*args, **kwargs)


def __getattr__(name: str) -> Any:
    for module, cls in REGISTRY.values():
        if cls == name:
            return getattr(import_module(module), cls)
    raise AttributeError(f"module 'validators' has no attribute {name!r}")
