"""Constraint objects: each compiles, for one tokenizer, into a CompiledConstraint the sampler calls every pass."""

from .base import CompiledConstraint, CompiledRegex, Constraint, RegexConstraint, Validator, Violation
from .lark_grammar import LarkConstraint
from .regex import ChoiceConstraint

__all__ = ["Constraint", "CompiledConstraint", "CompiledRegex", "RegexConstraint", "ChoiceConstraint", "LarkConstraint",
           "Validator", "Violation"]
