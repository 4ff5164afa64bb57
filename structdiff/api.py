"""The public calls: generate / generate_regex / choice / generate_json / solve_sudoku, and Generator.

Each one-shot function builds a ``Generator`` (compile once) and calls it; keep a
``Generator`` yourself to reuse a compiled constraint across prompts and batches.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import torch

from .errors import InputError

__all__ = ["generate", "resolve_model", "encode_prompts", "make_generator"]

_DEFAULT_MODEL: dict[str, Any] = {}
_LOCK = threading.Lock()


def resolve_model(model: Any = None):
    """``None`` -> the default model (loaded once per process); a name/path -> ``load_model``; else as is."""
    from .backend import DiffusionModel, load_model

    if isinstance(model, DiffusionModel):
        return model
    if model is None or isinstance(model, str):
        key = model or "<default>"
        with _LOCK:
            if key not in _DEFAULT_MODEL:
                _DEFAULT_MODEL[key] = load_model(model)
            return _DEFAULT_MODEL[key]
    raise InputError(f"model must be None, a name/path, or a DiffusionModel; got {type(model).__name__}")


def encode_prompts(model, prompts: str | Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Prompt(s) -> (ids ``[B, P]`` left-padded, attention mask ``[B, P]``, was_batch).

    Mixed lengths in a batch are left-padded with the pad token and masked out.
    """
    batched = not isinstance(prompts, str)
    items = list(prompts) if batched else [prompts]
    if batched and not items:
        raise InputError("the batch of prompts is empty")
    tok = model.tokenizer
    encoded = []
    for i, p in enumerate(items):
        if not isinstance(p, str):
            raise InputError(f"prompt {i} must be a str, got {type(p).__name__}")
        if not p.strip():
            raise InputError("the prompt is empty: say what the output should contain" +
                             (f" (prompt {i} of the batch)" if batched else ""))
        encoded.append(tok.encode(p, add_bos=True))
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.bool)
    for i, e in enumerate(encoded):
        ids[i, width - len(e):] = torch.tensor(e, dtype=torch.long)
        mask[i, width - len(e):] = True
    return ids, mask, batched


def make_generator(seed: int | None) -> torch.Generator:
    """A CPU ``torch.Generator``: seeded when ``seed`` is an int, fresh entropy when ``None``."""
    g = torch.Generator(device="cpu")
    if seed is None:
        g.seed()
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
    else:
        g.manual_seed(seed)
    return g


def generate(prompt: str | Sequence[str], model: Any = None, *, max_tokens: int = 256, seed: int | None = None,
             **sampler_options: Any) -> str | list[str]:
    """Generate text with no constraint.

    Parameters
    ----------
    prompt : str or list of str
        One prompt, or a batch.
    model : DiffusionModel, str or None
        ``None`` for the default model.
    max_tokens : int
        Token budget (rounded up to whole canvases by the sampler, output cut at EOS).
    seed : int, optional
        Same seed, same output.

    Returns
    -------
    str or list of str
    """
    from .sampler import SamplerConfig, denoise

    dm = resolve_model(model)
    config = SamplerConfig(max_tokens=max_tokens, **sampler_options)
    ids, mask, batched = encode_prompts(dm, prompt)
    out = denoise(dm, ids, config=config, generator=make_generator(seed), attention_mask=mask)
    texts = [dm.tokenizer.decode(row[:max_tokens].tolist()) for row in out.tokens]
    return texts if batched else texts[0]


def solve_sudoku(puzzle: Any, model: Any = None, *, size: int | None = None, seed: int | None = None,
                 max_passes: int = 48, allow_multiple: bool = False, time_limit: float = 60.0):
    """Solve a Sudoku with the model proposing digits and propagation + a complete solver guiding it.

    Parameters
    ----------
    puzzle : str or list of lists
        81 (9x9) or 16 (4x4) characters with ``0``/``.`` for blanks, or rows of ints (0 = blank).
    model : DiffusionModel, str or None
        ``None`` for the default model.
    size : {9, 4}, optional
        Expected size; inferred from the input when ``None``.
    seed : int, optional
        Same seed, same result.
    max_passes : int
        Model passes per canvas; the solver finishes whatever is left after them.
    allow_multiple : bool
        Return one valid solution of a puzzle with several, instead of raising.
    time_limit : float
        Seconds for checking the puzzle and for model passes (the solver then finishes).

    Returns
    -------
    SudokuResult
        ``.grid``, ``str(result)``, ``.valid``, ``.passes``, ``.cells_by_model``, ``.cells_by_propagation``,
        ``.cells_by_solver``, ``.solver_stepped_in``, ``.seconds``.

    Raises
    ------
    PuzzleLengthError, PuzzleCharacterError, ContradictingCluesError, UnsolvablePuzzleError, MultipleSolutionsError
        (from ``structdiff.constraints.sudoku``) for bad puzzles.
    """
    from .constraints.sudoku import sudoku_prompt, validate_puzzle
    from .constraints.sudoku_solve import solve_grids

    grid, unique = validate_puzzle(puzzle, size, allow_multiple=allow_multiple, time_limit=time_limit)
    dm = resolve_model(model)
    ids, mask, _ = encode_prompts(dm, sudoku_prompt(grid))
    return solve_grids(dm, [grid], ids, mask, make_generator(seed), max_passes=max_passes, time_limit=time_limit,
                       unique=[unique])[0]
