"""The batching scheduler: one model thread denoising every request in flight, block by block.

Each loop turn is one block (one canvas, up to ``max_passes`` passes) for the current batch:

1. rows whose client went away leave; queued requests join, up to ``max_batch`` rows;
2. every row's context (its prompt and its finished blocks) is left-padded into one
   batch and ``sampler.denoise`` runs one block over it with a ``BatchHook`` (one batched
   constraint hook for all automaton rows, each with its own constraint, block, budget and
   draws; plain rows with their own generator);
3. rows whose output ended (EOS or budget) are checked: valid ones are answered, ones a
   validator rejects start a repair round with the rest pinned, ones out of repair rounds
   get a ``GenerationError``; the others stream their new block and stay.

So a request that arrives while a block runs joins at the next block boundary. The model's
cache is rebuilt at every block (one prefill of each row's context) instead of being
carried over: that is what lets the batch change between blocks, and it costs one encoder
pass per block against up to ``max_passes`` canvas passes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..constraints.hook import RowCursor
from ..errors import GenerationError, StructDiffError
from ..sampler import SamplerConfig, denoise
from ..sampler.rng import seed_for_row
from .batch import BatchHook, joins_batches

__all__ = ["Job", "Output", "QueueFull", "Scheduler"]

log = logging.getLogger(__name__)


@dataclass
class Output:
    """A finished row: text, completion tokens, whether the model ended it (EOS), stats."""

    text: str
    completion_tokens: int
    ended: bool
    stats: dict


@dataclass(eq=False)
class Job:
    """One requested output (a request with ``n=3`` is three jobs).

    ``notify(event, payload)`` is called from the model thread: ``("block", text so far)`` after
    each finished block when ``stream`` is set, then ``("done", Output)`` or ``("error", exc)``.
    """

    prompt: list[int]
    compiled: Any  # CompiledConstraint or None (plain text)
    max_tokens: int
    generator: torch.Generator
    notify: Callable[[str, Any], None]
    temperature: float = 1.0
    seed: int | None = None  # key of a constrained row's draws (None: drawn from ``generator``)
    max_repair_rounds: int = 3
    stream: bool = False
    cancelled: bool = False
    # progress, owned by the model thread
    tokens: list = field(default_factory=list)
    block: int = 0
    rounds: int = 0
    hook: Any = None  # the row's own hook, for a constraint that cannot join the batched one
    pins: Any = None  # (tokens, mask) pinned in this repair round
    row_seed: int | None = None  # key of this attempt's counter-based draws
    cursor: RowCursor = field(default_factory=RowCursor)  # automaton state and draws made, between blocks
    submitted: float = field(default_factory=time.perf_counter)
    stats: dict = field(default_factory=lambda: {"passes": 0, "blocks": 0, "repair_rounds": 0, "max_batch_rows": 0,
                                                     "queue_seconds": 0.0, "seconds": 0.0})

    def new_attempt(self, pins: Any = None) -> None:
        """Start the output from its first block (a repair round passes the pinned tokens)."""
        self.tokens, self.block = [], 0
        self.hook, self.pins, self.cursor = None, pins, RowCursor()
        if self.compiled is None:
            return
        if self.seed is None:
            self.seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        # counter-based draws keyed as ``Generator(...)(prompt, seed=seed)`` keys its row 0: the same answer
        self.row_seed = seed_for_row(self.seed, 0, self.rounds)
        if not joins_batches(self.compiled):
            self.hook = self.compiled.hook_class([self.compiled], pins=None if pins is None else [pins],
                                                 seeds=[self.row_seed])


class QueueFull(Exception):
    """The queue has no room for a request's rows; ``retry_after``: whole seconds until it likely has."""

    def __init__(self, queued: int, limit: int, retry_after: int):
        super().__init__(f"the server's queue is full ({queued} rows waiting, at most {limit}): retry after "
                         f"{retry_after} s, or start the server with a larger --max-queue")
        self.retry_after = retry_after


