"""MaskBench acceptance over ../shared/data/jsonschema/maskbench_sample.jsonl: structdiff vs its peers, same run.

Each instance is serialised as MaskBench does (``json.dumps(data, ensure_ascii=False)``); an engine
must accept every valid instance and reject every invalid one, and a schema passes when all its
tests come out right. structdiff compiles with ``whitespace="flexible", extra_properties=True,
property_order="any", any_depth=8`` (JSON objects are unordered, and open values nest deep in real
documents; generation defaults to schema order and any_depth=2) and accepts a text when its
automaton matches it whole and its validators pass (``Constraint.accepts``). Its compile time is
the constructor (typed schema, IR, validator); ``accepts`` walks the IR's derivatives along each
text, so no whole DFA is built here (like llguidance's lazy lexer; the token automaton that
generation needs is timed by bench_compile). Peers, as MaskBench runs them: llguidance and
xgrammar (compliant mode: ``any_whitespace=True, strict_mode=False``) token by token on ../shared/data/vocab/bpe_262144.json
(accepted = every token consumed; MaskBench does not ask for the end of the value), outlines-core
through ``build_regex_from_schema`` with JSON whitespace, its ``Index`` walked byte by byte (a 256-byte
vocabulary: the same language as its token index, without the tens of seconds a 262k index costs).

Every engine runs in its own memory-capped child process; a schema over ``--timeout`` seconds
(compile plus tests) kills the child, counts a timeout and the next schema starts a fresh one.
Failures are counted, never raised. Peers need the ``[bench]`` extra (llguidance, xgrammar).

    python bench/bench_maskbench.py                       # all engines, all 207 schemas
    python bench/bench_maskbench.py --engines structdiff --limit 40
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsonschema" / "maskbench_sample.jsonl"
VOCAB = ROOT.parent / "shared" / "data" / "vocab" / "bpe_262144.json"
ENGINES = ("structdiff", "llguidance", "xgrammar", "outlines-core")

WORKER = r'''
import json, resource, sys, time, traceback
engine, data, vocab, mem = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
rows = [json.loads(l) for l in open(data, encoding="utf-8") if l.strip()]

def hf_tokenizer():
    from transformers import PreTrainedTokenizerFast
    return PreTrainedTokenizerFast(tokenizer_file=vocab, eos_token="<eos>", pad_token="<pad>", bos_token="<bos>")

if engine == "structdiff":
    from structdiff.constraints.json_schema import JsonSchemaConstraint
    from structdiff.errors import StructDiffError
    CLEAR = (StructDiffError,)
    def compile_(schema):
        return JsonSchemaConstraint(schema, whitespace="flexible", extra_properties=True, property_order="any",
                                    any_depth=8)
    def accept(c, text):
        return c.accepts(text)
elif engine == "llguidance":
    import llguidance, llguidance.hf
    tok = hf_tokenizer()
    llt = llguidance.hf.from_tokenizer(tok)
    CLEAR = ()
    def compile_(schema):
        m = llguidance.LLMatcher(llt, json.dumps({"grammars": [{"json_schema": schema}]}))
        if m.is_error():
            raise ValueError(m.get_error())
        return m
    def accept(m, text):
        m = m.deep_copy()
        for t in tok.encode(text, add_special_tokens=False):
            if not m.consume_token(t) or m.is_error():
                return False
        return True
elif engine == "xgrammar":
    import xgrammar as xgr
    tok = hf_tokenizer()
    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok))
    compiler = xgr.GrammarCompiler(info, max_threads=1)
    CLEAR = ()
    def compile_(schema):
        return compiler.compile_json_schema(json.dumps(schema), any_whitespace=True, strict_mode=False)
    def accept(g, text):
        m = xgr.GrammarMatcher(g)
        return all(m.accept_token(t) for t in tok.encode(text, add_special_tokens=False))
else:
    from outlines_core import Guide, Index, Vocabulary
    from outlines_core.json_schema import build_regex_from_schema
    vocab256 = Vocabulary(256, {bytes([b]).decode("latin-1"): [b] for b in range(256)})
    CLEAR = ()
    def compile_(schema):
        return Index(build_regex_from_schema(json.dumps(schema), whitespace_pattern=r"[ \t\n\r]*"), vocab256)
    def accept(index, text):
        g = Guide(index)
        for b in text.encode("utf-8"):
            if b not in g.get_tokens():
                return False
            g.advance(b)
        return g.is_finished()

WARM = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-z]+$", "format": "email"},
                                         "b": {"type": "array", "items": {"type": "number"}}}}
accept(compile_(WARM), '{"a": "x@y.z", "b": [1.5]}')  # imports and tables load here, not in the first schema
print("ready", flush=True)
for line in sys.stdin:
    i = int(line)
    row = rows[i]
    out = {"i": i}
    t0 = time.perf_counter()
    try:
        c = compile_(row["schema"])
        out["compile_s"] = time.perf_counter() - t0
        out["accepted"] = [bool(accept(c, json.dumps(t["data"], ensure_ascii=False))) for t in row["tests"]]
    except CLEAR as e:
        out["compile_s"] = time.perf_counter() - t0
        out["error"] = f"{type(e).__name__}: {e}"[:160]
    except MemoryError:
        out["crash"] = "MemoryError"
    except Exception as e:
        out["compile_s"] = time.perf_counter() - t0
        key = "error" if engine != "structdiff" else "crash"
        out[key] = f"{type(e).__name__}: {e}"[:160]
        if engine == "structdiff":
            traceback.print_exc(file=sys.stderr)
    print(json.dumps(out), flush=True)
'''


class Child:
    """One engine's worker process; restarted after a timeout or a death."""

    def __init__(self, engine: str, data: Path, mem_bytes: int):
        self.args = [sys.executable, "-c", WORKER, engine, str(data), str(VOCAB), str(mem_bytes)]
        self.p: subprocess.Popen | None = None

    def start(self, timeout: float) -> str | None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
        self.p = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr,
                                  text=True, env=env, cwd=ROOT)
        line = self._read(timeout)
        return None if line == "ready" else f"worker did not start ({line or 'no answer'})"

    def _read(self, timeout: float) -> str | None:
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            return None
        line = self.p.stdout.readline()
        return line.strip() if line else None

    def ask(self, i: int, timeout: float) -> dict:
        if self.p is None or self.p.poll() is not None:
            err = self.start(600)
            if err:
                self.stop()
                return {"i": i, "crash": err}
        self.p.stdin.write(f"{i}\n")
        self.p.stdin.flush()
        line = self._read(timeout)
        if line is None:
            dead = self.p.poll() is not None
            self.stop()
            return {"i": i, "crash": "worker died (memory cap?)"} if dead else {"i": i, "timeout": True}
        return json.loads(line)

    def stop(self) -> None:
        if self.p is not None:
            if self.p.poll() is None:
                self.p.kill()
            self.p.wait()
            self.p = None


