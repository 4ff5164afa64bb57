"""``--watch``: the canvas redrawn every pass, so you can see the diffusion and the constraint work.

Accepted positions (kept this pass) are bold green; re-noised positions show the noise
token they now hold, dim red. Under the canvas: the pass's counts, its mean entropy,
its time, the constraint's allowed-set sizes when its hook reports them in
``PassRecord.extra["allowed"]`` (``[B, L]`` ints), the current best canvas as text, and a
progress bar over the passes of the run.

The view draws on stderr (stdout carries the result). When stdout or stderr is not a
terminal, or ``rich`` is not installed, it degrades to one plain line per pass.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from ..sampler.hooks import CanvasHook, PassRecord

__all__ = ["LiveCanvasView", "PlainCanvasView", "batch_progress", "extra_summary", "make_view", "plain_line",
           "token_label"]

_MAX_LABEL = 16
_ESCAPES = {"\n": "↵", "\r": "␍", "\t": "⇥"}


def token_label(tokenizer: Any, token_id: int) -> str:
    """A short printable label for one token: its text, ``⟨eos⟩``/``⟨pad⟩`` for special ones."""
    names = {tokenizer.eos_id: "⟨eos⟩", tokenizer.pad_id: "⟨pad⟩", tokenizer.bos_id: "⟨bos⟩"}
    if token_id in names:
        return names[token_id]
    tb = tokenizer.token_bytes
    raw = tb[token_id] if 0 <= token_id < len(tb) else None
    if raw is None:
        return f"⟨{token_id}⟩"
    text = raw.decode("utf-8", errors="replace")
    text = "".join(_ESCAPES.get(ch, ch if ch.isprintable() or ch == " " else "�") for ch in text)
    return text if len(text) <= _MAX_LABEL else text[:_MAX_LABEL - 1] + "…"


def _row(value: Any, row: int) -> Any:
    """``value[row]`` for per-row data (tensor/list with a batch axis), else ``value``."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list) and value and isinstance(value[0], list) and row < len(value):
        return value[row]
    return value


def extra_summary(extra: dict, row: int = 0) -> list[tuple[str, str]]:
    """(label, value) pairs for what a hook put in ``PassRecord.extra`` (allowed sizes, scalar facts)."""
    out = []
    for key, value in extra.items():
        v = _row(value, row)
        if key == "allowed" and isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
            forced = sum(1 for x in v if x == 1)
            out.append(("allowed-set sizes",
                        f"min {min(v):g} · median {statistics.median(v):g} · max {max(v):g} · forced {forced}"))
        elif isinstance(v, (int, float, str, bool)):
            out.append((key, f"{v:.4g}" if isinstance(v, float) else str(v)))
    return out


