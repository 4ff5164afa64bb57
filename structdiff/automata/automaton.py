"""The token automaton a compiled constraint runs on: DFA states x token classes, plus EOS/pad.

States ``0..Q-1`` are the byte DFA's; state ``Q`` is the absorbing END state. EOS leads
from every accepting state (and END) to END; pad is allowed only in END. Special tokens
never appear inside text. Built once per (pattern, tokenizer) and cached on disk.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from ..errors import SchemaError
from .cache import FORMAT as _FORMAT
from .cache import AutomatonMemo, cache_dir, load_file, store_file
from .tokens import lift_to_classes, vocab_bytes

__all__ = ["TokenAutomaton", "cache_dir", "compile_ir", "compile_regex", "within_budget"]

log = logging.getLogger(__name__)
_MEMO = AutomatonMemo()  # in-process LRU, bounded by bytes (automata.cache.MEMO_BYTES)


@dataclass(frozen=True, eq=False)
class TokenAutomaton:
    """Token-level automaton over classes (immutable; arrays are read-only).

    Attributes
    ----------
    token_class : ``[V]`` int64, class of every token id, ``-1`` = never allowed.
    members : ``[V_live]`` int64 token ids sorted by class; class ``c`` is
        ``members[class_start[c]:class_start[c+1]]``.
    e_src, e_cls, e_dst : ``[E]`` int64 edges ``src --cls--> dst`` (sorted by ``dst``).
    accept : ``[Q+1]`` bool, states where the text may end (accepting DFA states and END).
    dist : ``[Q+1]`` int64, fewest tokens from each state to an accepting one.
    """

    key: str
    token_class: np.ndarray
    members: np.ndarray
    class_start: np.ndarray
    e_src: np.ndarray
    e_cls: np.ndarray
    e_dst: np.ndarray
    accept: np.ndarray
    dist: np.ndarray
    eos_class: int
    pad_class: int

    @property
    def n_states(self) -> int:
        return int(self.accept.size)

    @property
    def end_state(self) -> int:
        return self.n_states - 1

    @property
    def n_classes(self) -> int:
        return int(self.class_start.size - 1)

    def step(self, state: int, token: int) -> int:
        """State after ``token`` from ``state`` (``-1`` if not allowed)."""
        c = int(self.token_class[token])
        if c < 0 or state < 0:
            return -1
        hit = np.flatnonzero((self.e_src == state) & (self.e_cls == c))
        return int(self.e_dst[hit[0]]) if hit.size else -1

    def run(self, tokens, state: int = 0) -> int:
        """State after a token sequence (``-1`` once dead)."""
        for t in tokens:
            state = self.step(state, int(t))
            if state < 0:
                return -1
        return state


def _assemble(key: str, dfa, token_class: np.ndarray, class_maps: list, pad_id: int, eos_id: int) -> TokenAutomaton:
    q = dfa.n_states
    end = q
    n_text = len(class_maps)
    token_class = token_class.copy()
    eos_c = n_text
    pad_c = eos_c if pad_id == eos_id else n_text + 1
    token_class[eos_id], token_class[pad_id] = eos_c, pad_c
    srcs = [m[:, 0] for m in class_maps]
    dsts = [m[:, 1] for m in class_maps]
    clss = [np.full(len(m), c, dtype=np.int64) for c, m in enumerate(class_maps)]
    acc = np.flatnonzero(dfa.accept)
    srcs += [acc, [end], [end]]
    dsts += [np.full(acc.size, end), [end], [end]]
    clss += [np.full(acc.size, eos_c), [eos_c], [pad_c]]
    src, dst, cls = (np.concatenate([np.asarray(a, dtype=np.int64) for a in x]) for x in (srcs, dsts, clss))
    n_cls = max(eos_c, pad_c) + 1
    code = np.unique((dst * (q + 1) + src) * n_cls + cls)  # distinct edges sorted by (dst, src, cls): 1-D, fast
    cls, rest = code % n_cls, code // n_cls
    src, dst = rest % (q + 1), rest // (q + 1)
    live = np.flatnonzero(token_class >= 0)
    members = live[np.argsort(token_class[live], kind="stable")]
    class_start = np.searchsorted(token_class[members], np.arange(n_cls + 1), side="left")
    accept = np.concatenate([dfa.accept, [True]])
    dist = _distance_to_accept(q + 1, src, dst, cls, accept, {eos_c, pad_c})
    arrays = dict(token_class=token_class, members=members, class_start=class_start.astype(np.int64),
                  e_src=src, e_cls=cls, e_dst=dst, accept=accept, dist=dist)
    for a in arrays.values():
        a.setflags(write=False)
    return TokenAutomaton(key, **arrays, eos_class=eos_c, pad_class=pad_c)


def _levels(n: int, frm: np.ndarray, to: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Breadth-first levels ``[n]`` over edges ``frm -> to`` from ``sources`` (level 0); large where unreachable."""
    order = np.argsort(frm, kind="stable")
    f, t = frm[order], to[order]
    starts = np.searchsorted(f, np.arange(n + 1))
    big = np.iinfo(np.int64).max // 4
    level = np.full(n, big, dtype=np.int64)
    level[sources] = 0
    frontier, k = np.unique(sources), 0
    while frontier.size:
        k += 1
        cnt = starts[frontier + 1] - starts[frontier]
        idx = np.repeat(starts[frontier] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt) + np.arange(cnt.sum())
        nxt = np.unique(t[idx])
        frontier = nxt[level[nxt] == big]
        level[frontier] = k
    return level


