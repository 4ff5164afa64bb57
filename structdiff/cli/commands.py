"""The subcommands: json, grammar, regex, sudoku, bench, info.

Each takes the parsed arguments and returns an exit code. Results go to stdout;
diagnostics (stats, the live view, notes) go to stderr.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["cmd_bench", "cmd_grammar", "cmd_info", "cmd_json", "cmd_regex", "cmd_sudoku", "load_cli_model"]


def note(msg: str) -> None:
    """A diagnostic line on stderr."""
    print(f"structdiff: {msg}", file=sys.stderr, flush=True)


_MODELS: dict[tuple, Any] = {}  # (model, device, dtype) -> DiffusionModel: main() called again reuses it


def load_cli_model(args) -> Any:
    """``--model/--device/--dtype`` -> a loaded ``DiffusionModel`` (loaded once per process)."""
    from ..backend import load_model

    t = time.perf_counter()
    key = (args.model, args.device, args.dtype)
    if key not in _MODELS:
        _MODELS[key] = load_model(args.model, device=args.device, dtype=args.dtype)
    dm = _MODELS[key]
    if not args.quiet:
        note(f"model {dm.name} on {dm.device} (canvas {dm.canvas_length}, vocabulary {dm.vocab_size}) "
             f"loaded in {time.perf_counter() - t:.1f} s")
    return dm


def _seed(args) -> int:
    """The run's seed: ``--seed`` or a fresh one (reported, so any run can be replayed)."""
    return args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)


def check_run_options(args, n_prompts: int = 1) -> None:
    """``--seed/--max-tokens/--max-passes/--repair-rounds/--trace`` checked before the model loads."""
    from ..limits import LIMITS, SEED_BOUND, check_int

    if args.seed is not None and not 0 <= args.seed <= SEED_BOUND - n_prompts:
        raise InputError(f"--seed must be in 0 .. 2**64-{n_prompts} (prompt i uses SEED+i), got {args.seed}")
    check_int("--max-tokens", args.max_tokens, 1, LIMITS["max_tokens"])
    if args.max_passes is not None:
        check_int("--max-passes", args.max_passes, 1, LIMITS["max_passes"])
    rounds = getattr(args, "repair_rounds", 0)
    if not 0 <= rounds <= LIMITS["max_repair_rounds"]:
        raise InputError(f"--repair-rounds must be in 0 .. {LIMITS['max_repair_rounds']}, got {rounds}")
    if args.trace:
        from .trace import check_trace_path

        check_trace_path(args.trace)


class _Observers:
    """The observer hooks a command asked for (``--watch``, ``--trace``) and their closing."""

    def __init__(self, hooks: list, trace: Any):
        self.hooks = hooks
        self.trace = trace
        self.result: dict | None = None


@contextmanager
def observing(args, dm, *, max_passes: int, n_blocks: int, header: dict) -> Iterator[_Observers]:
    """Build the live view and/or trace writer; close them (trace: result or error line) at the end."""
    from .trace import TraceWriter
    from .watch import make_view

    hooks, trace, view = [], None, None
    if args.trace:
        trace = TraceWriter(args.trace, {**header, "model": dm.name, "canvas_length": dm.canvas_length,
                                         "vocab_size": dm.vocab_size, "max_passes": max_passes,
                                         "n_blocks": n_blocks})
        hooks.append(trace)
    if args.watch:
        view = make_view(dm.tokenizer, max_passes=max_passes, n_blocks=n_blocks)
        hooks.append(view)
    obs = _Observers(hooks, trace)
    try:
        yield obs
    except BaseException as e:
        if view is not None:
            view.close()
        if trace is not None:
            trace.close({"kind": "error", "type": type(e).__name__, "message": str(e)})
        raise
    if view is not None:
        view.close()
    if trace is not None:
        trace.close(obs.result)
        if not args.quiet:
            note(f"trace of {trace.passes} passes written to {args.trace}")


def _stats_line(stats: dict, seed: int) -> str:
    keys = [("passes", "passes"), ("tokens", "tokens"), ("tokens_per_pass", "tokens/pass"),
            ("repair_rounds", "repair rounds"), ("seconds", "s")]
    parts = []
    for k, label in keys:
        if k in stats:
            v = stats[k]
            parts.append(f"{v:.2f} {label}" if isinstance(v, float) else f"{v} {label}")
    return " · ".join(parts + [f"seed {seed}"])


def read_prompts(args) -> list[str]:
    """``PROMPT`` or the lines of ``--prompts FILE`` (blank lines skipped)."""
    if args.prompts is None:
        if args.prompt is None:
            raise InputError("give a PROMPT, or --prompts FILE with one prompt per line")
        return [args.prompt]
    if args.prompt is not None:
        raise InputError("give either a PROMPT or --prompts FILE, not both")
    if args.prompts == "-":
        text = sys.stdin.read()
    else:
        from .inputs import read_text

        text = read_text(Path(args.prompts), "the prompts file")
    prompts = [line for line in text.splitlines() if line.strip()]
    if not prompts:
        raise InputError(f"no prompts in {args.prompts!r}: write one prompt per line")
    from ..constraints.edge import check_text

    for i, p in enumerate(prompts):
        check_text(p, f"prompt {i + 1} of {args.prompts!r}")
    return prompts


