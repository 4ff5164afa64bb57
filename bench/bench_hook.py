"""Constraint hook per pass vs the unconstrained sampler step, L=256, V=262,144, CPU, one thread.

Correctness first (every joint sample and best canvas is valid), then warm-up, then timing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from structdiff.backend.tokenizer import Tokenizer
from structdiff.constraints import Constraint
from structdiff.constraints.hook import RegexHook
from structdiff.sampler.hooks import PassView
from structdiff.sampler.loop import entropy, entropy_bound_accept

VOCAB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vocab" / "bpe_262144.json"
PATTERNS = {"digits": r"[0-9]{1,12}", "json-ish": r'\{"name": "[a-zA-Z ]{1,20}", "age": [0-9]{1,3}\}',
            "free text": r"[^\n]{1,200}"}


def unconstrained_step(logits, g):
    probs = torch.softmax(logits, dim=-1)
    s = torch.multinomial(probs.view(-1, probs.shape[-1]), 1, generator=g)
    b = torch.argmax(logits, -1)
    ent = entropy(logits)
    acc = entropy_bound_accept(ent, 0.1)
    noise = torch.randint(0, logits.shape[-1], acc.shape, generator=g)
    return s, b, noise


def checked_hook_pass(comp, logits, g, name):
    """One constrained pass (marginals, joint sample + best path, re-noise) on ``logits`` [1, L, V],
    checked once for validity before it is returned for timing."""
    L = logits.shape[1]
    hook = RegexHook([comp])
    view = PassView(0, 0, 1, 1, torch.zeros(1, L, dtype=torch.long), torch.ones(1, dtype=torch.bool),
                    torch.zeros(1, dtype=torch.long), L, [[]])
    hook.begin_block(view)

    def one_pass():
        out = hook.process_logits(view, logits)
        s, b = hook.propose(view, out, None, g)
        hook.renoise(view, s, torch.ones(1, L, dtype=torch.bool), g)
        return s, b

    for row in one_pass():  # correctness before timing
        st = comp.automaton.run(row[0].tolist())
        assert st >= 0 and comp.automaton.accept[st], name
    return one_pass


def timed(fn, reps=3):
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def main() -> None:
    torch.set_num_threads(1)
    tok = Tokenizer.from_file(str(VOCAB))
    L, V = 256, tok.vocab_size
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, L, V, generator=g) * 3
    base = timed(lambda: unconstrained_step(logits, g))
    print(f"| pattern | classes | live tokens | hook s/pass | unconstrained step s | ratio |")
    print("|---|---|---|---|---|---|")
    for name, pat in PATTERNS.items():
        comp = Constraint.from_regex(pat).compile(tok, canvas_length=L, max_tokens=L)
        one_pass = checked_hook_pass(comp, logits, g, name)
        t = timed(one_pass)
        a = comp.automaton
        print(f"| {name} | {a.n_classes} | {a.members.size} | {t:.3f} | {base:.3f} | {t / base:.2f}x |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
