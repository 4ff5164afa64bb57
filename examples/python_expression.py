"""A Python expression from a description: the ``python_expr`` grammar plus the PythonSyntax validator.

    python examples/python_expression.py

The grammar (its ``expr`` rule as the start: an expression, not a statement) makes the
output a well-formed expression of its subset (calls, attributes, operators, literals); ``PythonSyntax("eval")`` runs Python's own compiler on it and
flags what a grammar does not see (a keyword used as a name, ...), which is re-noised.
Uses the default model (the small shipped one); pass ``model=`` for a real DiffusionGemma.
"""

import ast
import time

import torch

import structdiff
from structdiff.constraints import Constraint
from structdiff.validators.python_code import PythonSyntax

torch.set_num_threads(1)  # be polite on shared CPUs; remove for speed

prompt = "Write a Python expression: the sum of the squares of x and y.\nExpression:"
t = time.perf_counter()
gen = structdiff.Generator(None, Constraint.from_lark("python_expr", start="expr", validators=[PythonSyntax("eval")]),
                           max_tokens=48, max_passes=8)
try:
    result = gen(prompt, seed=0)
except structdiff.GenerationError as exc:
    print(f"no valid Python after the repair rounds: {exc.messages[0]}\nlast output: {exc.last_output}")
else:
    print(result.text)
    ast.parse(result.text, mode="eval")  # never fails once the validator passed
    s = result.stats
    print(f"python: valid · {s['passes']} passes · {s['repair_rounds']} repair rounds · "
          f"{time.perf_counter() - t:.1f} s (compile included)")
