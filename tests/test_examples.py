"""Every examples/*.py runs (as a user would run it) and the Hypothesis sample application's tests pass."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = 300  # seconds per example, on a loaded CPU


def _env() -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    env.pop("STRUCTDIFF_MODEL", None)
    return env


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def test_the_examples_are_there():
    names = {p.name for p in EXAMPLES}
    assert {"quickstart.py", "pydantic_extraction.py", "plot_trace.py"} <= names
    assert (ROOT / "examples" / "hypothesis_app" / "test_invoice.py").is_file()


@pytest.mark.tier1
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    proc = _run([str(script)], tmp_path)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert proc.stdout.strip(), f"{script.name} printed nothing"
    assert "Traceback" not in proc.stderr


@pytest.mark.tier1
def test_hypothesis_app_tests_pass(tmp_path):
    proc = _run(["-m", "pytest", str(ROOT / "examples" / "hypothesis_app"), "-o", "addopts=", "-q", "-p",
                 "no:cacheprovider", "--rootdir", str(ROOT / "examples" / "hypothesis_app")], tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout


def _synthetic_trace(path: Path) -> None:
    from structdiff.cli.trace import TraceWriter
    from structdiff.sampler.hooks import PassRecord

    w = TraceWriter(path, {"command": "regex", "model": "test", "seed": 3, "canvas_length": 4})
    for block, p, n in [(0, 0, 1), (0, 1, 3), (1, 0, 2)]:
        acc = torch.zeros(1, 4, dtype=torch.bool)
        acc[0, :n] = True
        w.observe(PassRecord(block, p, torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long),
                             acc, ~acc, torch.zeros(1, 4), torch.ones(1, dtype=torch.bool), 0.01))
    w.close({"kind": "result", "text": "x", "stats": {}})


def _plot_trace_module():
    spec = importlib.util.spec_from_file_location("plot_trace_example", ROOT / "examples" / "plot_trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plot_trace_table_and_plot(tmp_path, capsys):
    trace = tmp_path / "t.jsonl"
    _synthetic_trace(trace)
    plot_trace = _plot_trace_module()
    assert plot_trace.main([str(trace), "--text"]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == ["   0      1", "   1      3", "   2      2"]
    rc = plot_trace.main([str(trace), "-o", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    if importlib.util.find_spec("matplotlib") is not None:
        assert rc == 0, err
        assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert rc == 2
        assert "plot_trace.py needs matplotlib: pip install 'structdiff[plot]'" in err
    assert plot_trace.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read the trace" in capsys.readouterr().err

