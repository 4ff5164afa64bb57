"""``ByteDFA``: the trimmed, minimal byte automaton every constraint compiles to.

Every front-end builds ``automata.ir`` nodes; ``ir_dfa`` determinises them into a ``ByteDFA``
(``ir_dfa.build_byte_dfa`` for regex text), and ``tokens`` lifts it to a tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_DFA_STATES", "ByteDFA"]

MAX_DFA_STATES = 50_000  # default state budget of a build (``ir_dfa.Budget.max_states``)


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
