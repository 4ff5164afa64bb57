"""Compile time and peak RSS: structdiff's token classes vs outlines-core's token-level Index (same vocab, pattern).

Each measurement runs in a fresh subprocess (peak RSS is per process); outlines-core gets a timeout.
V=32k is a byte-level BPE trained in the bench with `tokenizers`; V=262,144 is ../shared/data/vocab.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

VOCAB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vocab" / "bpe_262144.json"
PATTERNS = {"regex": r"[a-z]+@[a-z]+\.(com|org|net)",
            "json-ish": r'\{"name": "[^"\\]{0,30}", "age": [0-9]{1,3}, "tags": \["[a-z]{1,10}"(, "[a-z]{1,10}"){0,4}\]\}'}

CHILD = r'''
import json, resource, sys, time, os
which, vocab, pattern = sys.argv[1:4]
from structdiff.backend.tokenizer import Tokenizer
tok = Tokenizer.from_file(vocab)
tb = tok.token_bytes
t = time.perf_counter()
if which == "structdiff":
    os.environ["STRUCTDIFF_CACHE_DIR"] = sys.argv[4]
    from structdiff.constraints import Constraint
    c = Constraint.from_regex(pattern).compile(tok, canvas_length=256, max_tokens=256)
    first = time.perf_counter() - t
    from structdiff.automata import automaton
    automaton._MEMO.clear()
    t2 = time.perf_counter()
    Constraint.from_regex(pattern).compile(tok, canvas_length=256, max_tokens=256)
    hit = time.perf_counter() - t2
    info = dict(seconds=first, cache_hit=hit, classes=c.automaton.n_classes)
else:
    from outlines_core import Index, Vocabulary
    m = {}
    for i, b in enumerate(tb):
        if b is not None and i != tok.eos_id:
            m.setdefault(b, []).append(i)
    v = Vocabulary(tok.eos_id, m)
    idx = Index(pattern, v)
    info = dict(seconds=time.perf_counter() - t, states=len(idx.get_transitions()))
info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(info))
'''


def run(which: str, vocab: str, pattern: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        try:
            r = subprocess.run([sys.executable, "-c", CHILD, which, vocab, pattern, d], capture_output=True,
                               text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timeout {timeout:.0f}s"}
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1][:60]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def build_32k(path: Path) -> None:
    from structdiff.backend.tokenizer import build_tiny_tokenizer, tiny_corpus

    build_tiny_tokenizer(32768, corpus=tiny_corpus(0, 60000)).save(str(path))


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        v32 = Path(d) / "bpe_32k.json"
        build_32k(v32)
        print("| vocab | pattern | structdiff s | cache hit s | structdiff MB | outlines-core s | outlines-core MB |")
        print("|---|---|---|---|---|---|---|")
        for vname, vpath in (("32k", str(v32)), ("262k", str(VOCAB))):
            for pname, pat in PATTERNS.items():
                ours = run("structdiff", vpath, pat, 300)
                theirs = run("outlines", vpath, pat, 240)
                o_s = theirs.get("error") or f"{theirs['seconds']:.2f}"
                o_mb = "-" if "error" in theirs else f"{theirs['peak_mb']:.0f}"
                print(f"| {vname} | {pname} | {ours.get('seconds', float('nan')):.3f} | "
                      f"{ours.get('cache_hit', float('nan')):.4f} | {ours.get('peak_mb', float('nan')):.0f} | "
                      f"{o_s} | {o_mb} |", flush=True)
    print("(MB = peak RSS of the whole process, including Python, torch-free imports and the tokenizer)")


if __name__ == "__main__":
    main()
