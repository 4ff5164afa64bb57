"""Constraint objects: each compiles, for one tokenizer, into a CompiledConstraint the sampler calls every pass.

This package's ``__init__`` is the one place that knows every concrete constraint: it fills
``Constraint``'s table of named constructors, so ``base`` never imports the modules built on it.
JSON Schema and Sudoku load on first use (jsonschema/pydantic, torch).
"""

from typing import Any

from .base import CompiledConstraint, CompiledRegex, Constraint, RegexConstraint, Validator, Violation
from .lark_grammar import LarkConstraint, from_lark
from .regex import ChoiceConstraint

__all__ = ["Constraint", "CompiledConstraint", "CompiledRegex", "RegexConstraint", "ChoiceConstraint", "LarkConstraint",
           "Validator", "Violation"]


def _from_json_schema(schema: Any, **kw: Any) -> Constraint:
    from .json_schema import from_json_schema

    return from_json_schema(schema, **kw)


def _from_pydantic(model: Any, **kw: Any) -> Constraint:
    from .json_schema import from_pydantic

    return from_pydantic(model, **kw)


def _sudoku(puzzle: Any, size: Any = None, **kw: Any) -> Any:
    from .sudoku_solve import sudoku_constraint

    return sudoku_constraint(puzzle, size, **kw)


Constraint._named.update(choices=ChoiceConstraint, lark=from_lark, json_schema=_from_json_schema,
                         pydantic=_from_pydantic, sudoku=_sudoku)
