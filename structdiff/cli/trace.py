"""``--trace out.jsonl``: every pass of a run, one JSON object per line, for replay and plots.

Lines, in order::

    {"kind": "header", "format": 1, "command": ..., "model": ..., "canvas_length": L, ...}
    {"kind": "pass", "run": r, "block": b, "pass": p, "seconds": s,
     "canvas": [[id, ...]], "best": [[id, ...]], "accepted": [[0|1, ...]], "renoised": [[0|1, ...]],
     "active": [0|1, ...], "mean_entropy": [h, ...], "extra": {...}}
    ...
    {"kind": "result", "text": ..., "stats": {...}}        (or {"kind": "error", "message": ...})

Per-pass arrays are ``[B, L]`` (one list per row of the batch). ``run`` counts the
sampler calls of one command: repair rounds re-run the sampler and start again at block 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from ..sampler.hooks import CanvasHook, PassRecord

__all__ = ["TRACE_FORMAT", "TraceWriter", "check_trace_path", "jsonable", "read_trace"]

TRACE_FORMAT = 1


def jsonable(value: Any) -> Any:
    """Tensors, arrays and numpy scalars -> plain JSON values (anything else unknown -> ``str``)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # torch.Tensor, numpy arrays and scalars
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def check_trace_path(path: str | Path) -> None:
    """``InputError`` unless ``path`` can be written as a trace (checked before the model loads)."""
    import os

    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise InputError(f"--trace {str(p)!r} is a folder; give a file name such as run.jsonl")
    if not parent.is_dir():
        raise InputError(f"--trace {str(p)!r}: the folder {str(parent)!r} does not exist")
    if not os.access(p if p.exists() else parent, os.W_OK):
        raise InputError(f"--trace {str(p)!r} is not writable")


class TraceWriter(CanvasHook):
    """An observer hook that writes each ``PassRecord`` as one JSON line.

    Parameters
    ----------
    path : str or Path
        The ``.jsonl`` file to (over)write.
    header : dict
        Facts about the run written on the first line (command, model, seed, ...).
    """

    def __init__(self, path: str | Path, header: dict | None = None):
        self.path = Path(path)
        try:
            self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        except OSError as e:
            raise InputError(f"cannot write the trace file {str(self.path)!r}: {e.strerror or e}") from None
        self.run = -1
        self.passes = 0
        self._write({"kind": "header", "format": TRACE_FORMAT, **(header or {})})
        try:
            self._file.flush()  # a full disk or a broken device fails here, before any pass runs
        except OSError as e:
            self._abandon()
            raise InputError(f"cannot write the trace file {str(self.path)!r}: {e.strerror or e}") from None

    def _write(self, obj: dict) -> None:
        if self._file is None:
            raise InputError(f"the trace {str(self.path)!r} is already closed")
        try:
            self._file.write(json.dumps(jsonable(obj), ensure_ascii=False, separators=(",", ":")) + "\n")
        except OSError as e:
            self._abandon()
            raise InputError(f"cannot write the trace file {str(self.path)!r}: {e.strerror or e}") from None

    def _abandon(self) -> None:
        """Close the file after a write error, ignoring the errors of flushing what is left."""
        f, self._file = self._file, None
        try:
            f.close()
        except OSError:
            pass

    def observe(self, record: PassRecord) -> None:
        """Append one pass line."""
        if record.block == 0 and record.pass_index == 0:
            self.run += 1
        self.passes += 1
        ent = record.entropy.float()  # [B, L]
        self._write({
            "kind": "pass", "run": max(self.run, 0), "block": record.block, "pass": record.pass_index,
            "seconds": round(float(record.seconds), 6),
            "canvas": record.canvas.tolist(), "best": record.best.tolist(),
            "accepted": record.accepted.int().tolist(), "renoised": record.renoised.int().tolist(),
            "active": record.active.int().tolist(), "mean_entropy": [round(float(h), 6) for h in ent.mean(-1)],
            "extra": record.extra,
        })

    def close(self, result: dict | None = None) -> None:
        """Write the closing ``result``/``error`` line (if given) and close the file."""
        if self._file is None:
            return
        if result is not None:
            self._write(result)
        try:
            self._file.close()
        except OSError as e:
            self._file = None
            raise InputError(f"cannot write the trace file {str(self.path)!r}: {e.strerror or e}") from None
        self._file = None


def read_trace(path: str | Path) -> tuple[dict, list[dict], dict | None]:
    """(header, pass lines, closing line or ``None``) of a trace file.

    Raises
    ------
    InputError
        Missing file, or a line that is not a JSON object of this format.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"cannot read the trace {str(p)!r}: {e.strerror or e}") from None
    header, passes, end = None, [], None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{p}:{n}: not JSON ({e.msg})") from None
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if kind == "header":
            header = obj
        elif kind == "pass":
            passes.append(obj)
        elif kind in ("result", "error"):
            end = obj
        else:
            raise InputError(f"{p}:{n}: not a structdiff trace line (no known 'kind')")
    if header is None:
        raise InputError(f"{p} is not a structdiff trace (no header line); record one with --trace")
    return header, passes, end
