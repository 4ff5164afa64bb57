"""The ``structdiff serve`` verb and ``serve(...)``, the same from Python."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import BackendError, InputError

__all__ = ["add_arguments", "cmd_serve", "load_app", "serve"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The verb's options (no FastAPI import: the CLI's help works without the extra)."""
    p.add_argument("--model", default=None, help="model name or path (default: the shipped small model; "
                   "tiny-random for the built-in random one)")
    p.add_argument("--served-model-name", default=None, help="the model id clients send (default: --model, or "
                   "'structdiff-small')")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    p.add_argument("--dtype", default=None, help="e.g. bfloat16 for the real model on a GPU")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-batch", type=int, default=8, help="requests denoised together at most (default 8)")
    p.add_argument("--max-passes", type=int, default=48, help="model passes per canvas (default 48)")
    p.add_argument("--max-queue", type=int, default=256, help="rows that may wait for the batch before requests "
                   "get 503 + Retry-After (default 256; 0: no limit)")
    p.add_argument("--max-tokens", type=int, default=256, help="budget of a chat request that sets none (default 256)")
    p.add_argument("--repair-rounds", type=int, default=3, help="validator repair rounds before a 422 (default 3)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("-q", "--quiet", action="store_true", help="no startup line")
    p.add_argument("--debug", action="store_true", help="full tracebacks on startup failures")


def load_app(model: Any, *, served_name: str | None = None, max_batch: int = 8, max_passes: int = 48,
             max_tokens: int = 256, max_repair_rounds: int = 3, max_queue: int = 256):
    """(FastAPI app, ServeState) for ``model`` (a ``DiffusionModel``)."""
    try:
        from .app import ServeState, create_app
    except ImportError as exc:
        raise BackendError(f"the server needs FastAPI and uvicorn ({exc.name} is missing): "
                           "pip install 'structdiff[serve]'") from None
    for name, v in (("max_batch", max_batch), ("max_passes", max_passes), ("max_tokens", max_tokens)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{name} must be an int >= 1, got {v!r}")
    if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
        raise InputError(f"max_queue must be an int >= 0 (0: no limit), got {max_queue!r}")
    state = ServeState(model, served_name=served_name or "structdiff-small", max_batch=max_batch,
                       max_passes=max_passes, max_tokens=max_tokens, max_repair_rounds=max_repair_rounds,
                       max_queue=max_queue)
    return create_app(state), state


def serve(model: Any = None, *, host: str = "127.0.0.1", port: int = 8000, served_name: str | None = None,
          device: str = "cpu", dtype: str | None = None, log_level: str = "info", **options: Any) -> None:
    """Load ``model`` and serve it until interrupted (``options``: see ``load_app``)."""
    from ..backend import DiffusionModel, load_model

    try:
        import uvicorn
    except ImportError:
        raise BackendError("the server needs uvicorn: pip install 'structdiff[serve]'") from None
    dm = model if isinstance(model, DiffusionModel) else load_model(model, device=device, dtype=dtype)
    name = served_name or (model if isinstance(model, str) else None)
    app, _ = load_app(dm, served_name=name, **options)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def cmd_serve(args) -> int:
    """``structdiff serve``: the OpenAI-compatible server (blocks until Ctrl-C)."""
    if not args.quiet:
        print(f"structdiff: serving {args.served_model_name or args.model or 'structdiff-small'} on "
              f"http://{args.host}:{args.port}/v1 (max batch {args.max_batch})", file=sys.stderr, flush=True)
    serve(args.model, host=args.host, port=args.port, served_name=args.served_model_name, device=args.device,
          dtype=args.dtype, log_level=args.log_level, max_batch=args.max_batch, max_passes=args.max_passes,
          max_tokens=args.max_tokens, max_repair_rounds=args.repair_rounds, max_queue=args.max_queue)
    return 0
