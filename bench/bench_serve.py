"""`structdiff serve` under load: N concurrent clients vs the same requests one after another in one process.

Requests: JSON-schema chat requests (``response_format`` ``json_schema``) built from the shared
JSONSchemaBench sample (``../shared/data/jsonschema``), only schemas whose constraint compiles
within ``--compile-limit`` seconds and fits ``--max-tokens`` (the others are counted and left out).
Each request has its own seed; every configuration sends the same requests.

1. baseline: the requests run one after another in this process (``Generator`` per schema, same
   model, same sampler settings, same seeds);
2. the server (``structdiff serve`` in a child process on 127.0.0.1) with 1, 8 and 32 concurrent
   clients (the official ``openai`` client, one thread per client).

Every response is validated (jsonschema, formats checked); lost requests (no HTTP answer), 4xx,
5xx and invalid outputs are counted, never fatal. "same as baseline" counts responses whose text
equals the in-process output for the same seed (a request's output does not depend on its batch).

    python bench/bench_serve.py                       # tiny random model, 32 requests per configuration
    python bench/bench_serve.py --requests 16 --clients 1 8
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jsonschema" / "jsonschemabench_sample.jsonl"


def q(xs: list, p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


class _Slow(Exception):
    pass


def _alarm(signum, frame):
    raise _Slow


def pick_schemas(rows: list[dict], tok, canvas: int, max_tokens: int, want: int, limit: float):
    """Schemas (round robin over splits) whose constraint compiles within ``limit`` s and fits the budget."""
    from structdiff.constraints import Constraint
    from structdiff.errors import StructDiffError, UnsatisfiableError

    by_split: dict[str, list] = {}
    for r in rows:
        by_split.setdefault(r["split"], []).append(r)
    order = []
    while any(by_split.values()):
        for split in sorted(by_split):
            if by_split[split]:
                order.append(by_split[split].pop(0))
    counts: Counter = Counter()
    chosen = []
    signal.signal(signal.SIGALRM, _alarm)
    for r in order:
        if len(chosen) == want:
            break
        counts["tried"] += 1
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            c = Constraint.from_json_schema(r["schema"])
            c.compile(tok, canvas_length=canvas, max_tokens=max_tokens)
        except _Slow:
            counts[f"slower than {limit:g} s"] += 1
            continue
        except UnsatisfiableError:
            counts[f"needs more than {max_tokens} tokens"] += 1
            continue
        except StructDiffError:
            counts["not supported (clear error)"] += 1
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        counts["chosen"] += 1
        chosen.append((r, c, time.perf_counter() - t0))
    return chosen, counts


def validate(text: str, schema: dict) -> bool:
    import jsonschema

    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(value)


def prompt_of(row: dict) -> str:
    return f"Output a JSON value for the schema {row['id']}:"


def run_baseline(model, requests, args):
    """The requests one after another in this process: (latencies, texts, failures)."""
    from structdiff.api import Generator
    from structdiff.errors import StructDiffError

    gens = {}
    lat, texts, fails = [], [], Counter()
    for row, c, seed in requests:
        gen = gens.get(row["id"])
        if gen is None:
            gen = gens[row["id"]] = Generator(model, c, max_tokens=args.max_tokens, max_passes=args.max_passes,
                                              max_repair_rounds=args.repair_rounds)
        t0 = time.perf_counter()
        try:
            res = gen(prompt_of(row), seed=seed)
        except StructDiffError as e:
            fails[type(e).__name__] += 1
            texts.append(None)
            continue
        lat.append(time.perf_counter() - t0)
        texts.append(res.text)
        if not validate(res.text, row["schema"]):
            fails["invalid"] += 1
    return lat, texts, fails


def start_server(args, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "structdiff.cli", "serve", "--model", "tiny-random", "--port", str(port),
           "--max-batch", str(args.max_batch), "--max-passes", str(args.max_passes), "--repair-rounds",
           str(args.repair_rounds), "--log-level", "warning", "-q"]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 120:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not answer /health within 120 s")


def run_clients(base_url: str, requests, clients: int, args):
    """The requests from ``clients`` threads: (wall seconds, latencies, texts, counts)."""
    import openai

    counts: Counter = Counter()
    lat: list[float] = []
    texts: list[str | None] = [None] * len(requests)
    local = {}

    def client():
        import threading

        key = threading.get_ident()
        if key not in local:
            local[key] = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=600)
        return local[key]

    def one(i: int):
        row, _, seed = requests[i]
        t0 = time.perf_counter()
        try:
            r = client().chat.completions.create(
                model="tiny-random", messages=[{"role": "user", "content": prompt_of(row)}],
                max_tokens=args.max_tokens, seed=seed,
                response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": row["schema"]}})
        except openai.APIStatusError as e:
            return i, None, f"{e.status_code // 100}xx"
        except openai.APIConnectionError:
            return i, None, "lost"
        return i, (time.perf_counter() - t0, r.choices[0].message.content), None

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as ex:
        for i, ok, err in ex.map(one, range(len(requests))):
            if err:
                counts[err] += 1
                continue
            lat.append(ok[0])
            texts[i] = ok[1]
            if not validate(ok[1], requests[i][0]["schema"]):
                counts["invalid"] += 1
    return time.perf_counter() - t0, lat, texts, counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=32, help="requests per configuration")
    ap.add_argument("--schemas", type=int, default=16, help="distinct schemas the requests cycle through")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--max-passes", type=int, default=4)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--repair-rounds", type=int, default=3)
    ap.add_argument("--compile-limit", type=float, default=2.0, help="seconds a schema may take to compile")
    ap.add_argument("--threads", type=int, default=2, help="torch threads, here and in the server")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from structdiff.backend import load_model

    model = load_model("tiny-random")  # what `structdiff serve --model tiny-random` loads
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    chosen, counts = pick_schemas(rows, model.tokenizer, model.canvas_length, args.max_tokens, args.schemas,
                                  args.compile_limit)
    if not chosen:
        print("no schema compiled within the limits", counts)
        return 1
    requests = [(chosen[i % len(chosen)][0], chosen[i % len(chosen)][1], 1000 + i) for i in range(args.requests)]
    print(f"schemas: {dict(counts)}; compile p50 {q([t for *_, t in chosen], .5):.2f} s")
    print(f"{args.requests} requests over {len(chosen)} schemas, tiny random model (canvas {model.canvas_length}), "
          f"max_tokens {args.max_tokens}, {args.max_passes} passes per canvas, torch threads {args.threads}, "
          f"server --max-batch {args.max_batch}\n")

    hdr = (f"| {'configuration':<24} | {'n':>3} | {'req/s':>6} | {'vs seq':>6} | {'p50 s':>6} | {'p95 s':>6} | "
           f"{'lost':>4} | {'invalid':>7} | {'4xx':>3} | {'5xx':>3} | {'same as seq':>11} |")
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|", flush=True)
    n = len(requests)

    def line(name: str, wall: float, lat: list, fails: Counter, same: int, base_rps: float) -> None:
        rps = len(lat) / wall if wall else float("nan")
        print(f"| {name:<24} | {n:>3} | {rps:>6.2f} | {rps / base_rps:>5.2f}x | {q(lat, .5):>6.2f} | "
              f"{q(lat, .95):>6.2f} | {fails.get('lost', 0):>4} | {fails.get('invalid', 0):>7} | "
              f"{fails.get('4xx', 0) + sum(v for k, v in fails.items() if k.endswith('Error')):>3} | "
              f"{fails.get('5xx', 0):>3} | {same:>5}/{n:<5} |", flush=True)

    t0 = time.perf_counter()
    base_lat, base_texts, base_fail = run_baseline(model, requests, args)
    base_wall = time.perf_counter() - t0
    base_rps = len(base_lat) / base_wall
    line("sequential, in process", base_wall, base_lat, base_fail, sum(t is not None for t in base_texts), base_rps)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start_server(args, port)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        run_clients(url, requests[:2], 2, args)  # warm-up: imports, first compile in the server
        for c in args.clients:
            wall, lat, texts, fails = run_clients(url, requests, c, args)
            same = sum(1 for a, b in zip(texts, base_texts) if a is not None and a == b)
            line(f"server, {c} client{'s' if c > 1 else ''}", wall, lat, fails, same, base_rps)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    print("\nreq/s counts answered requests; p50/p95: seconds per request (client side for the server); "
          "4xx for the baseline: StructDiffErrors raised in process.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
