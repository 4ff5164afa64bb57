"""structdiff: structured output, valid by construction, for diffusion language models.

Importing this package is cheap: torch, transformers and the model load only when a
function that needs them is called.

>>> import structdiff
>>> structdiff.generate_json({"type": "object", "properties": {"name": {"type": "string"}}}, "Alice")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import (BackendError, GenerationError, GrammarError, InputError, SchemaError, StructDiffError,
                     UnsatisfiableError, ValidatorError)

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY = {
    "load_model": "structdiff.backend",
    "DiffusionModel": "structdiff.backend",
    "SamplerConfig": "structdiff.sampler",
    "CanvasHook": "structdiff.sampler",
    "Constraint": "structdiff.constraints",
    "CompiledConstraint": "structdiff.constraints",
    "RegexConstraint": "structdiff.constraints",
    "LarkConstraint": "structdiff.constraints",
    "Violation": "structdiff.constraints",
    "Validator": "structdiff.constraints",
    "Generator": "structdiff.api",
    "GenerationResult": "structdiff.api",
    "generate": "structdiff.api",
    "generate_regex": "structdiff.api",
    "choice": "structdiff.api",
    "generate_json": "structdiff.api",
    "solve_sudoku": "structdiff.api",
}

__all__ = ["StructDiffError", "SchemaError", "GrammarError", "UnsatisfiableError", "GenerationError",
           "BackendError", "InputError", "ValidatorError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'structdiff' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