def _run_constraint(args, constraint: Any, command: str, to_stdout) -> int:
    """Compile ``constraint``, generate for each prompt, print ``to_stdout(result)`` (one line each)."""
    prompts = read_prompts(args)
    check_run_options(args, len(prompts))
    from ..api import Generator
    from ..sampler import SamplerConfig
    from .watch import batch_progress

    dm = load_cli_model(args)
    seed = _seed(args)
    max_passes = args.max_passes or SamplerConfig.max_passes
    n_blocks = math.ceil(args.max_tokens / dm.canvas_length)
    options = {"max_passes": max_passes} if args.max_passes else {}
    header = {"command": command, "prompts": prompts, "seed": seed, "max_tokens": args.max_tokens}
    t = time.perf_counter()
    with observing(args, dm, max_passes=max_passes, n_blocks=n_blocks, header=header) as obs:
        gen = Generator(dm, constraint, max_tokens=args.max_tokens, max_repair_rounds=args.repair_rounds,
                        observers=obs.hooks, **options)
        if not args.quiet:
            note(f"constraint compiled in {time.perf_counter() - t:.2f} s")
        results = []
        batch = len(prompts) > 1
        with batch_progress(len(prompts), enabled=batch and not args.watch and not args.quiet) as advance:
            for i, prompt in enumerate(prompts):
                result = gen(prompt, seed=seed + i)
                results.append(result)
                if batch:  # one line per prompt, as soon as it is done
                    print(json.dumps(result.text, ensure_ascii=False) if args.raw else to_stdout(result), flush=True)
                advance()
        obs.result = {"kind": "result", "text": results[0].text if len(results) == 1 else [r.text for r in results],
                      "stats": results[0].stats if len(results) == 1 else [r.stats for r in results]}
    if not batch:  # after the live view's last frame
        print(results[0].text if args.raw else to_stdout(results[0]), end="" if args.raw else "\n", flush=True)
    if not args.quiet:
        for i, r in enumerate(results):
            note(("" if len(results) == 1 else f"[{i + 1}] ") + _stats_line(r.stats, seed + i))
    return 0


def _json_out(result) -> str:
    value = result.value
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return dump()
    return json.dumps(value, ensure_ascii=False)


def cmd_json(args) -> int:
    """``structdiff json SCHEMA PROMPT``: a JSON value valid under a schema file / inline schema / pydantic class."""
    from ..constraints import Constraint
    from .inputs import load_schema

    schema, kind = load_schema(args.schema)
    kw = {"whitespace": args.whitespace}
    constraint = Constraint.from_pydantic(schema, **kw) if kind == "pydantic" else \
        Constraint.from_json_schema(schema, **kw)
    return _run_constraint(args, constraint, "json", _json_out)


def cmd_grammar(args) -> int:
    """``structdiff grammar NAME_OR_FILE PROMPT``: text in a Lark grammar's language."""
    from ..constraints import Constraint
    from .inputs import resolve_grammar

    constraint = Constraint.from_lark(resolve_grammar(args.grammar), start=args.start)
    return _run_constraint(args, constraint, "grammar", lambda r: r.text)


def cmd_regex(args) -> int:
    """``structdiff regex PATTERN PROMPT``: text whose whole matches the pattern."""
    from ..constraints import Constraint

    constraint = Constraint.from_regex(args.pattern)
    precheck_regex(args.pattern)
    return _run_constraint(args, constraint, "regex", lambda r: r.text)


def precheck_regex(pattern: str) -> None:
    """Syntax errors of a regex before the model loads (the byte DFA needs no tokenizer)."""
    from ..automata.regex_parse import parse_regex

    parse_regex(pattern)


