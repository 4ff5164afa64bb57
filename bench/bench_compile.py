"""Compile time and peak RSS: structdiff's token classes vs outlines-core's token-level Index (same vocab, pattern).

Each measurement runs in a fresh subprocess (peak RSS is per process); outlines-core gets a timeout.
V=32k is a byte-level BPE trained in the bench with `tokenizers`; V=262,144 is ../shared/data/vocab.
Regex rows compile the same pattern in both; JSON Schema rows compile the schema with structdiff's
defaults (compact, schema order: ``Constraint.from_json_schema(schema).compile``) and outlines-core's
``build_regex_from_schema`` + ``Index``. "+MB" is peak RSS above the process after the tokenizer loaded.

    python bench/bench_compile.py              # both vocabularies
    python bench/bench_compile.py --only 262k  # the real-size one
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
_ADDRESS = {"type": "object", "properties": {"street": {"type": "string", "maxLength": 60},
                                             "city": {"type": "string", "maxLength": 40},
                                             "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                                             "country": {"enum": ["DE", "FR", "US", "JP"]}},
            "required": ["street", "city", "country"]}
SCHEMAS = {
    "schema: user (email, nested address, string array, enum)": {
        "type": "object", "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "email": {"type": "string", "format": "email"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "address": _ADDRESS,
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 5},
            "role": {"enum": ["admin", "user", "guest"]},
            "active": {"type": "boolean"},
            "score": {"type": "number", "minimum": 0, "maximum": 100}},
        "required": ["name", "email", "age", "address"], "additionalProperties": False},
    "schema: order (array of nested objects, dates)": {
        "type": "object", "properties": {
            "id": {"type": "string", "format": "uuid"},
            "placed": {"type": "string", "format": "date-time"},
            "customer": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40},
                                                          "email": {"type": "string", "format": "email"},
                                                          "shipping": _ADDRESS}, "required": ["name", "email"]},
            "items": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
                "type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                                                 "qty": {"type": "integer", "minimum": 1, "maximum": 99},
                                                 "price": {"type": "number", "minimum": 0}},
                "required": ["sku", "qty"]}},
            "note": {"type": ["string", "null"], "maxLength": 200}},
        "required": ["id", "customer", "items"]},
}

CHILD = r'''
import json, resource, sys, time, os
which, vocab, pattern = sys.argv[1:4]
from structdiff.backend.tokenizer import Tokenizer
schema = json.loads(pattern[7:]) if pattern.startswith("schema:") else None
tok = Tokenizer.from_file(vocab)
tb = tok.token_bytes
base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
if which == "structdiff":
    os.environ["STRUCTDIFF_CACHE_DIR"] = sys.argv[4]
    from structdiff.constraints import Constraint
    make = (lambda: Constraint.from_json_schema(schema)) if schema is not None else \
        (lambda: Constraint.from_regex(pattern))
    c = make().compile(tok, canvas_length=256, max_tokens=256)
    first = time.perf_counter() - t
    from structdiff.automata import automaton
    automaton._MEMO.clear()
    t2 = time.perf_counter()
    make().compile(tok, canvas_length=256, max_tokens=256)
    hit = time.perf_counter() - t2
    info = dict(seconds=first, cache_hit=hit, classes=c.automaton.n_classes)
else:
    from outlines_core import Index, Vocabulary
    m = {}
    for i, b in enumerate(tb):
        if b is not None and i != tok.eos_id:
            m.setdefault(b, []).append(i)
    v = Vocabulary(tok.eos_id, m)
    if schema is not None:
        from outlines_core.json_schema import build_regex_from_schema
        pattern = build_regex_from_schema(json.dumps(schema))
    idx = Index(pattern, v)
    info = dict(seconds=time.perf_counter() - t, states=len(idx.get_transitions()))
info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
info["above_tok_mb"] = info["peak_mb"] - base_mb
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
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("32k", "262k"), default=None)
    args = ap.parse_args()
    items = list(PATTERNS.items()) + [(k, "schema:" + json.dumps(v)) for k, v in SCHEMAS.items()]
    with tempfile.TemporaryDirectory() as d:
        vocabs = []
        if args.only != "262k":
            v32 = Path(d) / "bpe_32k.json"
            build_32k(v32)
            vocabs.append(("32k", str(v32)))
        if args.only != "32k":
            vocabs.append(("262k", str(VOCAB)))
        print("| vocab | pattern | structdiff s | cache hit s | structdiff +MB | outlines-core s | outlines-core +MB "
              "| speed-up |")
        print("|---|---|---|---|---|---|---|---|")
        for vname, vpath in vocabs:
            for pname, pat in items:
                ours = run("structdiff", vpath, pat, 300)
                theirs = run("outlines", vpath, pat, 240)
                o_s = theirs.get("error") or f"{theirs['seconds']:.2f}"
                o_mb = "-" if "error" in theirs else f"{theirs['above_tok_mb']:.0f}"
                s_s = ours.get("error") or f"{ours['seconds']:.3f}"
                s_mb = "-" if "error" in ours else f"{ours['above_tok_mb']:.0f}"
                ratio = f"{theirs['seconds'] / ours['seconds']:.0f}x" if "error" not in ours and \
                    "error" not in theirs else ("> " + f"{240 / ours['seconds']:.0f}x" if "error" not in ours else "-")
                print(f"| {vname} | {pname} | {s_s} | {ours.get('cache_hit', float('nan')):.4f} | {s_mb} | "
                      f"{o_s} | {o_mb} | {ratio} |", flush=True)
    print("(+MB = peak RSS above the process once the tokenizer is loaded; n = 1 cold compile per cell, fresh process)")


if __name__ == "__main__":
    main()
