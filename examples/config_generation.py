"""An INI config from a description, valid under the shipped ``ini`` grammar, with no duplicate keys.

    python examples/config_generation.py

``grammar`` guarantees the syntax; the ``IniDuplicateKeys`` validator flags repeated
sections and keys (a grammar cannot count), which are re-noised and denoised again.
Swap ``"ini"`` for ``"toml"`` and the validator for ``TomlDuplicateKeys`` for TOML.
Uses the default model (the small shipped one); pass ``model=`` for a real DiffusionGemma.
"""

import configparser
import time

import torch

from structdiff import grammars
import structdiff
from structdiff.constraints import Constraint
from structdiff.validators.config import IniDuplicateKeys

torch.set_num_threads(1)  # be polite on shared CPUs; remove for speed

description = "A web server config: a [server] section with host and port, a [log] section with level."
prompt = f"Write an INI file.\nDescription: {description}\nINI:\n"

# the shipped grammar accepts an empty file; a config we asked for has at least one line
grammar = grammars.load("ini").replace("start: _NL* (item _NL+)* [item]", "start: _NL* (item _NL+)+ [item]")
assert grammar != grammars.load("ini")
t = time.perf_counter()
gen = structdiff.Generator(None, Constraint.from_lark(grammar, validators=[IniDuplicateKeys()]),
                           max_tokens=96, max_passes=8)
try:
    result = gen(prompt, seed=0)
except structdiff.GenerationError as exc:
    print(f"no duplicate-free config: {exc.messages[0]}\nlast output:\n{exc.last_output}")
else:
    print(result.text)
    cfg = configparser.ConfigParser(strict=True, allow_no_value=True)
    try:  # the grammar allows keys before any [section], which configparser refuses
        cfg.read_string(result.text)
        print(f"configparser: {len(cfg.sections())} sections")
    except configparser.MissingSectionHeaderError:
        print("configparser: keys before the first [section] (valid for the grammar, not for configparser)")
    s = result.stats
    print(f"parses: yes · {s['passes']} passes · {s['repair_rounds']} repair rounds · "
          f"{time.perf_counter() - t:.1f} s (compile included)")