def cmd_sudoku(args) -> int:
    """``structdiff sudoku PUZZLE``: the model fills the grid, propagation and the exact solver guide it."""
    from ..api import solve_sudoku
    from ..constraints.sudoku import sudoku_layout, validate_puzzle
    from ..sampler import SamplerConfig
    from .inputs import read_puzzle

    puzzle = read_puzzle(args.puzzle)
    grid, _ = validate_puzzle(puzzle, allow_multiple=args.allow_multiple)  # bad puzzles fail before the model loads
    check_run_options(args)
    dm = load_cli_model(args)
    seed = _seed(args)
    max_passes = args.max_passes or SamplerConfig.max_passes
    n_blocks = math.ceil((sudoku_layout(dm.tokenizer, len(grid)).length + 1) / dm.canvas_length)  # digits + EOS
    header = {"command": "sudoku", "puzzle": puzzle, "seed": seed}
    with observing(args, dm, max_passes=max_passes, n_blocks=n_blocks, header=header) as obs:
        res = solve_sudoku(puzzle, dm, seed=seed, max_passes=max_passes, allow_multiple=args.allow_multiple,
                           observers=obs.hooks)
        stats = {"passes": res.passes, "cells_by_model": res.cells_by_model,
                 "cells_by_propagation": res.cells_by_propagation, "cells_by_solver": res.cells_by_solver,
                 "solver_stepped_in": res.solver_stepped_in, "seconds": res.seconds}
        obs.result = {"kind": "result", "text": "".join(str(d) for row in res.grid for d in row), "stats": stats}
    if args.raw:
        print(obs.result["text"], flush=True)
    else:
        print("\n".join(" ".join(str(d) for d in row) for row in res.grid), flush=True)
    if not args.quiet:
        note(f"{res.passes} passes · cells by model/propagation/solver {res.cells_by_model}/"
             f"{res.cells_by_propagation}/{res.cells_by_solver} · solver stepped in: {res.solver_stepped_in} · "
             f"{res.seconds:.2f} s · seed {seed}")
    return 0


def find_bench_dir(cwd: Path | None = None) -> Path:
    """``bench/`` under the current directory (the benches live in the repository, not in the wheel)."""
    cwd = cwd or Path.cwd()
    d = cwd / "bench"
    if not d.is_dir() or not any(d.glob("bench_*.py")):
        raise InputError(f"no bench/bench_*.py under {cwd}: the benchmarks live in the structdiff source "
                         f"repository, not in the installed package; run `structdiff bench` from a clone's root")
    return d


def _select_benches(d: Path, names: list[str]) -> list[Path]:
    scripts = sorted(d.glob("bench_*.py"))
    if not names:
        return scripts
    by_name = {s.stem.removeprefix("bench_"): s for s in scripts}
    chosen = []
    for n in names:
        key = Path(n).stem.removeprefix("bench_")
        if key not in by_name:
            raise InputError(f"no benchmark {n!r}; available: {', '.join(by_name)}")
        chosen.append(by_name[key])
    return chosen


def cmd_bench(args) -> int:
    """``structdiff bench [NAME ...]``: run bench/bench_*.py scripts (their tables go to stdout)."""
    d = find_bench_dir()
    scripts = _select_benches(d, args.names)
    if args.list:
        for s in scripts:
            print(s.stem.removeprefix("bench_"))
        return 0
    failed = []
    live = sys.stdout.isatty() and sys.stderr.isatty()
    progress = None
    if live:
        try:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        except ImportError:
            live = False
        else:
            from rich.console import Console

            progress = Progress(TextColumn("[bold]bench[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(file=sys.stdout))
            task = progress.add_task("", total=len(scripts))
            progress.start()
    try:
        for i, script in enumerate(scripts, 1):
            rel = script.relative_to(d.parent)
            if progress is not None:
                progress.update(task, description=str(rel))
                proc = subprocess.Popen([sys.executable, str(script)], cwd=d.parent, stdout=subprocess.PIPE,
                                        text=True)
                for line in proc.stdout:
                    progress.console.print(line.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
                rc = proc.wait()
                progress.advance(task)
            else:
                note(f"[{i}/{len(scripts)}] {rel}")
                rc = subprocess.run([sys.executable, str(script)], cwd=d.parent, check=False).returncode
            if rc != 0:
                failed.append(f"{rel} (exit {rc})")
    finally:
        if progress is not None:
            progress.stop()
    if failed:
        note(f"{len(failed)} of {len(scripts)} benchmarks failed: {', '.join(failed)}")
        return 1
    return 0


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cmd_info(args) -> int:
    """``structdiff info``: the model, the device and the versions (``--json`` for a JSON object)."""
    import platform

    import torch

    from .. import grammars

    from .. import __version__
    from ..backend import default_model_path

    dm = load_cli_model(args)
    n_params = sum(p.numel() for p in dm.model.parameters())
    info = {
        "structdiff": __version__,
        "model": dm.name,
        "parameters": n_params,
        "canvas_length": dm.canvas_length,
        "vocab_size": dm.vocab_size,
        "max_context": getattr(dm, "max_context", None),
        "device": str(dm.device),
        "dtype": str(dm.embed_dtype).removeprefix("torch."),
        "shipped_model": str(default_model_path()) if default_model_path() else None,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "grammars": grammars.names(),
        "python": platform.python_version(),
        **{name: _version(name) for name in ("torch", "transformers", "tokenizers", "outlines-core", "pydantic",
                                             "lark", "rich", "hypothesis")},
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for k, v in info.items():
        shown = ", ".join(v) if isinstance(v, list) else ("-" if v is None else f"{v:,}" if isinstance(v, int) else v)
        print(f"{k:<{width}}  {shown}")
    return 0