def classify(row: dict, res: dict) -> str:
    """pass / reject-valid / false-accept / error / crash / timeout for one schema."""
    if res.get("timeout"):
        return "timeout"
    if "crash" in res:
        return "crash"
    if "error" in res:
        return "error"
    verdicts = list(zip((t["valid"] for t in row["tests"]), res["accepted"]))
    if any(acc and not valid for valid, acc in verdicts):
        return "false-accept"
    if any(valid and not acc for valid, acc in verdicts):
        return "reject-valid"
    return "pass"


def q(xs: list, p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))] if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0, help="first N schemas only (development)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per schema (compile + tests)")
    ap.add_argument("--mem-gb", type=float, default=4.0, help="address-space cap per engine process")
    ap.add_argument("--show", default="", help="print each failing schema id of this engine")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.limit:
        rows = rows[:args.limit]
    engines = [e for e in args.engines.split(",") if e]
    table, times, splits, false_acc, fails = {}, {}, {}, {}, defaultdict(list)
    for eng in engines:
        child = Child(eng, args.data, int(args.mem_gb * (1 << 30)))
        outcome: Counter = Counter()
        per_split: dict = defaultdict(Counter)
        t_all: list = []
        n_false = 0
        t0 = time.perf_counter()
        for i, row in enumerate(rows):
            res = child.ask(i, args.timeout)
            kind = classify(row, res)
            outcome[kind] += 1
            per_split[row["split"]][kind] += 1
            per_split[row["split"]]["n"] += 1
            if kind == "timeout":
                t_all.append(args.timeout)
            elif "compile_s" in res:
                t_all.append(res["compile_s"])
            if "accepted" in res:
                n_false += sum(1 for t, a in zip(row["tests"], res["accepted"]) if a and not t["valid"])
            if kind != "pass":
                fails[eng].append((row["id"], kind, res.get("error") or res.get("crash") or ""))
        child.stop()
        table[eng], times[eng], splits[eng], false_acc[eng] = outcome, t_all, per_split, n_false
        print(f"[{eng}: {time.perf_counter() - t0:.0f} s] {dict(outcome)} false accepts {n_false} "
              f"compile p50 {q(t_all, .5) * 1e3:.1f} ms p95 {q(t_all, .95) * 1e3:.1f} ms", file=sys.stderr, flush=True)
    n = len(rows)
    n_inst = sum(len(r["tests"]) for r in rows)
    print(f"MaskBench sample: n = {n} schemas, {n_inst} instances "
          f"({sum(t['valid'] for r in rows for t in r['tests'])} valid); timeout {args.timeout:.0f} s per schema\n")
    print("| engine | pass % | false accepts (instances) | rejects a valid one | clear errors | crashes | timeouts "
          "| compile p50 ms | compile p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for eng in engines:
        c = table[eng]
        print(f"| {eng} | {100 * c['pass'] / n:.1f} | {false_acc[eng]} | {c['reject-valid']} | {c['error']} | "
              f"{c['crash']} | {c['timeout']} | {q(times[eng], .5) * 1e3:.1f} | {q(times[eng], .95) * 1e3:.1f} |")
    print("\npass % per split (n):")
    all_splits = sorted({s for e in engines for s in splits[e]})
    print("| split | n | " + " | ".join(engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    for s in all_splits:
        ns = max(splits[e][s]["n"] for e in engines)
        cells = [f"{100 * splits[e][s]['pass'] / ns:.0f}" if ns else "-" for e in engines]
        print(f"| {s} | {ns} | " + " | ".join(cells) + " |")
    for eng in [e for e in args.show.split(",") if e]:
        print(f"\n{eng} failures:")
        for sid, kind, msg in fails[eng]:
            print(f"  {kind:<13} {sid}  {msg}")
    if "structdiff" in table:
        tt = times["structdiff"]
        print(f"\nstructdiff compile mean {statistics.mean(tt) * 1e3:.1f} ms over n = {len(tt)}" if tt else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
