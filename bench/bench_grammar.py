"""Grammar constraints at V=262,144: compile through the IR vs the regex-text path it replaced, same run.

    python bench/bench_grammar.py [--baseline REV] [--no-baseline] [--no-hook]

Per shipped grammar, cold (empty disk cache, fresh in-process memo): Lark parse -> IR
(``lark_unroll``) -> byte DFA by derivatives (``ir_dfa``) -> token automaton, then a cache
hit. The baseline is the same grammar compiled by the code at ``--baseline`` (default: the
last commit whose grammars went through regex text, ``lark_regex``/``lark_unroll`` text +
``regex_dfa``), extracted with ``git archive`` and run in a subprocess with the same
tokenizer. Correctness first: each automaton accepts the grammar's sample sentences, and
(unless ``--no-hook``) one ``RegexHook`` pass on random logits ``[1, 256, V]`` yields a
canvas the automaton accepts; the hook cost is shown against the unconstrained sampler step
measured in the same run (``bench_hook``). Failures are counted, not raised.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hook import VOCAB, checked_hook_pass, timed, unconstrained_step  # noqa: E402

from structdiff import grammars  # noqa: E402
from structdiff.automata import automaton as automaton_mod  # noqa: E402
from structdiff.automata import ir  # noqa: E402
from structdiff.backend.tokenizer import Tokenizer  # noqa: E402
from structdiff.constraints import Constraint, lark_grammar  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
L = 256
BASELINE = "15f82e2"  # main before the IR front-ends: grammars compiled through regex text
SAMPLES = {"arithmetic": "x * (y - 3.5)", "csv": "a,b\n1,2", "ini": "[s]\nk = v\n", "json": '{"a": [1, 2.5, true]}',
           "python_expr": "f(x, 1)['k'].y + [2]", "sql": "SELECT a, b FROM t WHERE a > 1 ORDER BY b DESC LIMIT 5;",
           "toml": 'a = 1\n[t]\nb = "x"\n', "yaml": "name: app\nports:\n  - 80\n"}

# runs inside the baseline tree: cold compile of every grammar, one JSON line per grammar
_BASELINE_SCRIPT = r"""
import json, os, sys, tempfile, time
os.environ["STRUCTDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_grammar_base_")
import grammars
from structdiff.automata import automaton
from structdiff.backend.tokenizer import Tokenizer
from structdiff.constraints import Constraint
tok = Tokenizer.from_file(sys.argv[1]); tok.token_bytes
for name in grammars.names():
    automaton._MEMO.clear()
    t = time.perf_counter()
    try:
        c = Constraint.from_lark(name)
        a = c.compile(tok, canvas_length=256, max_tokens=256).automaton
        row = dict(name=name, depth=c.depth, states=a.n_states - 1, classes=a.n_classes, cold=time.perf_counter() - t)
    except Exception as exc:
        row = dict(name=name, error=f"{type(exc).__name__}: {exc}"[:120])
    print(json.dumps(row), flush=True)
"""


def baseline(rev: str) -> dict:
    """{grammar: row} from the code at ``rev`` (empty when it cannot be run)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_grammar_tree_"))
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "structdiff", "grammars", "validators"],
                              check=True, capture_output=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"baseline {rev}: cannot extract ({exc}); skipped")
        return {}
    with tarfile.open(fileobj=__import__("io").BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
    env = dict(os.environ, PYTHONPATH=str(tmp))
    out = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT, str(VOCAB)], cwd=tmp, env=env,
                         capture_output=True, text=True)
    rows = {}
    for line in out.stdout.splitlines():
        row = json.loads(line)
        rows[row["name"]] = row
    if out.returncode != 0:
        print(f"baseline {rev}: exited {out.returncode}: {out.stderr.strip().splitlines()[-1:]}")
    return rows


def compile_once(name: str, tok: Tokenizer):
    """(constraint, compiled, seconds) with the in-process memo cleared (the disk cache decides cold/hit)."""
    automaton_mod._MEMO.clear()
    lark_grammar._AUTO_MEMO.clear()
    t = time.perf_counter()
    c = Constraint.from_lark(name)
    comp = c.compile(tok, canvas_length=L, max_tokens=L)
    return c, comp, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the regex-text path (default %(default)s)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-hook", action="store_true", help="skip the per-pass hook timing")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    base_rows = {} if args.no_baseline else baseline(args.baseline)
    os.environ["STRUCTDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_grammar_")
    tok = Tokenizer.from_file(str(VOCAB))
    tok.token_bytes  # noqa: B018 - built once (~2 s), outside every timing
    V = tok.vocab_size
    g = torch.Generator().manual_seed(0)
    logits = None if args.no_hook else torch.randn(1, L, V, generator=g) * 3  # [1, L, V]
    step = None if args.no_hook else timed(lambda: unconstrained_step(logits, g))
    print(f"V={V}, L={L}, one CPU thread, n=1 cold compile per grammar and path"
          + ("" if step is None else f"; unconstrained sampler step {step:.3f} s"))
    print("| grammar | depth (before -> IR) | IR nodes | min DFA states (before -> IR) | token classes "
          "(before -> IR) | compile cold s (before -> IR) | speed-up | cache hit s | hook s/pass |")
    print("|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for name in grammars.names():
        b = base_rows.get(name, {})
        try:
            c, comp, cold = compile_once(name, tok)
            _, _, hit = compile_once(name, tok)
            a = comp.automaton
            ok = c.accepts(SAMPLES[name]) if name in SAMPLES else True
            hook = "-"
            if logits is not None:
                t = timed(checked_hook_pass(comp, logits, g, name), reps=2)
                hook = f"{t:.3f} ({t / step:.2f}x)"
            if not ok:
                failures += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown, the table goes on
            failures += 1
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc)[:80]} |||||||||")
            continue
        before = "error" if "error" in b else b.get("cold")
        speed = f"{before / cold:.1f}x" if isinstance(before, float) else "-"
        def fmt(k: str, spec: str = "{}", b=b) -> str:
            return spec.format(b[k]) if k in b else "?"

        print(f"| {name} | {fmt('depth')} -> {c.depth} | {ir.dag_size(c.node)} | {fmt('states')} -> "
              f"{a.n_states - 1} | {fmt('classes')} -> {a.n_classes} | {fmt('cold', '{:.2f}')} -> {cold:.2f} | "
              f"{speed} | {hit:.2f} | {hook} |" + ("" if ok else " SAMPLE REJECTED"))
        sys.stdout.flush()
    print(f"\nfailures: {failures} of {len(grammars.names())} grammars")


if __name__ == "__main__":
    main()
