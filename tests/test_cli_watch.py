"""The ``--watch`` view (rich console capture and a real pseudo-terminal) and the ``--trace`` writer."""

from __future__ import annotations

import io
import os
import re
import sys

import pytest
import torch

from structdiff.cli.trace import TraceWriter, jsonable, read_trace
from structdiff.cli.watch import LiveCanvasView, PlainCanvasView, extra_summary, make_view, plain_line, token_label
from structdiff.errors import InputError
from structdiff.sampler.hooks import PassRecord

L = 12


@pytest.fixture(scope="module")
def tok():
    from structdiff.backend.tokenizer import build_tiny_tokenizer

    return build_tiny_tokenizer()


def record(tok, block=0, pass_index=0, n_accepted=3, extra=None) -> PassRecord:
    """A synthetic pass over a canvas spelling '{"a":1}' then noise, the first ``n_accepted`` positions kept."""
    ids = tok.encode('{"a":12}')
    canvas = torch.tensor([ids + [5] * (L - len(ids))])  # [1, L]
    accepted = torch.zeros(1, L, dtype=torch.bool)
    accepted[0, :n_accepted] = True
    best = torch.tensor([ids + [tok.eos_id] * (L - len(ids))])
    return PassRecord(block, pass_index, canvas, best, accepted, ~accepted, torch.full((1, L), 0.25),
                      torch.ones(1, dtype=torch.bool), 0.0123, extra or {})


def test_token_labels(tok):
    assert token_label(tok, tok.eos_id) == "⟨eos⟩" and token_label(tok, tok.pad_id) == "⟨pad⟩"
    nl = tok.encode("\n")[0]
    assert token_label(tok, nl) == "↵"
    assert token_label(tok, tok.encode("a")[0]) == "a"


def test_extra_summary_allowed_sizes_and_scalars():
    extra = {"allowed": torch.tensor([[1, 1, 4, 10], [2, 2, 2, 2]]), "conflicts": 3, "huge": {"x": 1}}
    summary = dict(extra_summary(extra, row=0))
    assert summary["allowed-set sizes"] == "min 1 · median 2.5 · max 10 · forced 2"
    assert summary["conflicts"] == "3" and "huge" not in summary
    assert dict(extra_summary(extra, row=1))["allowed-set sizes"].startswith("min 2 · median 2")


def test_plain_view_one_line_per_pass(tok):
    stream = io.StringIO()
    view = PlainCanvasView(tok, max_passes=8, stream=stream)
    view.observe(record(tok, 0, 0, 3, {"allowed": [[1] * L]}))
    view.observe(record(tok, 0, 1, 5))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"block 0 pass 1/8: accepted 3/{L} · re-noised {L - 3} · mean entropy 0.250 · 12.3 ms")
    assert "allowed-set sizes min 1" in lines[0]
    assert lines[1].endswith("""| best: '{"a":12}'""")
    assert plain_line(tok, record(tok), 0, None).startswith("block 0 pass 1: ")


class _FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_make_view_degrades_when_not_a_terminal(tok, monkeypatch):
    assert isinstance(make_view(tok, max_passes=4, stream=io.StringIO()), PlainCanvasView)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # stderr a terminal, stdout piped: plain lines
    assert isinstance(make_view(tok, max_passes=4, stream=_FakeTerminal()), PlainCanvasView)
    monkeypatch.setattr(sys, "stdout", _FakeTerminal())
    view = make_view(tok, max_passes=4, stream=_FakeTerminal())
    assert isinstance(view, LiveCanvasView)
    view.close()


def test_live_view_renders_canvas_stats_and_progress(tok):
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=100)
    view = LiveCanvasView(tok, max_passes=8, n_blocks=2, console=console, min_interval=0.0)
    with view:
        view.observe(record(tok, 0, 0, 2))
        view.observe(record(tok, 1, 3, 5, {"allowed": [[1, 2, 3] * 4]}))
    out = buf.getvalue()
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert "block 2/2 · pass 4/8" in plain and "block 1/2 · pass 1/8" in plain
    assert re.search(rf"accepted\s+5/{L}\s", plain) and re.search(rf"re-noised\s+{L - 5}\s", plain)
    assert "run " not in plain
    assert "allowed-set sizes  min 1 · median 2 · max 3 · forced 4" in plain
    assert 'best: {"a":12}' in plain
    assert "12/16" in plain  # progress: block 1 pass 4 of 2 x 8 passes
    # accepted tokens bold green, re-noised dim red (truecolor escapes), redrawn in place (cursor up)
    assert "\x1b[1;32m" in out and "\x1b[2;31m" in out and "\x1b[1A" in out
    assert not view.live.is_started
    # a run of pad/eos positions with the same state is drawn once, with its count
    rec = record(tok, 0, 0, 3)
    rec.canvas[0, 6:] = tok.pad_id
    assert "⟨pad⟩×6" in view.render(rec).renderables[0].renderable.plain


def test_trace_writer_round_trip(tok, tmp_path):
    path = tmp_path / "t.jsonl"
    w = TraceWriter(path, {"command": "regex", "seed": 7})
    w.observe(record(tok, 0, 0, 2, {"allowed": torch.tensor([[3] * L])}))
    w.observe(record(tok, 0, 1, 4))
    w.observe(record(tok, 0, 0, 1))  # a repair round restarts the sampler: run 1
    w.close({"kind": "result", "text": "x", "stats": {"passes": 3}})
    header, passes, end = read_trace(path)
    assert header == {"kind": "header", "format": 1, "command": "regex", "seed": 7}
    assert [(p["run"], p["pass"]) for p in passes] == [(0, 0), (0, 1), (1, 0)]
    assert passes[0]["accepted"] == [[1, 1] + [0] * (L - 2)] and passes[0]["renoised"][0][2] == 1
    assert passes[0]["extra"] == {"allowed": [[3] * L]} and passes[1]["seconds"] == 0.0123
    assert passes[0]["mean_entropy"] == [0.25] and end["stats"] == {"passes": 3}
    w.close()  # closing twice is harmless


def test_trace_errors(tmp_path):
    with pytest.raises(InputError, match="cannot write the trace file"):
        TraceWriter(tmp_path / "no" / "such" / "dir.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "pass"}\n')
    with pytest.raises(InputError, match="no header line"):
        read_trace(bad)
    bad.write_text("not json\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1: not JSON"):
        read_trace(bad)
    assert jsonable({"a": torch.tensor([1.5]), "b": float("nan"), "c": (1, object)})["b"] is None


@pytest.mark.tier1
def test_watch_in_a_real_terminal(tmp_path):
    """The CLI in a pty: the live view draws the canvas panel with colours and the result still prints."""
    import fcntl
    import pty
    import select
    import struct
    import subprocess
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 110, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "110", "OMP_NUM_THREADS": "1"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "structdiff.cli", "regex", "[0-9]{3}-[0-9]{4}", "a phone number",
                             "--model", "tiny-random", "--seed", "0", "--max-tokens", "16", "--max-passes", "4",
                             "--watch"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    out = b"".join(chunks).decode("utf-8", errors="replace")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert "block 1/1 · pass 4/4" in plain and "╭" in plain and "passes" in plain
    assert "\x1b[1;32m" in out  # accepted tokens in bold green
    assert re.search(r"^[0-9]{3}-[0-9]{4}\r?$", plain, re.MULTILINE)  # the result line
    assert "Traceback" not in plain