def _as_structdiff(exc: BaseException, what: str) -> StructDiffError:
    return exc if isinstance(exc, StructDiffError) else StructDiffError(f"{what} ({type(exc).__name__}: {exc})")


class Scheduler:
    """The model thread and its queue.

    Parameters
    ----------
    model : DiffusionModel
        The served model.
    max_batch : int
        Rows denoised together at most.
    max_passes : int
        Passes per canvas (the sampler's ``max_passes``).
    max_queue : int
        Rows that may wait for a place in the batch; a request that would exceed it is refused
        (``QueueFull``) as a whole. 0: no limit.
    sampler_options : dict
        Other ``SamplerConfig`` fields.
    """

    def __init__(self, model: Any, *, max_batch: int = 8, max_passes: int = 48, max_queue: int = 0,
                 **sampler_options: Any):
        self.model = model
        self.max_batch = int(max_batch)
        self.max_queue = int(max_queue)
        self.block_seconds = 0.0  # moving average of one block's wall time (for Retry-After)
        self.config = SamplerConfig(max_tokens=model.canvas_length, max_passes=max_passes, **sampler_options)
        self._queue: deque[Job] = deque()
        self._active: list[Job] = []
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.blocks_run = 0
        self.rows_run = 0

    # -- the event-loop side ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="structdiff-model", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, job: Job) -> None:
        self.submit_all([job])

    def submit_all(self, jobs: list[Job]) -> None:
        """Queue every row of one request, or none: ``QueueFull`` when more than ``max_queue`` rows would wait
        for a place in the batch."""
        ready = []
        for job in jobs:
            try:
                job.new_attempt()
            except Exception as exc:  # noqa: BLE001 - a hook that cannot be built fails its request only
                job.notify("error", _as_structdiff(exc, "the constraint hook could not be built"))
                continue
            ready.append(job)
        with self._cv:
            rows = len(self._queue) + len(self._active)  # an idle server takes any request (no starvation)
            if self.max_queue and rows and rows + len(ready) - self.max_batch > self.max_queue:
                raise QueueFull(max(0, rows - self.max_batch), self.max_queue, self._retry_after())
            self._queue.extend(ready)
            self._cv.notify_all()

    def _retry_after(self) -> int:
        """Seconds until the rows now waiting have likely joined the batch (a block per ``max_batch`` of them)."""
        turns = 1 + len(self._queue) // self.max_batch
        return max(1, math.ceil(turns * self.block_seconds))

    def cancel(self, job: Job) -> None:
        """The client went away: the row leaves at the next block boundary (or never joins)."""
        job.cancelled = True
        with self._cv:
            self._cv.notify_all()

    def load(self) -> dict:
        with self._cv:
            return {"active_rows": len(self._active), "queued_rows": len(self._queue), "blocks_run": self.blocks_run,
                    "rows_run": self.rows_run, "max_batch": self.max_batch, "max_queue": self.max_queue}

    # -- the model thread ------------------------------------------------------------------------
    def _run(self) -> None:
        torch.set_grad_enabled(False)
        while True:
            with self._cv:
                while not self._stop and not self._queue and not self._active:
                    self._cv.wait()
                if self._stop:
                    break
                self._active = [j for j in self._active if not j.cancelled]
                while self._queue and len(self._active) < self.max_batch:
                    job = self._queue.popleft()
                    if not job.cancelled:
                        job.stats["queue_seconds"] = time.perf_counter() - job.submitted
                        self._active.append(job)
                batch = list(self._active)
            if batch:
                try:
                    self._step(batch)
                except Exception as exc:  # the model thread must outlive any one batch
                    log.exception("block failed for a batch of %d rows", len(batch))
                    for job in batch:
                        if job in self._active:
                            self._finish(job, "error", _as_structdiff(exc, "the model failed on this batch"))
        for job in self._active + list(self._queue):
            job.notify("error", StructDiffError("the server is shutting down"))

    def _step(self, batch: list[Job]) -> None:
        """One block for every row of ``batch``; finished rows leave ``self._active``."""
        dm = self.model
        L = dm.canvas_length
        pad = dm.tokenizer.pad_id
        contexts = [j.prompt + j.tokens for j in batch]
        width = max(len(c) for c in contexts)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)  # [B, P] left-padded
        mask = torch.zeros((len(batch), width), dtype=torch.bool)
        for k, c in enumerate(contexts):
            ids[k, width - len(c):] = torch.tensor(c, dtype=torch.long)
            mask[k, width - len(c):] = True
        hook = BatchHook(batch, dm.vocab_size, L)
        t0 = time.perf_counter()
        out = denoise(dm, ids, config=self.config, hook=hook, attention_mask=mask)
        dt = time.perf_counter() - t0
        self.block_seconds = dt if not self.blocks_run else 0.8 * self.block_seconds + 0.2 * dt
        self.blocks_run += 1
        self.rows_run += len(batch)
        block_tokens = out.tokens.cpu()  # [B, L]: one host copy per block
        for k, job in enumerate(batch):
            if k in hook.failed:
                self._finish(job, "error", _as_structdiff(hook.failed[k], "the constraint hook failed"))
                continue
            try:
                self._advance(job, block_tokens[k].tolist(), out.rows[k].passes, len(batch))
            except Exception as exc:  # a validator or decoder failing on one row fails that row only
                log.exception("finishing a row failed")
                self._finish(job, "error", _as_structdiff(exc, "checking the output failed"))

    def _advance(self, job: Job, blk: list, passes: int, rows: int) -> None:
        """Append a finished block to ``job``; complete it, or stream the block."""
        dm = self.model
        st = job.stats
        st["passes"] += passes
        st["blocks"] += 1
        st["max_batch_rows"] = max(st["max_batch_rows"], rows)
        job.tokens.extend(blk)
        job.block += 1
        if dm.tokenizer.eos_id in blk or job.block * dm.canvas_length >= job.max_tokens:
            self._complete(job)
        elif job.stream and job.rounds == 0:
            job.notify("block", dm.tokenizer.decode(job.tokens))

    def _complete(self, job: Job) -> None:
        """The row's output is whole: check it, then answer, repair or fail."""
        tok = self.model.tokenizer
        tokens = job.tokens[:job.max_tokens]
        text = tok.decode(tokens)
        comp = job.compiled
        if comp is not None:
            if not comp.matches(text):
                self._finish(job, "error", StructDiffError(
                    f"output does not match the constraint (internal invariant broken; please report): {text[:80]!r}"))
                return
            bad = comp.check(text)
            if bad:
                if job.rounds >= job.max_repair_rounds:
                    self._finish(job, "error", GenerationError(
                        f"validators still reject the output after {job.rounds} repair rounds: {bad[0].message}; "
                        "relax what only a validator can check (uniqueItems, big numeric ranges, lengths combined "
                        "with formats/patterns), or start the server with more --repair-rounds",
                        last_output=text, messages=[v.message for v in bad]))
                    return
                from ..constraints.repair import repair_pins

                job.rounds += 1
                job.stats["repair_rounds"] = job.rounds
                job.new_attempt(repair_pins(tok, tokens, text, bad, job.rounds))
                return
        special = {tok.eos_id, tok.pad_id}
        n = next((i for i, t in enumerate(tokens) if t == tok.eos_id), len(tokens))
        count = sum(1 for t in tokens[:n] if t not in special)
        st = job.stats
        st["seconds"] = time.perf_counter() - job.submitted
        st["tokens_per_pass"] = count / st["passes"] if st["passes"] else 0.0
        self._finish(job, "done", Output(text, count, n < len(tokens), dict(st)))

    def _finish(self, job: Job, event: str, payload: Any) -> None:
        with self._cv:
            if job in self._active:
                self._active.remove(job)
        job.notify(event, payload)
