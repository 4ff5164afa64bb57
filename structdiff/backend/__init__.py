"""Model loading and the model wrapper: the only layer that imports transformers' model code."""

from __future__ import annotations

from pathlib import Path

from .model import Context, DiffusionModel, build_tiny_model, load_model
from .tokenizer import Tokenizer, build_tiny_tokenizer

__all__ = ["Context", "DiffusionModel", "Tokenizer", "build_tiny_model", "build_tiny_tokenizer", "load_model",
           "default_model_path"]

_SHIPPED = Path(__file__).with_name("weights")


def default_model_path() -> Path | None:
    """The shipped small model's folder, or ``None`` while none is installed."""
    return _SHIPPED if (_SHIPPED / "config.json").is_file() else None