def _best_text(tokenizer: Any, best_row: list[int], limit: int = 160) -> str:
    eos = tokenizer.eos_id
    ids = best_row[:best_row.index(eos)] if eos in best_row else best_row
    text = tokenizer.decode(ids)
    text = "".join(_ESCAPES.get(ch, ch if ch.isprintable() or ch == " " else "�") for ch in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plain_line(tokenizer: Any, record: PassRecord, row: int = 0, max_passes: int | None = None,
               run: int = 0) -> str:
    """One line describing a pass of ``row`` (the non-terminal form of the view)."""
    acc = int(record.accepted[row].sum())
    ren = int(record.renoised[row].sum())
    L = record.canvas.shape[-1]
    h = float(record.entropy[row].float().mean())
    of = f"/{max_passes}" if max_passes else ""
    where = f"{'run ' + str(run) + ' ' if run > 0 else ''}block {record.block} pass {record.pass_index + 1}{of}"
    parts = [f"accepted {acc}/{L}", f"re-noised {ren}", f"mean entropy {h:.3f}", f"{record.seconds * 1000:.1f} ms"]
    parts += [f"{k} {v}" for k, v in extra_summary(record.extra, row)]
    best = _best_text(tokenizer, record.best[row].tolist(), limit=60)
    return f"{where}: " + " · ".join(parts) + f" | best: {best!r}"


class _View(CanvasHook):
    """Shared bookkeeping of both views (row shown, run counter, totals)."""

    def __init__(self, tokenizer: Any, *, max_passes: int, n_blocks: int = 1, row: int = 0):
        self.tokenizer = tokenizer
        self.max_passes = max_passes
        self.n_blocks = max(1, n_blocks)
        self.row = row
        self.run = -1
        self.passes = 0
        self.t0 = time.perf_counter()

    def _count(self, record: PassRecord) -> None:
        if record.block == 0 and record.pass_index == 0:
            self.run += 1
        self.passes += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Finish drawing."""


class PlainCanvasView(_View):
    """One line per pass on ``stream`` (stderr by default)."""

    def __init__(self, tokenizer: Any, *, max_passes: int, n_blocks: int = 1, row: int = 0,
                 stream: IO[str] | None = None):
        super().__init__(tokenizer, max_passes=max_passes, n_blocks=n_blocks, row=row)
        self.stream = stream or sys.stderr

    def observe(self, record: PassRecord) -> None:
        """Print the pass's line."""
        self._count(record)
        print(plain_line(self.tokenizer, record, self.row, self.max_passes, self.run), file=self.stream, flush=True)


class LiveCanvasView(_View):
    """The rich live view: canvas, per-pass stats and a progress bar, redrawn in place every pass.

    Parameters
    ----------
    tokenizer : Tokenizer
        To label tokens.
    max_passes, n_blocks : int
        The run's pass budget per block and its number of blocks (for the progress bar).
    console : rich.console.Console, optional
        Where to draw (default: a console on stderr).
    min_interval : float
        Seconds between redraws (the last pass is always drawn).
    """

    def __init__(self, tokenizer: Any, *, max_passes: int, n_blocks: int = 1, row: int = 0, console: Any = None,
                 min_interval: float = 0.05):
        from rich.console import Console
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        super().__init__(tokenizer, max_passes=max_passes, n_blocks=n_blocks, row=row)
        self.console = console or Console(stderr=True)
        self.min_interval = min_interval
        self.progress = Progress(TextColumn("[bold]passes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=self.console)
        self.task = self.progress.add_task("passes", total=self.max_passes * self.n_blocks)
        # results printed meanwhile go above the view on a terminal, straight to stdout when it is a pipe/file
        self.live = Live(console=self.console, auto_refresh=False, redirect_stdout=_stdout_is_terminal(),
                         redirect_stderr=False)
        self._last_draw = 0.0
        self._pending: PassRecord | None = None
        self.live.start()

    def render(self, record: PassRecord) -> Any:
        """The renderable of one pass (canvas panel, stats table, best text, progress)."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        r = self.row
        canvas, acc, ren = record.canvas[r].tolist(), record.accepted[r].tolist(), record.renoised[r].tolist()
        text = Text()
        specials = (self.tokenizer.pad_id, self.tokenizer.eos_id)
        i = 0
        while i < len(canvas):
            tid, style = canvas[i], "bold green" if acc[i] else ("dim red" if ren[i] else "grey50")
            j = i + 1
            if tid in specials:  # a run of pad/eos (the tail of a short output) is one label
                while j < len(canvas) and canvas[j] == tid and (acc[j], ren[j]) == (acc[i], ren[i]):
                    j += 1
            label = token_label(self.tokenizer, tid)
            text.append(label if j - i < 3 else f"{label}×{j - i}", style=style)
            text.append("▏", style="grey23")
            i = j if j - i >= 3 else i + 1
        title = (f"{'run ' + str(self.run) + ' · ' if self.run > 0 else ''}block {record.block + 1}/{self.n_blocks}"
                 f" · pass {record.pass_index + 1}/{self.max_passes}")
        legend = Text.assemble(("accepted", "bold green"), " · ", ("re-noised", "dim red"), " · ",
                               ("frozen (row done)", "grey50"))
        stats = Table.grid(padding=(0, 2))
        stats.add_column(style="bold")
        stats.add_column()
        L = len(canvas)
        stats.add_row("accepted", f"{sum(acc)}/{L}")
        stats.add_row("re-noised", str(sum(ren)))
        stats.add_row("mean entropy", f"{float(record.entropy[r].float().mean()):.3f}")
        stats.add_row("pass time", f"{record.seconds * 1000:.1f} ms")
        for k, v in extra_summary(record.extra, r):
            stats.add_row(k, v)
        best = Text.assemble(("best: ", "bold"), _best_text(self.tokenizer, record.best[r].tolist()))
        return Group(Panel(text, title=title, subtitle=legend), stats, best, self.progress)

    def observe(self, record: PassRecord) -> None:
        """Advance the progress bar and redraw (at most every ``min_interval`` seconds)."""
        self._count(record)
        done = min(self.max_passes * self.n_blocks, record.block * self.max_passes + record.pass_index + 1)
        self.progress.update(self.task, completed=done)
        self._pending = record
        now = time.perf_counter()
        if now - self._last_draw >= self.min_interval:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        if self._pending is not None:
            self.live.update(self.render(self._pending), refresh=True)
            self._pending = None

    def close(self) -> None:
        """Draw the last pass and leave the final frame on screen."""
        if self.live.is_started:
            self._draw()
            self.live.stop()


def _stdout_is_terminal() -> bool:
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def make_view(tokenizer: Any, *, max_passes: int, n_blocks: int = 1, stream: IO[str] | None = None) -> _View:
    """The live view when ``stream`` (stderr) and stdout are terminals and rich is installed, else plain lines.

    A piped stdout means a script or a file is reading: then a redrawn view would only be noise in logs.
    """
    stream = stream or sys.stderr
    is_tty = bool(getattr(stream, "isatty", lambda: False)()) and _stdout_is_terminal()
    if is_tty:
        try:
            from rich.console import Console
        except ImportError:
            print("structdiff: the live view needs rich (pip install 'structdiff[cli]'); printing lines instead",
                  file=stream)
        else:
            return LiveCanvasView(tokenizer, max_passes=max_passes, n_blocks=n_blocks, console=Console(file=stream))
    return PlainCanvasView(tokenizer, max_passes=max_passes, n_blocks=n_blocks, stream=stream)


@contextmanager
def batch_progress(total: int, *, enabled: bool = True, stream: IO[str] | None = None,
                   label: str = "prompts") -> Iterator[Callable[[], None]]:
    """A progress bar over ``total`` items on stderr (rich on a terminal, a line per item otherwise).

    Yields ``advance()``, to call once per finished item.
    """
    stream = stream or sys.stderr
    if not enabled:
        yield lambda: None
        return
    if bool(getattr(stream, "isatty", lambda: False)()):
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        except ImportError:
            pass
        else:
            progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=Console(file=stream), redirect_stdout=_stdout_is_terminal(),
                                redirect_stderr=False)
            task = progress.add_task(label, total=total)
            with progress:
                yield lambda: progress.advance(task)
            return
    done = [0]

    def advance() -> None:
        done[0] += 1
        print(f"structdiff: {done[0]}/{total} {label} done", file=stream, flush=True)

    yield advance
