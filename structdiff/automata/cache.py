"""Where compiled token automata are kept: a bounded in-process LRU and verified files on disk.

A file under ``cache_dir()/automata/<key>.npz`` is used only after its format version, the
tokenizer fingerprint, its own key, a SHA-256 of its arrays and the arrays' shapes and ranges
all check out; anything else (an old format, another tokenizer, a truncated or edited file)
is logged and rebuilt, never trusted. Files are written under a unique temporary name in the
same folder and renamed into place, so readers see a whole file or none, and threads or
processes compiling the same constraint never collide.

The in-process memo is an LRU bounded by the bytes of its arrays (``MEMO_BYTES``, default
256 MiB, ``$STRUCTDIFF_MEMO_BYTES`` overrides it); it is safe to use from many threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ARRAYS", "FORMAT", "MEMO_BYTES", "AutomatonMemo", "cache_dir", "checksum", "load_file", "store_file"]

log = logging.getLogger(__name__)

FORMAT = "structdiff-automaton-v3"  # v3: verified files (format, fingerprint, key, checksum)
ARRAYS = ("token_class", "members", "class_start", "e_src", "e_cls", "e_dst", "accept", "dist")
MEMO_BYTES = int(os.environ.get("STRUCTDIFF_MEMO_BYTES") or 256 << 20)


def cache_dir() -> Path:
    """``$STRUCTDIFF_CACHE_DIR`` or ``~/.cache/structdiff``."""
    return Path(os.environ.get("STRUCTDIFF_CACHE_DIR") or Path.home() / ".cache" / "structdiff")


def checksum(arrays: dict, specials: np.ndarray) -> str:
    """SHA-256 over the arrays' dtypes, shapes and bytes (in ``ARRAYS`` order) and the special classes."""
    h = hashlib.sha256()
    for name in ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}\0".encode())
        h.update(a.tobytes())
    h.update(np.ascontiguousarray(specials, dtype=np.int64).tobytes())
    return h.hexdigest()


def _nbytes(auto: Any) -> int:
    return sum(int(getattr(auto, name).nbytes) for name in ARRAYS)


class AutomatonMemo:
    """A thread-safe LRU of automata by key, bounded by the total bytes of their arrays.

    An automaton larger than the whole bound is returned to its caller but not kept.
    """

    def __init__(self, max_bytes: int = MEMO_BYTES):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: str, auto: Any) -> None:
        size = _nbytes(auto)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return
            self._items[key] = (auto, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, n) = self._items.popitem(last=False)
                self._bytes -= n

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def _problem(z: Any, key: str, tokenizer: Any) -> str | None:
    """Why the opened cache file ``z`` cannot be used for ``key``/``tokenizer`` (``None``: it can)."""
    names = set(z.files)
    missing = [n for n in (*ARRAYS, "specials", "meta", "checksum") if n not in names]
    if missing:
        return f"missing {', '.join(missing)} (an older format)"
    meta = [str(x) for x in z["meta"].tolist()]
    if len(meta) != 3 or meta[0] != FORMAT:
        return f"format {meta[:1]} is not {FORMAT}"
    if meta[1] != tokenizer.fingerprint:
        return "built for another tokenizer"
    if meta[2] != key:
        return "holds another constraint"
    arrays = {n: z[n] for n in ARRAYS}
    specials = z["specials"]
    if str(z["checksum"]) != checksum(arrays, specials):
        return "checksum mismatch (truncated or edited)"
    return _shape_problem(arrays, specials, getattr(tokenizer, "vocab_size", None))


def _shape_problem(a: dict, specials: np.ndarray, vocab: int | None) -> str | None:
    """Structural checks, so that even a file with a matching checksum cannot index out of range."""
    if any(a[n].ndim != 1 for n in ARRAYS) or specials.shape != (2,):
        return "arrays of the wrong rank"
    if any(a[n].dtype.kind not in "iu" for n in ARRAYS if n != "accept") or a["accept"].dtype != np.bool_:
        return "arrays of the wrong type"
    n_tok, n_states = a["token_class"].size, a["accept"].size
    n_cls = a["class_start"].size - 1
    e = a["e_src"].size
    if vocab is not None and n_tok != vocab:
        return f"{n_tok} tokens, the tokenizer has {vocab}"
    if n_cls < 1 or n_states < 1 or a["e_cls"].size != e or a["e_dst"].size != e or a["dist"].size != n_states:
        return "inconsistent array sizes"
    cs = a["class_start"]
    if cs[0] != 0 or cs[-1] != a["members"].size or np.any(np.diff(cs) < 0):
        return "class_start is not a partition of members"
    if a["members"].size and (a["members"].min() < 0 or a["members"].max() >= n_tok):
        return "member token ids out of range"
    if a["token_class"].size and (a["token_class"].min() < -1 or a["token_class"].max() >= n_cls):
        return "token classes out of range"
    for name, hi in (("e_src", n_states), ("e_dst", n_states), ("e_cls", n_cls)):
        if e and (a[name].min() < 0 or a[name].max() >= hi):
            return f"{name} out of range"
    if not all(0 <= int(s) < n_cls for s in specials):
        return "special classes out of range"
    return None


def load_file(path: Path, key: str, tokenizer: Any, make: Any) -> Any:
    """The verified automaton in ``path`` (``make(key, arrays, eos_class, pad_class)``), or ``None``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            why = _problem(z, key, tokenizer)
            if why is None:
                arrays = {n: np.array(z[n]) for n in ARRAYS}
                eos_c, pad_c = (int(x) for x in z["specials"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is rebuilt, whatever numpy/zipfile raise
        why = f"unreadable ({type(exc).__name__}: {exc})"
    if why is not None:
        log.warning("ignoring cache file %s: %s; rebuilding it", path, why)
        return None
    for arr in arrays.values():
        arr.setflags(write=False)
    return make(key, arrays, eos_c, pad_c)


def store_file(path: Path, auto: Any, tokenizer: Any) -> None:
    """Write ``auto`` to ``path`` atomically (unique temp file in the same folder, then rename)."""
    arrays = {n: getattr(auto, n) for n in ARRAYS}
    specials = np.array([auto.eos_class, auto.pad_class], dtype=np.int64)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, specials=specials, checksum=np.array(checksum(arrays, specials)),
                     meta=np.array([FORMAT, tokenizer.fingerprint, auto.key]))
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        log.warning("cannot write cache file %s: %s", path, exc)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
