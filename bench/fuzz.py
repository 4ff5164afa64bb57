"""Fuzz campaign: thousands of hostile inputs through every entry point, each in a child process.

    python bench/fuzz.py                     # 400 inputs per entry point, deep sizes, + the issue-17 corpus
    python bench/fuzz.py -n 50 --size fast   # a quick look
    python bench/fuzz.py --only regex,lark --timeout 30 --mem-mb 3072

Inputs come from the Hypothesis strategies of ``tests/fuzzing.py`` (the same ones the CI fuzz
tier uses, at ``--size deep``: long literals, huge counted repeats, deep nesting, big enums) and
are judged by the same runners: a valid output (checked with ``re``/``jsonschema``/``lark``), a
clear error (a ``StructDiffError`` with a bounded message), an invalid output, another exception,
a hang (no answer within ``--timeout`` seconds: the child is killed), a memory blow-up (its RSS
passed ``--mem-mb``: killed) or a crash (the child died by a signal). The model loads once in
this process; children are forked from it, so a killed child costs a fork, not a model load.

The table prints, per entry point: inputs tried, each outcome's count, the peak RSS of any child
and the slowest input; then every input that ended in another exception, a hang, a memory
blow-up, a crash or an invalid output (cut to 160 characters), so each can be replayed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import select
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

OUTCOMES = ("valid", "error", "invalid", "other", "hang", "memory", "crash")


# -- the issue-17 corpus: the repros of the issue, each run once -----------------------------------------

def issue_corpus() -> dict:
    """Name -> a call (model -> result) for each repro listed in issue 17."""
    import structdiff as s
    from structdiff.constraints import Constraint as C

    K = {"canvas_length": 64, "max_tokens": 128}

    def comp(make):
        return lambda m: make().compile(m.tokenizer, **K)

    def nest(key, depth):
        schema = {"type": "integer"}
        for _ in range(depth):
            schema = {"type": "object", "properties": {"a": schema}} if key == "properties" else {key: [schema]}
        return schema

    g = {"max_tokens": 16, "max_passes": 2, "seed": 0}
    return {
        'regex "a"*20000': comp(lambda: C.from_regex("a" * 20000)),
        "regex [a-z]{100000}": comp(lambda: C.from_regex("[a-z]{100000}")),
        "lark terminal /a{100000}/": comp(lambda: C.from_lark("start: A\nA: /a{100000}/")),
        "json const of 3000 chars": lambda m: C.from_json_schema({"const": "x" * 3000}).compile(
            m.tokenizer, canvas_length=64, max_tokens=4000),
        "json enum of 100000": comp(lambda: C.from_json_schema({"enum": list(range(100000))})),
        "json {} any_depth=50": comp(lambda: C.from_json_schema({}, any_depth=50)),
        "max_passes=10**6": lambda m: s.generate_regex("[ab]", "x", m, max_tokens=8, max_passes=10**6),
        "stability_threshold=10**6": lambda m: s.generate_regex("[ab]", "x", m, max_tokens=8,
                                                                stability_threshold=10**6),
        "schema 100 deep properties": comp(lambda: C.from_json_schema(nest("properties", 100))),
        "schema 100 deep allOf": comp(lambda: C.from_json_schema(nest("allOf", 100))),
        "schema 100 deep anyOf": comp(lambda: C.from_json_schema(nest("anyOf", 100))),
        "schema text nested 1000": comp(lambda: C.from_json_schema("[" * 1000 + "]" * 1000)),
        "regex 1000 nested groups": comp(lambda: C.from_regex("(" * 1000 + "a" + ")" * 1000)),
        "lark depth=50": comp(lambda: C.from_lark("start: e\ne: \"(\" e \")\" | \"x\"", depth=50)),
        "anyOf [$ref #, integer] generate": lambda m: s.generate_json(
            {"anyOf": [{"$ref": "#"}, {"type": "integer"}]}, "x", m, **g),
        "surrogate in choice": comp(lambda: C.from_choices(["a\ud800"])),
        "surrogate in regex": comp(lambda: C.from_regex("a\ud800")),
        "surrogate in const (JSON text)": comp(lambda: C.from_json_schema('{"const": "\\ud800"}')),
        "surrogate in enum": comp(lambda: C.from_json_schema({"enum": ["\ud800"]})),
        "surrogate in key": comp(lambda: C.from_json_schema({"properties": {"\ud800": {}}, "required": ["\ud800"]})),
        "surrogate prompt": lambda m: s.generate_regex("[ab]", "x\ud800", m, max_tokens=8, max_passes=2),
        "maximum Infinity": comp(lambda: C.from_json_schema({"type": "integer", "maximum": float("inf")})),
        "regex a{99999999999999999999}": comp(lambda: C.from_regex("a{99999999999999999999}")),
        "minimum NaN": comp(lambda: C.from_json_schema({"type": "integer", "minimum": float("nan")})),
        "seed=2**64": lambda m: s.generate_regex("[ab]", "x", m, max_tokens=8, max_passes=2, seed=2**64),
        "prompt=None": lambda m: s.generate_regex("[ab]", None, m, max_tokens=8),
        "$schema: 5": comp(lambda: C.from_json_schema({"$schema": 5})),
        "dict prompt": lambda m: s.generate_regex("[ab]", {"a": 1}, m, max_tokens=8, max_passes=2),
        "resources=5": comp(lambda: C.from_json_schema({"$ref": "x.json"}, resources=5)),
        "max_nesting='x'": comp(lambda: C.from_json_schema({"type": "integer"}, max_nesting="x")),
        "observers=5": lambda m: s.Generator(m, C.from_regex("[ab]"), observers=5),
        "canvas_length=-5": lambda m: C.from_regex("[ab]").compile(m.tokenizer, canvas_length=-5, max_tokens=8),
        "lark one line of 256+ chars": comp(lambda: C.from_lark("start: " + " | ".join(f'"w{i}"' for i in range(60)))),
        "lark %declare": comp(lambda: C.from_lark("%declare FOO\nstart: FOO")),
        "lark missing %import": comp(lambda: C.from_lark("%import nothere.FOO\nstart: FOO")),
        "lark bad terminal regex": comp(lambda: C.from_lark("start: A\nA: /a(/")),
        "regex [0-9]{3}$": comp(lambda: C.from_regex("[0-9]{3}$")),
        "regex ^[0-9]{3}$": comp(lambda: C.from_regex("^[0-9]{3}$")),
        "number max 1e-300": comp(lambda: C.from_json_schema({"type": "number", "minimum": 0, "maximum": 1e-300})),
    }


def run_issue(name: str, model, generate: bool = True) -> str:
    """One repro; a clear error comes back with the head of its message (for the report)."""
    from fuzzing import _judge_error

    try:
        issue_corpus()[name](model)
    except Exception as e:  # noqa: BLE001 - judged: StructDiffError is fine, anything else re-raised
        return f"{_judge_error(e)} - {' '.join(str(e).split())[:110]}"
    return "valid"


# -- children: forked from this process (model loaded once), one input at a time ----------------------------

def _send(fd: int, obj) -> None:
    data = pickle.dumps(obj)
    os.write(fd, struct.pack("<I", len(data)) + data)


def _recv(fd: int):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    data = _read_exact(fd, struct.unpack("<I", head)[0])
    return None if data is None else pickle.loads(data)


def _read_exact(fd: int, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _vm(pid: int | str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child(model, runners: dict, jobs: list, rfd: int, wfd: int) -> None:  # pragma: no cover - in the fork
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    while True:
        index = _recv(rfd)
        if index is None:
            os._exit(0)
        entry, payload, gen = jobs[index]
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        t = time.perf_counter()
        try:
            outcome, detail = runners[entry](payload, model, gen), ""
        except AssertionError as e:
            outcome = "invalid" if type(e).__name__ == "InvalidOutput" else "other"
            detail = f"{type(e).__name__}: {str(e)[:300]}"
        except BaseException as e:  # noqa: BLE001 - counted: another exception
            tb = traceback.extract_tb(e.__traceback__)
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
            outcome, detail = "other", f"{type(e).__name__}: {str(e)[:200]}{where}"
        _send(wfd, (outcome, detail, _vm("self", "VmHWM"), time.perf_counter() - t))


class Worker:
    """A forked child that runs inputs; killed and replaced after a hang, a blow-up or a crash.

    The inputs (``jobs``) are in the child's memory from the fork on (no pickling of deep
    structures); the parent sends only their index.
    """

    def __init__(self, model, runners, jobs: list):
        self.model, self.runners, self.jobs = model, runners, jobs
        self.pid = None
        self.start()

    def start(self):
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(w1)
            os.close(r2)
            try:
                _child(self.model, self.runners, self.jobs, r1, w2)
            finally:
                os._exit(1)
        os.close(r1)
        os.close(w2)
        self.pid, self.wfd, self.rfd = pid, w1, r2

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.wfd)
        os.close(self.rfd)

    def run(self, job: int, timeout: float, mem_bytes: int):
        """(outcome, detail, peak bytes, seconds) of input number ``job``."""
        t = time.perf_counter()
        try:
            _send(self.wfd, job)
        except BrokenPipeError:
            self.kill()
            self.start()
            _send(self.wfd, job)
        peak = 0
        while True:
            ready, _, _ = select.select([self.rfd], [], [], 0.02)
            if ready:
                reply = _recv(self.rfd)
                if reply is not None:
                    return reply
                _, status = os.waitpid(self.pid, 0)
                os.close(self.wfd)
                os.close(self.rfd)
                self.start()
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                return "crash", f"child died ({'signal ' + str(sig) if sig else 'exit'})", peak, \
                    time.perf_counter() - t
            rss = _vm(self.pid, "VmRSS")
            peak = max(peak, rss)
            elapsed = time.perf_counter() - t
            if rss > mem_bytes or elapsed > timeout:
                self.kill()
                self.start()
                if rss > mem_bytes:
                    return "memory", f"RSS passed {mem_bytes >> 20} MiB", rss, elapsed
                return "hang", f"no answer in {timeout:.0f} s", peak, elapsed


# -- the campaign ---------------------------------------------------------------------------------------

def draw_inputs(strategy, n: int, seed: int) -> list:
    """``n`` examples of a Hypothesis strategy (generation only, reproducible by ``seed``)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    out: list = []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x):
        out.append(x)

    collect()
    return out[:n]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=400, help="inputs per entry point (default 400)")
    ap.add_argument("--size", choices=["fast", "deep"], default="deep")
    ap.add_argument("--only", default="", help="comma-separated entry points (default: all, plus issue17)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--mem-mb", type=int, default=2048, help="child RSS that counts as a memory blow-up")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    os.environ.setdefault("STRUCTDIFF_CACHE_DIR", tempfile.mkdtemp(prefix="structdiff-fuzz-"))
    import torch

    torch.set_num_threads(1)  # children are forked: keep the thread pool out of the parent
    from fuzzing import ENTRY_POINTS, pydantic_models

    import structdiff as s

    model = s.load_model("tiny-random", canvas_length=64, seed=0)
    pydantic_models()  # pydantic imported before forking
    runners = {name: run for name, (_, run, _) in ENTRY_POINTS.items()}
    runners["issue17"] = run_issue
    wanted = [x for x in args.only.split(",") if x] or [*ENTRY_POINTS, "issue17"]
    import random

    rng = random.Random(args.seed)
    counts: dict = defaultdict(Counter)
    peaks: dict = defaultdict(int)
    slowest: dict = defaultdict(lambda: (0.0, ""))
    errors: dict = defaultdict(Counter)
    bad: list = []
    issue_rows: list = []
    t0 = time.perf_counter()
    worker = None
    try:
        for entry in wanted:
            if entry == "issue17":
                jobs = [(name, True) for name in issue_corpus()]
            else:
                make, _, share = ENTRY_POINTS[entry]
                jobs = [(x, rng.random() < share) for x in draw_inputs(make(args.size), args.n, args.seed)]
            t_entry = time.perf_counter()
            if worker is not None:
                worker.kill()
            worker = Worker(model, runners, [(entry, payload, gen) for payload, gen in jobs])
            for index, (payload, gen) in enumerate(jobs):
                outcome, detail, peak, secs = worker.run(index, args.timeout, args.mem_mb << 20)
                full = outcome
                if outcome.startswith("error:"):
                    errors[entry][outcome[6:].split(" - ")[0]] += 1
                    outcome = "error"
                counts[entry][outcome] += 1
                peaks[entry] = max(peaks[entry], peak)
                if secs > slowest[entry][0]:
                    slowest[entry] = (secs, repr(payload)[:60])
                if entry == "issue17":
                    issue_rows.append((payload, outcome, full[6:] if outcome == "error" else detail))
                if outcome not in ("valid", "error"):
                    bad.append((entry, outcome, repr(payload)[:160], detail[:240]))
            print(f"# {entry}: {sum(counts[entry].values())} inputs in {time.perf_counter() - t_entry:.0f} s",
                  file=sys.stderr, flush=True)
    finally:
        if worker is not None:
            worker.kill()

    cols = ("inputs", "clear errors", "valid outputs", "invalid outputs", "other exceptions", "hangs",
            "memory", "crashes", "peak RSS MiB", "slowest s")
    print(f"fuzz campaign: size={args.size}, n={args.n} per entry point, timeout {args.timeout:.0f} s, "
          f"memory cap {args.mem_mb} MiB, seed {args.seed}, {time.perf_counter() - t0:.0f} s in all\n")
    print("| entry point | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    total = Counter()
    for entry in wanted:
        c = counts[entry]
        total.update(c)
        n = sum(c.values())
        print(f"| {entry} | {n} | {c['error']} | {c['valid']} | {c['invalid']} | {c['other']} | {c['hang']} | "
              f"{c['memory']} | {c['crash']} | {peaks[entry] / 2**20:.0f} | {slowest[entry][0]:.1f} |")
    n = sum(total.values())
    print(f"| **all** | {n} | {total['error']} | {total['valid']} | {total['invalid']} | {total['other']} | "
          f"{total['hang']} | {total['memory']} | {total['crash']} | {max(peaks.values(), default=0) / 2**20:.0f} | |")
    print("\nclear errors by class: " + "; ".join(
        f"{entry}: " + ", ".join(f"{k} {v}" for k, v in errors[entry].most_common()) for entry in wanted if errors[entry]))
    if issue_rows:
        print("\nissue-17 repros:\n\n| repro | outcome | error / detail |\n|---|---|---|")
        for name, outcome, detail in issue_rows:
            print(f"| {name} | {outcome} | {detail[:140].replace('|', '/')} |")
    if bad:
        print(f"\n{len(bad)} inputs ended in neither a valid output nor a clear error:")
        for entry, outcome, payload, detail in bad:
            print(f"- [{entry}] {outcome}: {payload} -> {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
