"""Compiled constraints shared across requests: an LRU of futures, compiled in worker threads.

Requests with the same output spec and token budget share one compile, even when they
arrive together (the second waits on the first's future). A spec that fails to compile
fails the same way again, so the error is cached too; unexpected failures are not.
Compiles run in their own small thread pool, never on the event loop and never in the
model's thread, so a slow or broken schema does not hold up the batch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import GrammarError, InputError, SchemaError, UnsatisfiableError

__all__ = ["CompileCache"]

_DETERMINISTIC = (SchemaError, GrammarError, UnsatisfiableError, InputError)


class CompileCache:
    """``get(key, build, max_tokens)`` -> a future of the compiled constraint (or of its error).

    Parameters
    ----------
    tokenizer : Tokenizer
        What every constraint compiles for.
    canvas_length : int
        The model's canvas.
    size : int
        Entries kept (least recently used go first).
    workers : int
        Compile threads.
    """

    def __init__(self, tokenizer: Any, canvas_length: int, *, size: int = 256, workers: int = 2):
        self.tokenizer = tokenizer
        self.canvas_length = canvas_length
        self.size = size
        self._lru: OrderedDict[tuple, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="structdiff-compile")
        self.hits = 0
        self.misses = 0

    def get(self, key: str, build: Callable[[], Any], max_tokens: int) -> tuple[Future, bool]:
        """(future of the ``CompiledConstraint``, whether it was already cached or under way)."""
        k = (key, max_tokens)
        with self._lock:
            fut = self._lru.get(k)
            if fut is not None:
                self._lru.move_to_end(k)
                self.hits += 1
                return fut, True
            self.misses += 1
            fut = self._pool.submit(self._compile, build, max_tokens)
            self._lru[k] = fut
            while len(self._lru) > self.size:
                self._lru.popitem(last=False)
        fut.add_done_callback(lambda f: self._forget_unexpected(k, f))
        return fut, False

    def _compile(self, build: Callable[[], Any], max_tokens: int) -> Any:
        return build().compile(self.tokenizer, canvas_length=self.canvas_length, max_tokens=max_tokens)

    def _forget_unexpected(self, k: tuple, fut: Future) -> None:
        exc = fut.exception()
        if exc is not None and not isinstance(exc, _DETERMINISTIC):
            with self._lock:
                if self._lru.get(k) is fut:
                    del self._lru[k]

    def stats(self) -> dict:
        with self._lock:
            return {"entries": len(self._lru), "hits": self.hits, "misses": self.misses}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
