"""The regular-expression IR every front-end builds: immutable, hash-consed nodes over bytes.

Why an IR and not regex text. JSON Schema, Lark and choices used to emit regex strings
that a parser read back; sizes were measured in characters and a sub-schema or rule used
twice was written out twice. Here a front-end calls builders (``concat``, ``alt``,
``repeat``, ``chars`` ...) and gets nodes. Building the same structure twice returns the
*same* object (hash-consing), so a rule or ``$ref`` target
built once is shared by every use, and ``ir_dfa`` determinises the DAG without ever
expanding it.

Nodes (``Node.kind``):

* ``BYTES`` — one byte from a set (a 256-bit mask);
* ``CHARS`` — one code point from sorted inclusive ranges; holds its UTF-8 lowering
  (a small trie of ``BYTES``/``CONCAT``/``ALT``) that the DFA builder walks;
* ``EMPTY`` (only ``""``) and ``NOTHING`` (the empty language);
* ``CONCAT`` — binary and right-nested (``a(b(c))``), so a derivative re-uses the tail;
* ``ALT`` — n-ary, flattened, deduplicated (as a set: its order carries no meaning);
* ``REPEAT`` — ``child{lo,hi}`` (``hi is None``: unbounded).

Every node caches ``nullable``, ``first`` (bitmask of bytes that can start a match),
``cuts`` (bitmask of byte-class boundaries: bytes between two cuts behave alike for
this node), ``size`` (tree size, sharing counted per use) and ``height``; ``digest`` (a
structural hash, equal across processes: the disk-cache key) is computed on first use.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable, Sequence

from .charsets import normalise_ranges, utf8_sequences

__all__ = ["Node", "EMPTY", "NOTHING", "BYTES", "CHARS", "CONCAT", "ALT", "REPEAT", "byteset", "chars", "char",
           "literal", "any_char", "concat", "alt", "repeat", "star", "plus", "opt", "choices", "show", "dag_size",
           "min_length"]

BYTES, CHARS, EMPTY_K, NOTHING_K, CONCAT, ALT, REPEAT = range(7)
_FULL = (1 << 256) - 1
_INTERN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _digest(*parts: bytes) -> bytes:
    return hashlib.blake2b(b"\x1f".join(parts), digest_size=16).digest()


class Node:
    """One IR node (immutable; build with the module's functions, never directly)."""

    __slots__ = ("kind", "kids", "mask", "ranges", "lo", "hi", "nullable", "first", "cuts", "size", "height",
                 "_digest", "__weakref__")

    def __setattr__(self, name, value):
        raise AttributeError("IR nodes are immutable")

    def __repr__(self) -> str:
        text = show(self, max_chars=80)
        return f"ir.Node({text!r})"

    def __reduce__(self):
        raise TypeError("IR nodes are process-local (hash-consed); pickle the front-end input instead")

    @property
    def digest(self) -> bytes:
        """16-byte structural hash (the same structure gives the same digest in every process)."""
        d = self._digest
        if d is None:
            d = _digest_of(self)
        return d


def _own_digest(n: Node) -> bytes:
    k = n.kind
    if k == BYTES:
        return _digest(b"B", n.mask.to_bytes(32, "little"))
    if k == CHARS:
        return _digest(b"C", b"".join(lo.to_bytes(3, "little") + hi.to_bytes(3, "little") for lo, hi in n.ranges))
    if k == EMPTY_K:
        return _digest(b"E")
    if k == NOTHING_K:
        return _digest(b"N")
    if k == CONCAT:
        return _digest(b"S", n.kids[0]._digest, n.kids[1]._digest)
    if k == ALT:
        return _digest(b"A", *sorted(c._digest for c in n.kids))
    return _digest(b"R", n.kids[0]._digest, str(n.lo).encode(), str(n.hi).encode())


def _digest_of(root: Node) -> bytes:
    """Digests of ``root`` and everything below it without digests yet (iterative post-order)."""
    stack = [(root, False)]
    put = object.__setattr__
    while stack:
        n, ready = stack.pop()
        if n._digest is not None:
            continue
        kids = n.kids if n.kind in (CONCAT, ALT, REPEAT) else ()
        if ready or not kids:
            put(n, "_digest", _own_digest(n))
            continue
        stack.append((n, True))
        stack.extend((c, False) for c in kids if c._digest is None)
    return root._digest


def _make(key: tuple, kind: int, kids, mask, ranges, lo, hi, nullable, first, cuts, size, height) -> Node:
    """The interned node for ``key``, created from the fields when new."""
    n = _INTERN.get(key)
    if n is not None:
        return n
    n = object.__new__(Node)
    put = object.__setattr__
    put(n, "kind", kind)
    put(n, "kids", kids)
    put(n, "mask", mask)
    put(n, "ranges", ranges)
    put(n, "lo", lo)
    put(n, "hi", hi)
    put(n, "nullable", nullable)
    put(n, "first", first)
    put(n, "cuts", cuts)
    put(n, "size", size)
    put(n, "height", height)
    put(n, "_digest", None)
    _INTERN[key] = n
    return n


def _cuts_of_mask(mask: int) -> int:
    return ((mask ^ (mask << 1)) & _FULL) | 1


EMPTY = _make((EMPTY_K,), EMPTY_K, None, None, None, None, None, True, 0, 1, 1, 1)
NOTHING = _make((NOTHING_K,), NOTHING_K, None, None, None, None, None, False, 0, 1, 1, 1)
_KEEP = (EMPTY, NOTHING)  # the interning table holds nodes weakly


def _bytes_node(mask: int) -> Node:
    if mask == 0:
        return NOTHING
    return _make((BYTES, mask), BYTES, None, mask, None, None, None, False, mask, _cuts_of_mask(mask), 1, 1)


def byteset(ranges: Iterable[tuple[int, int]]) -> Node:
    """One byte from inclusive byte ranges ``[(lo, hi), ...]`` (``[]`` -> ``NOTHING``)."""
    mask = 0
    for lo, hi in ranges:
        if not (0 <= lo <= hi <= 255):
            raise ValueError(f"byte range ({lo}, {hi}) outside 0..255")
        mask |= ((1 << (hi - lo + 1)) - 1) << lo
    return _bytes_node(mask)


def _lower(seqs: list[list[tuple[int, int]]]) -> Node:
    """UTF-8 byte-range sequences -> a trie of byte sets (sequences sharing a first range share a node)."""
    groups: dict[tuple[int, int], list] = {}
    for seq in seqs:
        groups.setdefault(seq[0], []).append(seq[1:])
    parts = []
    for first, tails in groups.items():
        head = byteset([first])
        tails = [t for t in tails if t]
        parts.append(head if not tails else concat(head, _lower(tails)))
    return alt(*parts)


def chars(ranges: Iterable[tuple[int, int]]) -> Node:
    """One code point from inclusive code-point ranges, matched as its UTF-8 bytes (surrogates dropped)."""
    rs = tuple(normalise_ranges(ranges))
    if not rs:
        return NOTHING
    if rs[-1][1] < 0x80:  # ASCII: one byte set (so ASCII classes merge in alternations)
        return byteset(rs)
    key = (CHARS, rs)
    hit = _INTERN.get(key)
    if hit is not None:
        return hit
    low = _lower(utf8_sequences(rs))
    if low is NOTHING:
        return NOTHING
    return _make(key, CHARS, (low,), None, rs, None, None, False, low.first, low.cuts, 1, low.height + 1)


def char(cp: int | str) -> Node:
    """One code point (an int or a one-character str)."""
    cp = ord(cp) if isinstance(cp, str) else cp
    return chars([(cp, cp)])


def literal(text: str | bytes) -> Node:
    """Exactly ``text`` (a str is matched as UTF-8; bytes as they are)."""
    if isinstance(text, bytes):
        return concat(*(byteset([(b, b)]) for b in text))
    return concat(*(char(ord(c)) for c in text))


def any_char(exclude: Iterable[int | str] = ()) -> Node:
    """Any code point except those in ``exclude``."""
    from .charsets import complement_ranges

    ex = [(ord(c), ord(c)) if isinstance(c, str) else (c, c) for c in exclude]
    return chars(complement_ranges(ex))


def _concat2(head: Node, tail: Node) -> Node:
    if head is NOTHING or tail is NOTHING:
        return NOTHING
    if head is EMPTY:
        return tail
    if tail is EMPTY:
        return head
    if head.kind == CONCAT:  # re-associate to the right: a(b) + c -> a(b c), iteratively (long literals)
        spine = []
        while head.kind == CONCAT:
            spine.append(head.kids[0])  # never a CONCAT itself: every CONCAT is built right-associated
            head = head.kids[1]
        out = _concat2(head, tail)
        for n in reversed(spine):
            out = _concat2(n, out)
        return out
    key = (CONCAT, id(head), id(tail))
    n = _INTERN.get(key)
    if n is not None:
        return n
    if head.nullable:
        return _make(key, CONCAT, (head, tail), None, None, None, None, tail.nullable, head.first | tail.first,
                     head.cuts | tail.cuts, head.size + tail.size + 1, max(head.height, tail.height) + 1)
    return _make(key, CONCAT, (head, tail), None, None, None, None, False, head.first, head.cuts,
                 head.size + tail.size + 1, max(head.height, tail.height) + 1)


def concat(*nodes: Node) -> Node:
    """The sequence of ``nodes`` (``EMPTY`` for none)."""
    out = EMPTY
    for n in reversed(nodes):
        out = _concat2(n, out)
        if out is NOTHING:
            return NOTHING
    return out


def alt(*nodes: Node) -> Node:
    """The union of ``nodes`` (``NOTHING`` for none); single-byte alternatives merge into one set."""
    seen: dict[int, Node] = {}
    mask = 0
    stack = list(nodes)
    while stack:
        n = stack.pop()
        k = n.kind
        if k == ALT:
            stack.extend(n.kids)
        elif k == BYTES:
            mask |= n.mask
        elif n is not NOTHING:
            seen[id(n)] = n
    if mask:
        b = _bytes_node(mask)
        seen[id(b)] = b
    if not seen:
        return NOTHING
    if len(seen) == 1:
        return next(iter(seen.values()))
    ids = tuple(sorted(seen))
    key = (ALT, ids)
    n = _INTERN.get(key)
    if n is not None:
        return n
    kids = tuple(seen[k] for k in ids)
    nullable = first = 0
    cuts = 1
    size = height = 0
    for k in kids:
        nullable |= k.nullable
        first |= k.first
        cuts |= k.cuts
        size += k.size
        height = max(height, k.height)
    return _make(key, ALT, kids, None, None, None, None, bool(nullable), first, cuts, size + 1, height + 1)


def repeat(node: Node, lo: int, hi: int | None = None) -> Node:
    """``node{lo,hi}``; ``hi=None`` means no upper bound."""
    if lo < 0 or (hi is not None and hi < lo):
        raise ValueError(f"bad repeat bounds {{{lo},{hi}}}")
    if node.nullable:
        lo = 0  # r{lo,hi} == r{0,hi} when r matches ""
    if hi == 0 or node is EMPTY:
        return EMPTY
    if node is NOTHING:
        return EMPTY if lo == 0 else NOTHING
    if lo == hi == 1:
        return node
    if node.kind == REPEAT and node.hi is None and node.lo <= 1 and hi is None and lo <= 1:
        return repeat(node.kids[0], min(lo, node.lo), None)  # (r*)* == r*, (r+)+ == r+, (r+)* == r*
    return _make((REPEAT, id(node), lo, hi), REPEAT, (node,), None, None, lo, hi, lo == 0, node.first, node.cuts,
                 node.size + 1, node.height + 1)


def star(node: Node) -> Node:
    """Zero or more ``node``."""
    return repeat(node, 0, None)


def plus(node: Node) -> Node:
    """One or more ``node``."""
    return repeat(node, 1, None)


def opt(node: Node) -> Node:
    """``node`` or nothing."""
    return repeat(node, 0, 1)


def choices(strings: Iterable[str | bytes]) -> Node:
    """Exactly one of ``strings``, as a trie over their bytes (shared prefixes stored once)."""
    words = sorted({s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in strings})
    if not words:
        return NOTHING

    def build(lo: int, hi: int, depth: int) -> Node:
        parts, i = [], lo
        if len(words[i]) == depth:
            parts.append(EMPTY)
            i += 1
        while i < hi:
            b = words[i][depth]
            j = i
            while j < hi and words[j][depth] == b:
                j += 1
            parts.append(concat(byteset([(b, b)]), build(i, j, depth + 1)))
            i = j
        return alt(*parts)

    return _trie(words, build)


def _trie(words: Sequence[bytes], build) -> Node:
    """Run ``build`` over the sorted words without Python recursion limits on long shared prefixes."""
    import sys

    need = max(len(w) for w in words) * 3 + 200
    old = sys.getrecursionlimit()
    if need > old:
        sys.setrecursionlimit(need)
    try:
        return build(0, len(words), 0)
    finally:
        if need > old:
            sys.setrecursionlimit(old)


def min_length(root: Node) -> float:
    """Fewest bytes of any match of ``root`` (``inf`` for the empty language), without recursion."""
    memo: dict[int, float] = {}
    stack = [root]
    while stack:
        n = stack[-1]
        if id(n) in memo:
            stack.pop()
            continue
        if n.kind == BYTES:
            memo[id(n)] = 1
        elif n.kind == EMPTY_K:
            memo[id(n)] = 0
        elif n.kind == NOTHING_K:
            memo[id(n)] = float("inf")
        else:
            pending = [k for k in n.kids if id(k) not in memo]
            if pending:
                stack.extend(pending)
                continue
            vals = [memo[id(k)] for k in n.kids]
            if n.kind == CONCAT:
                memo[id(n)] = sum(vals)
            elif n.kind == ALT:
                memo[id(n)] = min(vals)
            elif n.kind == REPEAT:
                memo[id(n)] = 0 if n.lo == 0 else n.lo * vals[0]
            else:  # CHARS: its UTF-8 lowering
                memo[id(n)] = vals[0]
        stack.pop()
    return memo[id(root)]


def dag_size(node: Node) -> int:
    """Distinct nodes reachable from ``node`` (shared sub-expressions counted once; UTF-8 lowering excluded)."""
    seen = {id(node)}
    stack = [node]
    while stack:
        n = stack.pop()
        if n.kind == CHARS:
            continue
        for k in n.kids or ():
            if id(k) not in seen:
                seen.add(id(k))
                stack.append(k)
    return len(seen)


# -- printer ---------------------------------------------------------------------------------------------------------
_META = set("\\.^$*+?()[]{}|")


def _cp_text(cp: int, in_class: bool) -> str:
    ch = chr(cp)
    if 0x20 < cp < 0x7F:
        return "\\" + ch if (ch in _META and not in_class) or (in_class and ch in "\\]^-[") else ch
    if cp == 0x20:
        return " "
    return {9: "\\t", 10: "\\n", 13: "\\r"}.get(cp, f"\\u{{{cp:x}}}")


def _ranges_text(ranges: Sequence[tuple[int, int]], esc) -> str:
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return esc(ranges[0][0], False)
    body = "".join(esc(lo, True) if lo == hi else f"{esc(lo, True)}-{esc(hi, True)}" for lo, hi in ranges)
    return f"[{body}]"


def _byte_ranges(mask: int) -> list[tuple[int, int]]:
    out, b = [], 0
    while mask >> b:
        if (mask >> b) & 1:
            e = b
            while (mask >> (e + 1)) & 1:
                e += 1
            out.append((b, e))
            b = e + 1
        else:
            b += 1
    return out


def show(node: Node, max_chars: int | None = None) -> str:
    """Deterministic regex-like text of ``node`` for golden tests.

    Code-point classes print as ``[a-z]`` / ``\\u{e9}``; bytes >= 0x80 of raw byte sets as ``\\xbf``;
    ``()`` is ``EMPTY`` and ``[]`` is ``NOTHING``. A non-trivial node used more than once is
    printed once as ``#k = ...`` on its own line and referred to as ``#k``.
    """
    uses: dict[int, int] = {}
    order: list[Node] = []
    stack = [node]
    while stack:  # count uses over the DAG (each node's children visited once)
        n = stack.pop()
        uses[id(n)] = uses.get(id(n), 0) + 1
        if uses[id(n)] == 1 and n.kind in (CONCAT, ALT, REPEAT):
            order.append(n)
            stack.extend(reversed(n.kids))
    shared = {id(n) for n in order if uses[id(n)] > 1 and n.size >= 4 and n is not node}
    labels: dict[int, str] = {}
    defs: list[str] = []

    def text(n: Node, top: bool = False) -> str:
        if not top and id(n) in shared:
            if id(n) not in labels:
                labels[id(n)] = f"#{len(labels) + 1}"
                defs.append(f"{labels[id(n)]} = {text(n, True)}")
            return labels[id(n)]
        k = n.kind
        if k == EMPTY_K:
            return "()"
        if k == NOTHING_K:
            return "[]"
        if k == CHARS:
            return _ranges_text(n.ranges, _cp_text)
        if k == BYTES:
            return _ranges_text(_byte_ranges(n.mask), lambda b, c: _cp_text(b, c) if b < 0x80 else f"\\x{b:02x}")
        if k == CONCAT:
            parts, cur = [], n
            while cur.kind == CONCAT:
                parts.append(cur.kids[0])
                cur = cur.kids[1]
            parts.append(cur)
            return "".join(f"({text(p)})" if p.kind == ALT and id(p) not in shared else text(p) for p in parts)
        if k == ALT:
            return "|".join(sorted(text(c) for c in n.kids))
        body = text(n.kids[0])
        if n.kids[0].kind in (CONCAT, ALT) and id(n.kids[0]) not in shared:
            body = f"({body})"
        lo, hi = n.lo, n.hi
        q = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((lo, hi))
        if q is None:
            q = f"{{{lo},}}" if hi is None else f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"
        return body + q

    main = text(node, True)
    out = "\n".join([main, *defs])
    if max_chars is not None and len(out) > max_chars:
        out = out[: max_chars - 3] + "..."
    return out