def _distance_to_accept(n, src, dst, cls, accept, special) -> np.ndarray:
    """Backward BFS over text edges: fewest tokens to an accepting state (large if never)."""
    text = ~np.isin(cls, list(special))
    return _levels(n, dst[text], src[text], np.flatnonzero(accept))


def within_budget(auto: TokenAutomaton, max_tokens: int) -> TokenAutomaton:
    """``auto`` without the states that no output of at most ``max_tokens`` text tokens passes through: those whose
    fewest tokens from the start plus fewest tokens to acceptance exceed it (states renumbered in order, so the
    start stays 0 and END stays last; ``auto`` itself when none is dropped; memoised).

    Every output the sampler can produce under that budget runs the same way on both, but the canvas DP does work
    per state and pair, and a schema whose deep branches need more tokens than the budget can shrink a lot
    (a Github_hard schema of JSONSchemaBench: 6,269 -> 405 states at 192 tokens)."""
    key = f"{auto.key}~{int(max_tokens)}"
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    text = (auto.e_cls != auto.eos_class) & (auto.e_cls != auto.pad_class)
    depth = _levels(auto.n_states, auto.e_src[text], auto.e_dst[text], np.zeros(1, dtype=np.int64))
    keep = depth + auto.dist <= max_tokens
    keep[auto.end_state] = True
    if keep.all():
        return auto
    new_id = np.cumsum(keep) - 1
    e = keep[auto.e_src] & keep[auto.e_dst]
    arrays = dict(token_class=auto.token_class, members=auto.members, class_start=auto.class_start,
                  e_src=new_id[auto.e_src[e]], e_cls=auto.e_cls[e], e_dst=new_id[auto.e_dst[e]],
                  accept=auto.accept[keep], dist=auto.dist[keep])
    for a in arrays.values():
        a.setflags(write=False)
    out = TokenAutomaton(key, **arrays, eos_class=auto.eos_class, pad_class=auto.pad_class)
    _MEMO.put(key, out)
    return out


def compile_ir(node, tokenizer, *, budget=None, error: type = SchemaError, what: str = "the constraint",
               use_cache: bool = True, dfa=None) -> TokenAutomaton:
    """Compile an IR node (``automata.ir``) into a ``TokenAutomaton`` (memoised, disk-cached by its digest).

    ``budget``/``error``/``what`` go to ``ir_dfa.to_byte_dfa``: the build limits, the exception
    class raised when they are passed or the language is empty, and the name used in its message.
    ``dfa``: the node's ``ByteDFA`` when the caller already built it.
    """
    from .ir_dfa import to_byte_dfa

    def build():
        return dfa if dfa is not None else to_byte_dfa(node, budget=budget, error=error, what=what)

    return compile_regex(node, tokenizer, use_cache=use_cache, build=build)


def compile_regex(pattern, tokenizer, *, use_cache: bool = True, builder: str = "ir",
                  build=None) -> TokenAutomaton:
    """Compile a full-match regex into a ``TokenAutomaton`` for ``tokenizer`` (memoised and disk-cached).

    Parameters
    ----------
    pattern : str
        Regex text (``regex_parse``, python dialect), matched against the whole output; or an
        ``ir.Node`` together with ``build`` (what ``compile_ir`` passes).
    tokenizer : structdiff.backend.Tokenizer
        Supplies ``token_bytes``, ``special_ids``, ``eos_id``, ``pad_id`` and ``fingerprint``.
    use_cache : bool
        Read/write ``cache_dir()/automata/<key>.npz``.
    builder : str
        Ignored (kept for old callers): regex text is parsed into the IR (``ir_dfa.build_byte_dfa``).
    build : callable, optional
        Builds the ``ByteDFA`` instead (``compile_ir`` passes the IR builder; ``pattern`` is then the node).

    Returns
    -------
    TokenAutomaton

    Raises
    ------
    SchemaError
        Invalid, empty or too large regex.
    """
    ident = pattern if isinstance(pattern, str) else "ir:" + pattern.digest.hex()
    key = hashlib.sha256(f"{_FORMAT}\0{tokenizer.fingerprint}\0{ident}".encode()).hexdigest()[:40]
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    path = cache_dir() / "automata" / f"{key}.npz"
    auto = None
    if use_cache and path.is_file():
        auto = load_file(path, key, tokenizer, _from_arrays)
    if auto is None:
        if build is None:
            from .ir_dfa import build_byte_dfa

            dfa = build_byte_dfa(pattern, builder)
        else:
            dfa = build()
        token_class, class_maps = lift_to_classes(dfa, vocab_bytes(tokenizer))
        auto = _assemble(key, dfa, token_class, class_maps, tokenizer.pad_id, tokenizer.eos_id)
        if use_cache:
            store_file(path, auto, tokenizer)
    _MEMO.put(key, auto)
    return auto


def _from_arrays(key: str, arrays: dict, eos_class: int, pad_class: int) -> TokenAutomaton:
    return TokenAutomaton(key, **arrays, eos_class=eos_class, pad_class=pad_class)
