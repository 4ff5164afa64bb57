"""Grammar constraints at V=262,144: compile time (cold, cache hit) and hook cost per pass vs the sampler step.

    python bench/bench_grammar.py

Per shipped grammar: the Lark -> regex translation, the byte DFA (raw -> minimal states),
the token automaton, then one pass of ``RegexHook`` (mask, joint sample + best path,
re-noise) on random logits ``[1, 256, V]``. Correctness first (the sampled and the best
canvas are accepted by the automaton), then warm-up, then timing; the baseline is the
unconstrained sampler step measured in the same run (``bench_hook.unconstrained_step``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hook import VOCAB, checked_hook_pass, timed, unconstrained_step

from structdiff import grammars
from structdiff.automata import automaton as automaton_mod
from structdiff.automata.regex_dfa import regex_to_byte_dfa
from structdiff.backend.tokenizer import Tokenizer
from structdiff.constraints import Constraint

L = 256


def compile_once(name: str, tok: Tokenizer):
    """(constraint, compiled, seconds) with the in-process memo cleared (the disk cache decides cold/hit)."""
    automaton_mod._MEMO.clear()
    t = time.perf_counter()
    c = Constraint.from_lark(name)
    comp = c.compile(tok, canvas_length=L, max_tokens=L)
    return c, comp, time.perf_counter() - t


def main() -> None:
    torch.set_num_threads(1)
    os.environ["STRUCTDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_grammar_")
    tok = Tokenizer.from_file(str(VOCAB))
    tok.token_bytes  # noqa: B018 - built once (~2 s), outside every timing
    V = tok.vocab_size
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, L, V, generator=g) * 3  # [1, L, V]
    base = timed(lambda: unconstrained_step(logits, g))
    print(f"V={V}, L={L}, one CPU thread; unconstrained sampler step {base:.3f} s")
    print("| grammar | depth | regex chars | raw DFA states | min DFA states | token classes | compile cold s "
          "| compile cache hit s | hook s/pass | ratio to step |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in grammars.names():
        c, comp, cold = compile_once(name, tok)
        _, _, hit = compile_once(name, tok)
        raw = regex_to_byte_dfa(c.pattern, 10**6)[0].shape[0]
        a = comp.automaton
        t = timed(checked_hook_pass(comp, logits, g, name), reps=2)
        print(f"| {name} | {c.depth} | {len(c.pattern)} | {raw} | {a.n_states - 1} | {a.n_classes} | {cold:.2f} "
              f"| {hit:.2f} | {t:.3f} | {t / base:.2f}x |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
