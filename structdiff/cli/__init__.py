"""The ``structdiff`` command line: ``structdiff json|grammar|regex|sudoku|bench|serve|info ...``.

Results go to stdout (JSON for ``json``), diagnostics to stderr. ``--watch`` draws the
canvas every pass, ``--trace out.jsonl`` records every pass. Bad input gives a one-line
error and a non-zero exit (2 for input, 1 for generation/model failures); ``--debug``
shows the traceback and debug logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

EXIT_FAILURE, EXIT_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def _printable(text: str) -> str:
    """``text`` with characters the terminal cannot take (surrogates from invalid UTF-8 argv) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors can quote invalid UTF-8 arguments without failing."""

    def _print_message(self, message, file=None):
        super()._print_message(_printable(message) if message else message, file)


def _common() -> argparse.ArgumentParser:
    """Options every generating subcommand takes (accepted before or after the positionals)."""
    p = _Parser(add_help=False)
    g = p.add_argument_group("model and sampling")
    g.add_argument("--model", default=None, help="model name or path: a local checkpoint folder, "
                   "google/diffusiongemma-26B-A4B-it, tiny-random (default: the shipped small model)")
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    g.add_argument("--dtype", default=None, help="e.g. bfloat16 for the real model on a GPU")
    g.add_argument("--seed", type=int, default=None, help="same seed, same output (default: a fresh one, reported)")
    g.add_argument("--max-tokens", type=int, default=256, help="token budget of the output (default 256)")
    g.add_argument("--max-passes", type=int, default=None, help="model passes per canvas (default 48)")
    g.add_argument("--repair-rounds", type=int, default=3, help="validator repair rounds before giving up")
    o = p.add_argument_group("output")
    o.add_argument("--raw", action="store_true", help="print the generated text exactly, nothing added")
    o.add_argument("--watch", action="store_true", help="draw the canvas every pass on stderr (live view on "
                   "a terminal, one line per pass otherwise)")
    o.add_argument("--trace", metavar="OUT.jsonl", default=None, help="record every pass as JSON lines")
    o.add_argument("-q", "--quiet", action="store_true", help="no diagnostics on stderr (errors still)")
    o.add_argument("--debug", action="store_true", help="debug logs and full tracebacks")
    return p


def _prompt_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt", metavar="PROMPT", nargs="?", help="what to ask (or --prompts FILE)")
    p.add_argument("--prompts", metavar="FILE", default=None, help="batch: one prompt per line ('-' for stdin); "
                   "one output line each (--raw: the text as a JSON string), seeds SEED, SEED+1, ...")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``structdiff``."""
    from .. import __version__

    parser = _Parser(
        prog="structdiff", description="Structured output, valid by construction, from diffusion language models.",
        epilog="Examples: structdiff json person.json 'Alice, 31' · structdiff grammar arithmetic 'two plus three' "
               "· structdiff regex '[0-9]{3}-[0-9]{4}' 'a phone number' · structdiff sudoku puzzle.txt --watch")
    parser.add_argument("--version", action="version", version=f"structdiff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = _common()
    from . import commands as c

    p = sub.add_parser("json", parents=[common], help="a JSON value valid under a JSON Schema or pydantic model",
                       description="Print a JSON value (one line) valid under SCHEMA.")
    p.add_argument("schema", metavar="SCHEMA", help="a JSON Schema file, inline JSON, or a pydantic module:Class")
    _prompt_arguments(p)
    p.add_argument("--whitespace", choices=["compact", "flexible"], default="compact",
                   help="JSON whitespace the model may write (default compact)")
    p.set_defaults(func=c.cmd_json)

    p = sub.add_parser("grammar", parents=[common], help="text in a Lark grammar's language",
                       description="Print text that parses with a Lark grammar.")
    p.add_argument("grammar", metavar="NAME_OR_FILE", help="a shipped grammar name (see `structdiff info`) "
                   "or a .lark file")
    _prompt_arguments(p)
    p.add_argument("--start", default="start", help="start rule (default start)")
    p.set_defaults(func=c.cmd_grammar)

    p = sub.add_parser("regex", parents=[common], help="text whose whole matches a regex",
                       description="Print text whose whole matches PATTERN (Rust regex syntax).")
    p.add_argument("pattern", metavar="PATTERN")
    _prompt_arguments(p)
    p.set_defaults(func=c.cmd_regex)

    p = sub.add_parser("sudoku", parents=[common], help="solve a Sudoku (9x9 or 4x4)",
                       description="Solve a Sudoku: the model proposes digits, propagation and an exact solver "
                                   "guide it. Prints the grid (--raw: one line of digits).")
    p.add_argument("puzzle", metavar="PUZZLE", help="81 or 16 cells (0 or . for blanks), or a file holding them")
    p.add_argument("--allow-multiple", action="store_true", help="accept puzzles with several solutions")
    p.set_defaults(func=c.cmd_sudoku)

    p = sub.add_parser("bench", help="run the benchmarks in ./bench (from a clone of the repository)",
                       description="Run bench/bench_*.py from the current directory; their tables go to stdout.")
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run, e.g. sampler (default: all)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--debug", action="store_true", help="full tracebacks")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=c.cmd_bench)

    from ..serve.command import add_arguments as serve_arguments
    from ..serve.command import cmd_serve

    p = sub.add_parser("serve", help="an OpenAI-compatible HTTP server (needs structdiff[serve])",
                       description="Serve the model over OpenAI's /v1/chat/completions and /v1/completions, "
                                   "with structured outputs, tool calls and streaming; concurrent requests "
                                   "share denoising passes.")
    serve_arguments(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", parents=[common], help="model, device and versions",
                       description="Load the model and print what structdiff runs on.")
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    p.set_defaults(func=c.cmd_info)
    return parser


def _error_line(exc: BaseException) -> str:
    from ..errors import clip

    msg = clip(" ".join(str(exc).split()), 600) or type(exc).__name__
    return _printable(f"structdiff: error: {msg}")


_TEXT_ARGS = ("prompt", "pattern", "schema", "grammar", "puzzle", "start")


def _check_utf8(args: argparse.Namespace) -> None:
    """Arguments that become text (not paths) must be valid UTF-8 (Python keeps bad bytes as surrogates)."""
    from ..errors import InputError

    for name in _TEXT_ARGS:
        value = getattr(args, name, None)
        if not isinstance(value, str):
            continue
        bad = next((i for i, ch in enumerate(value) if 0xD800 <= ord(ch) <= 0xDFFF), None)
        if bad is None:
            continue
        code = ord(value[bad])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        if name in ("schema", "grammar", "puzzle") and _exists(value):
            continue  # a file whose name is not UTF-8 is still a file
        raise InputError(f"{name.upper()} is not valid UTF-8 ({what} at character {bad}): pass UTF-8 text "
                         f"(check the terminal's locale, or put the text in a file)")


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="structdiff: %(levelname)s: %(message)s" if not debug else
                        "%(asctime)s %(name)s %(levelname)s: %(message)s")
    from ..errors import GrammarError, InputError, SchemaError, StructDiffError

    try:
        _check_utf8(args)
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("structdiff: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InputError, SchemaError, GrammarError) as e:
        if debug:
            raise
        print(_error_line(e), file=sys.stderr)
        return EXIT_INPUT
    except StructDiffError as e:
        if debug:
            raise
        print(_error_line(e), file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # e.g. `structdiff ... | head`
        return EXIT_FAILURE
    except Exception as e:
        if debug:
            raise
        print(f"{_error_line(e)} ({type(e).__name__}; run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE

