"""Plot tokens accepted per pass from a ``structdiff ... --trace out.jsonl`` recording.

    structdiff json examples/person.schema.json "Alice, 34" --trace out.jsonl
    python examples/plot_trace.py out.jsonl -o accepted.png      # needs: pip install 'structdiff[plot]'
    python examples/plot_trace.py out.jsonl --text               # the same numbers as a table, no matplotlib

Run without arguments, it records a short trace with the default model first, then plots it.
One line per row of the batch; dotted lines mark where a new canvas (block) or a repair round starts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def accepted_per_pass(passes: list[dict]) -> tuple[list[list[int]], list[int]]:
    """Per row: tokens accepted in each pass it was active; and the pass indices where a block/run starts."""
    n_rows = len(passes[0]["accepted"]) if passes else 0
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    starts = []
    for i, p in enumerate(passes):
        if p["pass"] == 0 and i > 0:
            starts.append(i)
        for b in range(n_rows):
            if p["active"][b]:
                rows[b].append(sum(p["accepted"][b]))
    return rows, starts


def record_demo_trace(path: Path) -> None:
    """A short generate run with the default model, traced to ``path`` (through the CLI's own writer)."""
    from structdiff.cli import main

    rc = main(["regex", r"[A-Z][a-z]{2,8} [0-9]{2}", "A name and an age:", "--seed", "0", "--max-tokens", "16",
               "--trace", str(path), "-q"])
    if rc != 0:
        sys.exit(rc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", nargs="?", help="a .jsonl trace (default: record a short one first)")
    parser.add_argument("-o", "--out", default="accepted_per_pass.png", help="image file to write")
    parser.add_argument("--text", action="store_true", help="print a table instead of plotting")
    args = parser.parse_args(argv)

    from structdiff.cli.trace import read_trace
    from structdiff.errors import InputError

    path = Path(args.trace) if args.trace else Path(tempfile.mkdtemp()) / "trace.jsonl"
    if not args.trace:
        record_demo_trace(path)
    try:
        header, passes, _ = read_trace(path)
    except InputError as e:
        print(f"plot_trace.py: {e}", file=sys.stderr)
        return 2
    if not passes:
        print(f"plot_trace.py: {path} holds no passes", file=sys.stderr)
        return 2
    rows, starts = accepted_per_pass(passes)
    title = f"{header.get('command', '?')} on {header.get('model', '?')} (seed {header.get('seed', '?')})"

    if args.text:
        print(title)
        print("pass  " + "  ".join(f"row {b}" for b in range(len(rows))))
        for i in range(max(len(r) for r in rows)):
            print(f"{i:>4}  " + "  ".join(f"{r[i]:>5}" if i < len(r) else "     " for r in rows))
        return 0
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_trace.py needs matplotlib: pip install 'structdiff[plot]' (or use --text for a table)",
              file=sys.stderr)
        return 2
    fig, ax = plt.subplots(figsize=(8, 4))
    for b, counts in enumerate(rows):
        ax.plot(range(len(counts)), counts, marker=".", label=f"row {b}")
    for s in starts:
        ax.axvline(s, linestyle=":", color="grey")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("pass")
    ax.set_ylabel(f"tokens accepted (of {header.get('canvas_length', '?')})")
    ax.set_title(title, fontsize=9)
    if len(rows) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out} ({len(passes)} passes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
