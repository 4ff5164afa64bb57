"""``ByteDFA`` (the byte automaton every constraint compiles to) and the legacy outlines-core builder.

Every front-end but JSON Schema builds ``automata.ir`` nodes and gets its ``ByteDFA`` from
``ir_dfa``. ``build_byte_dfa`` remains for the JSON translation's Rust-syntax regex text
until that front-end builds IR too: outlines-core determinises the regex (Rust
``regex-automata``) over single bytes; we renumber its states densely, drop states from
which acceptance is unreachable, minimise (``minimize``), and guard against catastrophic
sizes (a state cap, and a memory/time-bounded child process for patterns whose shape can
explode).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import re
from dataclasses import dataclass

import numpy as np

from ..errors import SchemaError
from .minimize import minimize_dfa

__all__ = ["MAX_DFA_STATES", "ByteDFA", "build_byte_dfa"]

log = logging.getLogger(__name__)

MAX_DFA_STATES = 50_000  # byte-DFA states; beyond this the pattern is refused with a clear error
_CHILD_SECONDS = 10.0
_CHILD_BYTES = 3 << 30  # address-space cap of the guarded build


@dataclass(frozen=True, eq=False)
class ByteDFA:
    """A trimmed DFA over bytes: state 0 is the start, ``-1`` is dead.

    Attributes
    ----------
    trans : np.ndarray
        ``[Q, 256]`` int32 next state per byte (``-1`` = dead).
    accept : np.ndarray
        ``[Q]`` bool accepting states.
    """

    trans: np.ndarray  # [Q, 256] int32
    accept: np.ndarray  # [Q] bool

    @property
    def n_states(self) -> int:
        return int(self.trans.shape[0])

    def run(self, data: bytes, state: int = 0) -> int:
        """State after reading ``data`` from ``state`` (``-1`` once dead)."""
        for b in data:
            if state < 0:
                return -1
            state = int(self.trans[state, b])
        return state

    def matches(self, data: bytes) -> bool:
        """Full match of ``data``."""
        s = self.run(data)
        return s >= 0 and bool(self.accept[s])


def _outlines_transitions(pattern: str) -> tuple[dict, int, list]:
    """outlines-core Index over single bytes -> (transitions, initial, finals) as plain Python objects."""
    from outlines_core import Index, Vocabulary

    vocab = Vocabulary(256, {bytes([b]): [b] for b in range(256)})
    index = Index(pattern, vocab)
    return index.get_transitions(), index.get_initial_state(), sorted(index.get_final_states())


def _child(pattern: str, conn) -> None:  # pragma: no cover - runs in the guarded child
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_CHILD_BYTES, _CHILD_BYTES))
        tr, init, finals = _outlines_transitions(pattern)
        if len(tr) > MAX_DFA_STATES:
            conn.send(("big", len(tr)))
        else:
            conn.send(("ok", (tr, init, finals)))
    except MemoryError:
        conn.send(("big", -1))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
        conn.send(("err", str(exc)))
    finally:
        conn.close()


def _may_explode(pattern: str) -> bool:
    """True when the pattern has the shape of DFA blow-ups: an unbounded loop and sizeable counted repeats."""
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]  # only to measure the shape
    except Exception:  # noqa: BLE001 - not Python syntax: be careful
        return True
    unbounded, counted = False, 0

    def walk(items, mult: int) -> None:
        nonlocal unbounded, counted
        for op, arg in items:
            name = str(op)
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                lo, hi, sub = arg
                if hi == re._parser.MAXREPEAT or hi > 1000:  # type: ignore[attr-defined]
                    unbounded = True
                    walk(sub, mult)
                else:
                    counted += mult * hi
                    walk(sub, mult * max(1, hi))
            elif name == "SUBPATTERN":
                walk(arg[-1], mult)
            elif name == "BRANCH":
                for alt in arg[1]:
                    walk(alt, mult)

    walk(parsed, 1)
    return counted > 4000 or (unbounded and counted > 12)


def _regex_error(pattern: str, detail: str) -> SchemaError:
    if "no transitions" in detail or "incompatible with the regex" in detail:
        return SchemaError(f"the regex {pattern[:60]!r} matches nothing (no UTF-8 text can satisfy it)")
    pos = None
    try:
        re.compile(pattern)
    except re.error as exc:
        pos = exc.pos
    where = f" at position {pos} ({pattern[max(0, pos - 10):pos + 10]!r})" if pos is not None else ""
    return SchemaError(f"invalid regex{where}: {detail}; check the pattern's syntax (Rust regex syntax, "
                       f"matched against the whole output)", pointer=pos)


def _raw_dfa(pattern: str, shown: str) -> tuple[dict, int, list]:
    if not _may_explode(pattern):
        try:
            tr, init, finals = _outlines_transitions(pattern)
        except (ValueError, RuntimeError) as exc:
            raise _regex_error(shown, str(exc)) from None
        if len(tr) > MAX_DFA_STATES:
            raise _too_big(shown, len(tr))
        return tr, init, finals
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(pattern, child), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(_CHILD_SECONDS):
            proc.kill()
            raise _too_big(shown, None)
        status, payload = parent.recv()
    except EOFError:
        status, payload = "big", -1  # the child died (memory cap)
    finally:
        proc.join(timeout=1.0)
        if proc.is_alive():
            proc.kill()
        parent.close()
    if status == "ok":
        return payload
    if status == "err":
        raise _regex_error(shown, payload)
    raise _too_big(shown, payload if payload and payload > 0 else None)


def _too_big(pattern: str, n: int | None) -> SchemaError:
    size = f"{n} states" if n else "more memory or time than allowed"
    return SchemaError(f"the regex {pattern[:60]!r}{'...' if len(pattern) > 60 else ''} needs a DFA of {size} "
                       f"(limit {MAX_DFA_STATES} states): bound its repetitions (e.g. {{0,20}} instead of large "
                       f"counts after an unbounded loop) or simplify the alternatives")


def build_byte_dfa(pattern: str, builder: str = "outlines") -> ByteDFA:
    """Compile ``pattern`` (full match, Rust regex syntax) into a trimmed, minimal byte DFA with outlines-core.

    Parameters
    ----------
    pattern : str
        The regex.
    builder : {"outlines"}
        Kept for callers that name it; outlines-core is the only builder of regex text.

    Returns
    -------
    ByteDFA

    Notes
    -----
    The byte 0x00 (U+0000) is never part of an output: it serves as the end marker.

    Raises
    ------
    SchemaError
        Invalid syntax (with the position when Python's parser can name it), an empty
        language, or a DFA above ``MAX_DFA_STATES``.
    """
    if not isinstance(pattern, str):
        raise SchemaError(f"a regex must be a str, got {type(pattern).__name__}")
    if builder != "outlines":
        raise ValueError(f"builder must be 'outlines', got {builder!r} (other front-ends build automata.ir)")
    # outlines-core drops multi-byte transitions out of final states, so no state of ours may be final there:
    # compile P + NUL and call a state accepting when NUL leads to a final state (NUL is never text).
    tr, init, finals = _raw_dfa(f"(?:{pattern})\\x00", pattern)
    fin = set(finals)
    finals = [s for s, e in tr.items() if e.get(0) in fin]
    for e in tr.values():
        e.pop(0, None)
    ids = {init: 0}
    for s in [*sorted(tr), *(t for e in tr.values() for t in e.values())]:
        ids.setdefault(s, len(ids))
    q = len(ids)
    trans = np.full((q, 256), -1, dtype=np.int32)  # [Q, 256]
    for s, edges in tr.items():
        row = trans[ids[s]]
        for b, t in edges.items():
            if b < 256:
                row[b] = ids[t]
    accept = np.zeros(q, dtype=bool)
    accept[[ids[s] for s in finals]] = True
    return _trim(trans, accept, pattern)


def _trim(trans: np.ndarray, accept: np.ndarray, pattern: str) -> ByteDFA:
    """Keep states reachable from 0 that can still reach acceptance; renumber densely."""
    q = trans.shape[0]
    live = accept.copy()  # co-reachable
    while True:
        nxt = live | (np.where(trans >= 0, live[np.maximum(trans, 0)], False)).any(axis=1)
        if (nxt == live).all():
            break
        live = nxt
    if not live[0]:
        raise SchemaError(f"the regex {pattern!r} matches nothing: no output can satisfy it")
    trans = np.where((trans >= 0) & live[np.maximum(trans, 0)], trans, -1)
    reach = np.zeros(q, dtype=bool)
    reach[0] = True
    frontier = np.array([0])
    while frontier.size:
        nxt = np.unique(trans[frontier])
        nxt = nxt[nxt >= 0]
        nxt = nxt[~reach[nxt]]
        reach[nxt] = True
        frontier = nxt
    keep = np.flatnonzero(reach & live)
    remap = np.full(q + 1, -1, dtype=np.int32)
    remap[keep] = np.arange(keep.size, dtype=np.int32)
    new = remap[trans[keep]]  # -1 maps through remap[-1] == -1
    trans, accept = minimize_dfa(np.ascontiguousarray(new, dtype=np.int32), accept[keep].copy())
    log.debug("byte DFA for %r: %d trimmed states, %d minimal", pattern[:40], keep.size, trans.shape[0])
    return ByteDFA(trans, accept)
