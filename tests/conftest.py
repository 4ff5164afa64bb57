"""Shared fixtures. Tier 0 tests need nothing; tier 1 tests use the tiny random model.

``shared_data`` points at ``../shared/data`` (evaluation data, never copied here). In a
user's fresh clone it is absent and those tests skip with a reason; CI sets
``STRUCTDIFF_REQUIRE_SHARED=1`` and then its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STRUCTDIFF_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; skips (or fails under CI's STRUCTDIFF_REQUIRE_SHARED=1) when missing."""
    if not SHARED_DATA.is_dir():
        msg = f"evaluation data not found at {SHARED_DATA} (it lives in ../shared/data beside the clone)"
        if os.environ.get("STRUCTDIFF_REQUIRE_SHARED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model():
    """The built-in tiny random DiffusionGemma, canvas 64 (shared by the whole session)."""
    from structdiff.backend import load_model

    return load_model("tiny-random", canvas_length=64, seed=0)


@pytest.fixture(scope="session")
def tiny_model_256():
    """The tiny random DiffusionGemma with the real model's canvas of 256."""
    from structdiff.backend import load_model

    return load_model("tiny-random", canvas_length=256, seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model):
    return tiny_model.tokenizer
