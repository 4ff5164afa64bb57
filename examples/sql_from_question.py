"""A SQL SELECT for a question, against a given table schema: grammar + schema validator.

    python examples/sql_from_question.py

The shipped ``sql`` grammar makes every output a syntactically valid SELECT. Two more
layers tie it to *this* database: the grammar's NAME terminal is narrowed to the schema's
table and column names (so the automaton can only spell known identifiers), and the
``SqlSchema`` validator checks what a grammar cannot see (a column used with the wrong
table); its violations are re-noised and denoised again.
Uses the default model (the small shipped one); pass ``model=`` for a real DiffusionGemma.
"""

import re
import time

import torch
from lark import Lark

from structdiff import grammars
import structdiff
from structdiff.constraints import Constraint
from structdiff.validators.sql import SqlSchema

torch.set_num_threads(1)  # be polite on shared CPUs; remove for speed

schema = {"employees": ["id", "name", "department", "salary", "hired"]}
question = "Which employees in the sales department earn more than 50000? Show name and salary."

names = sorted({*schema, *(c for cols in schema.values() for c in cols)})
name_terminal = "NAME: " + " | ".join(f'"{n}"' for n in names)
grammar = re.sub(r"^NAME: .*$", name_terminal, grammars.load("sql"), flags=re.MULTILINE)
constraint = Constraint.from_lark(grammar, validators=[SqlSchema(schema)])

prompt = (f"Table employees({', '.join(schema['employees'])}).\nQuestion: {question}\n"
          "Answer with one SQL query.\nSQL:")
t = time.perf_counter()
gen = structdiff.Generator(None, constraint, max_tokens=64, max_passes=8)
try:
    result = gen(prompt, seed=0)
except structdiff.GenerationError as exc:  # validators still unhappy after the repair rounds
    print(f"no schema-consistent query: {exc.messages[0]}\nlast output: {exc.last_output}")
else:
    Lark(grammar).parse(result.text)  # never fails: the output parses by construction
    assert SqlSchema(schema).check(result.text) == []
    s = result.stats
    print(result.text)
    print(f"parses: yes · schema: ok · {s['passes']} passes · {s['repair_rounds']} repair rounds · "
          f"{time.perf_counter() - t:.1f} s (compile included)")
