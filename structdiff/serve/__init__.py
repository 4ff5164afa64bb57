"""``structdiff serve``: an OpenAI-compatible HTTP server that batches requests into shared denoising passes.

Modules, each importing only those above it in this list: ``protocol`` (request schema,
error shape), ``tools`` (tool-call envelope), ``spec`` (request -> output constraint),
``cache`` (compiled constraints, LRU), ``prompts`` (chat -> ids), ``batch`` (per-row hooks
in one block), ``scheduler`` (the model thread), ``responses`` (response bodies), ``app``
(FastAPI), ``command`` (the CLI verb). FastAPI and uvicorn come with ``structdiff[serve]``
and are imported only here, never by ``import structdiff``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ServeState", "create_app", "serve"]

_LAZY = {"ServeState": "structdiff.serve.app", "create_app": "structdiff.serve.app",
         "serve": "structdiff.serve.command"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'structdiff.serve' has no attribute {name!r}")
