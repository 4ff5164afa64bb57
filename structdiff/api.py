"""The public calls: generate / generate_regex / choice / generate_json / solve_sudoku, and Generator.

Each one-shot function builds a ``Generator`` (compile once) and calls it; keep a
``Generator`` yourself to reuse a compiled constraint across prompts and batches.

Arguments are checked here, at the edge, before any compiling or model work: wrong types and
out-of-range values raise ``InputError`` naming the fix; ``LIMITS`` holds the upper bounds
(raise one by assigning to it, e.g. ``structdiff.api.LIMITS["max_passes"] = 4096``).

Threads: one model (and one ``Generator``) may be shared by threads that call these functions
at once; each call has its own random generator and sampler state, compiled automata are
read-only and their caches are locked.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from .errors import GenerationError, InputError, SchemaError, StructDiffError, ValidatorError, clip
from .limits import LIMITS, SEED_BOUND, check_int

__all__ = ["LIMITS", "GenerationResult", "Generator", "check_sampler_options", "choice", "encode_prompts",
           "generate", "generate_json", "generate_regex", "make_generator", "resolve_model"]

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
    from .constraints.edge import check_text

    batched = not isinstance(prompts, str)
    if batched and not isinstance(prompts, (list, tuple)):
        raise InputError(f"prompt must be a str or a list of str (a batch), got {type(prompts).__name__}"
                         + (": a dict is not a batch; pass list(d.values())" if isinstance(prompts, Mapping) else ""))
    items = list(prompts) if batched else [prompts]
    if batched and not items:
        raise InputError("the batch of prompts is empty")
    tok = model.tokenizer
    encoded = []
    for i, p in enumerate(items):
        which = f"prompt {i} of the batch" if batched else "the prompt"
        if not isinstance(p, str):
            raise InputError(f"{which} must be a str, got {type(p).__name__}")
        if not p.strip():
            raise InputError(f"{which} is empty: say what the output should contain")
        check_text(p, which)
        encoded.append(tok.encode_prompt(p))
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
        raise InputError(f"seed must be an int or None, got {type(seed).__name__} {clip(seed, 60)}")
    elif not 0 <= seed < SEED_BOUND:
        raise InputError(f"seed must be in 0 .. 2**64-1, got {clip(seed, 60)}: reduce it, e.g. seed % 2**64")
    else:
        g.manual_seed(seed)
    return g


def check_sampler_options(max_tokens: Any, options: Mapping[str, Any]) -> None:
    """``InputError`` for a bad ``max_tokens`` or sampler option (unknown name, wrong type, out of range)."""
    from .sampler import SamplerConfig

    check_int("max_tokens", max_tokens, 1, LIMITS["max_tokens"])
    known = {f.name for f in fields(SamplerConfig)} - {"max_tokens"}
    passes = check_int("max_passes", options.get("max_passes", SamplerConfig.max_passes), 1, LIMITS["max_passes"])
    for name, v in options.items():
        if name not in known:
            raise InputError(f"unknown option {name!r}; sampler options are {', '.join(sorted(known))} (the "
                             f"canvas length is the model's: load_model('tiny-random', canvas_length=...))")
        if name == "max_passes":
            continue
        if name == "stability_threshold":
            check_int(name, v, 0, passes)
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {clip(v, 60)}")


def _check_output(comp: Any, text: str) -> list:
    """The validators' violations of ``text``; their own failures become ``ValidatorError``."""
    try:
        bad = comp.check(text)
    except StructDiffError:
        raise
    except RecursionError:
        raise SchemaError(f"validating the output against {clip(repr(comp.constraint), 120)} recursed without end "
                          f"(a $ref cycle on one value?): remove the cycle") from None
    except Exception as e:  # user validator code: anything it raises is its failure
        raise ValidatorError(f"a validator of {clip(repr(comp.constraint), 120)} raised {type(e).__name__}: "
                             f"{clip(str(e))}; validators reject by returning Violation objects (pydantic "
                             f"validators: by raising ValueError or AssertionError): fix the validator",
                             original=e) from e
    if not isinstance(bad, list) or not all(isinstance(getattr(v, "start", None), int) and
                                             isinstance(getattr(v, "end", None), int) and
                                             isinstance(getattr(v, "message", None), str) for v in bad):
        raise ValidatorError(f"a validator of {clip(repr(comp.constraint), 120)} returned {clip(bad, 80)}; "
                             f"check(text) must return a list of Violation(start, end, message)")
    return bad


def _parse_output(comp: Any, text: str, row: int) -> Any:
    """``constraint.parse(text)`` of a validated output; a parse that now rejects it is a ``GenerationError``."""
    try:
        return comp.constraint.parse(text)
    except StructDiffError:
        raise
    except ValueError as e:  # pydantic's ValidationError is a ValueError
        raise GenerationError(f"row {row}: the validators accepted the output, then parsing it failed: "
                              f"{clip(' '.join(str(e).split()))}; a validator that answers differently for the same "
                              f"text (randomness, state, time) cannot be enforced: make it deterministic",
                              last_output=text, messages=[clip(str(e))]) from None
    except Exception as e:  # user parse/validator code
        raise ValidatorError(f"row {row}: parsing the output raised {type(e).__name__}: {clip(str(e))}; fix the "
                             f"validator or model code it runs", original=e) from e


@dataclass
class GenerationResult:
    """One output: ``.text``, the parsed ``.value`` (the text for regex/choices) and ``.stats``.

    ``stats`` keys: passes, tokens, tokens_per_pass, accepted, renoised, repair_rounds, seconds.
    """

    text: str
    value: Any
    stats: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


class Generator:
    """A model and a constraint compiled once, reused across prompts and batches.

    Parameters
    ----------
    model : DiffusionModel, str or None
        ``None`` for the default model.
    constraint : Constraint or sequence of Constraint
        One for every row, or one per row of each batch (mixed constraints).
    max_tokens : int
        Token budget per output.
    max_repair_rounds : int
        Re-noise/denoise rounds for validator violations before ``GenerationError``.
    observers : sequence of CanvasHook
        Hooks that watch every pass (their ``observe`` gets each ``PassRecord``, after the constraint's
        hook has filled ``record.extra``): live views, traces. They must not change the sampling.
    **sampler_options
        ``SamplerConfig`` fields (``max_passes``, ``t_min``, ...).

    Examples
    --------
    >>> gen = Generator(None, Constraint.from_regex(r"[0-9]{3}-[0-9]{4}"))
    >>> gen("Phone number:", seed=0).text
    """

    def __init__(self, model: Any, constraint: Any, *, max_tokens: int = 256, max_repair_rounds: int = 3,
                 observers: Sequence[Any] = (), **sampler_options: Any):
        from .constraints import Constraint
        from .sampler import SamplerConfig
        from .sampler.hooks import CanvasHook

        check_sampler_options(max_tokens, sampler_options)
        self.max_repair_rounds = check_int("max_repair_rounds", max_repair_rounds, 0, LIMITS["max_repair_rounds"])
        if isinstance(observers, (str, bytes, Mapping)) or not hasattr(observers, "__iter__"):
            raise InputError(f"observers must be a list of CanvasHook objects, got {type(observers).__name__}")
        self.observers = tuple(observers)
        for o in self.observers:
            if not isinstance(o, CanvasHook):
                raise InputError(f"observer {clip(o, 60)} must be a CanvasHook (override its observe(record) method)")
        many = isinstance(constraint, (list, tuple))
        items = list(constraint) if many else [constraint]
        if not items:
            raise InputError("the list of constraints is empty")
        for c in items:
            if not isinstance(c, Constraint) and not callable(getattr(c, "compile", None)):
                raise InputError(f"constraint must be a Constraint, got {type(c).__name__}")
        self.model = resolve_model(model)
        self.config = SamplerConfig(max_tokens=max_tokens, **sampler_options)
        dm = self.model
        self._per_row = many
        self.compiled = [c.compile(dm.tokenizer, canvas_length=dm.canvas_length, max_tokens=max_tokens)
                         for c in items]

    def __call__(self, prompt: str | Sequence[str], *, seed: int | None = None
                 ) -> GenerationResult | list[GenerationResult]:
        """Generate for one prompt (-> result) or a batch (-> list of results, one per prompt)."""
        from .sampler.rng import seed_for_row

        dm = self.model
        ids, mask, batched = encode_prompts(dm, prompt)
        B = ids.shape[0]
        if self._per_row and len(self.compiled) != B:
            raise InputError(f"{len(self.compiled)} constraints for {B} prompts: give one per prompt")
        rows = self.compiled if self._per_row else self.compiled * B
        g = make_generator(seed)
        # per-row counter-based draws: a row's output does not depend on the rest of the batch
        base = seed if seed is not None else int(torch.randint(0, 2**62, (1,), generator=g))
        results: list[GenerationResult | None] = [None] * B
        todo, pins, rounds = list(range(B)), None, 0
        stats = [dict(passes=0, tokens=0, accepted=0, renoised=0, repair_rounds=0, seconds=0.0) for _ in range(B)]
        while True:
            seeds = [seed_for_row(base, b, rounds) for b in todo]
            texts, tokens = self._run([rows[b] for b in todo], ids[todo], mask[todo], g, pins, todo, stats, seeds)
            failed, new_pins = [], []
            for k, b in enumerate(todo):
                comp, text = rows[b], texts[k]
                guard = getattr(comp, "matches_tokens", None)
                if not (guard(tokens[k]) if guard is not None else comp.matches(text)):
                    raise StructDiffError(f"row {b}: output does not match the constraint (internal invariant "
                                          f"broken; please report): {clip(repr(text), 80)}")
                bad = _check_output(comp, text)
                if not bad:
                    stats[b]["repair_rounds"] = rounds
                    results[b] = GenerationResult(text, _parse_output(comp, text, b), stats[b])
                    continue
                if rounds >= self.max_repair_rounds:
                    raise GenerationError(
                        f"row {b}: validators still reject the output after {rounds} repair rounds: "
                        f"{clip(bad[0].message)}; raise max_repair_rounds or relax the constraint",
                        last_output=text, messages=[clip(v.message) for v in bad])
                from .constraints.repair import repair_pins

                failed.append(b)
                new_pins.append(repair_pins(dm.tokenizer, tokens[k], text, bad, rounds + 1))
            if not failed:
                break
            todo, pins, rounds = failed, new_pins, rounds + 1
        for s in stats:
            s["tokens_per_pass"] = s["tokens"] / s["passes"] if s["passes"] else 0.0
        return results if batched else results[0]

    def _run(self, rows, ids, mask, g, pins, todo, stats, seeds) -> tuple[list[str], list[list[int]]]:
        """One denoising call for the rows ``todo``; accumulates their stats."""
        from .sampler import denoise

        dm = self.model
        make = getattr(rows[0], "make_hook", None)
        if make is not None:
            if pins is not None or any(r is not rows[0] for r in rows):
                raise InputError("this constraint cannot share a batch with other constraints or be repaired")
            hook = make(len(rows))
        else:
            kinds = {r.hook_class for r in rows}
            if len(kinds) != 1:
                raise InputError("these constraints need different samplers: batch them separately")
            hook = kinds.pop()(rows, pins=pins, seeds=seeds)
        if self.observers:
            from .sampler.hooks import HookChain

            hook = HookChain([hook, *self.observers])
        t0 = time.perf_counter()
        out = denoise(dm, ids, config=self.config, hook=hook, generator=g, attention_mask=mask)
        n = self.config.max_tokens
        tokens = [row[:n].tolist() for row in out.tokens]
        for k, b in enumerate(todo):
            rs = out.rows[k]
            stats[b]["passes"] += rs.passes
            stats[b]["tokens"] = rs.tokens
            stats[b]["accepted"] += sum(rs.accepted_per_pass)
            stats[b]["renoised"] += sum(rs.renoised_per_pass)
            stats[b]["seconds"] += time.perf_counter() - t0
        return [dm.tokenizer.decode(t) for t in tokens], tokens


def _constraint_from(regex: str | None, choices: Sequence[str] | None, grammar: str | None):
    from .constraints import Constraint

    given = [k for k, v in (("regex", regex), ("choices", choices), ("grammar", grammar)) if v is not None]
    if len(given) > 1:
        raise InputError(f"give at most one of regex=, choices=, grammar= (got {', '.join(given)})")
    if regex is not None:
        return Constraint.from_regex(regex)
    if choices is not None:
        return Constraint.from_choices(choices)
    if grammar is not None:
        return Constraint.from_lark(grammar)
    return None


def generate(prompt: str | Sequence[str], model: Any = None, *, regex: str | None = None,
             choices: Sequence[str] | None = None, grammar: str | None = None, max_tokens: int = 256,
             seed: int | None = None, return_result: bool = False, **sampler_options: Any) -> Any:
    """Generate text, optionally constrained by a regex, a list of choices or a Lark grammar.

    Parameters
    ----------
    prompt : str or list of str
        One prompt, or a batch.
    model : DiffusionModel, str or None
        ``None`` for the default model.
    regex, choices, grammar : optional
        At most one: the whole output matches ``regex`` / is one of ``choices`` / parses with ``grammar``.
    max_tokens : int
        Token budget (rounded up to whole canvases by the sampler, output cut at EOS).
    seed : int, optional
        Same seed, same output.
    return_result : bool
        Return ``GenerationResult`` (text, value = text, stats), constrained or not, so the two compare.

    Returns
    -------
    str or list of str
        Constrained outputs always satisfy the constraint (or an error is raised).
    """
    from .sampler import SamplerConfig, denoise

    check_sampler_options(max_tokens, sampler_options)
    constraint = _constraint_from(regex, choices, grammar)
    if constraint is not None:
        res = Generator(model, constraint, max_tokens=max_tokens, **sampler_options)(prompt, seed=seed)
        if return_result:
            return res
        return [r.text for r in res] if isinstance(res, list) else res.text
    dm = resolve_model(model)
    config = SamplerConfig(max_tokens=max_tokens, **sampler_options)
    ids, mask, batched = encode_prompts(dm, prompt)
    out = denoise(dm, ids, config=config, generator=make_generator(seed), attention_mask=mask)
    texts = [dm.tokenizer.decode(row[:max_tokens].tolist()) for row in out.tokens]
    if return_result:
        res = [GenerationResult(t, t, dict(passes=r.passes, tokens=r.tokens, tokens_per_pass=r.tokens_per_pass,
                                           accepted=sum(r.accepted_per_pass), renoised=sum(r.renoised_per_pass),
                                           repair_rounds=0, seconds=out.seconds))
               for t, r in zip(texts, out.rows)]
        return res if batched else res[0]
    return texts if batched else texts[0]


def generate_regex(pattern: str, prompt: str | Sequence[str], model: Any = None, **kw: Any) -> str | list[str]:
    """Text whose whole matches ``pattern`` (Rust regex syntax); ``kw`` as for ``generate``."""
    return generate(prompt, model, regex=pattern, **kw)


def choice(options: Sequence[str], prompt: str | Sequence[str], model: Any = None, **kw: Any) -> str | list[str]:
    """One of ``options`` (exactly); ``kw`` as for ``generate``."""
    return generate(prompt, model, choices=options, **kw)


def solve_sudoku(puzzle: Any, model: Any = None, *, size: int | None = None, seed: int | None = None,
                 max_passes: int = 48, allow_multiple: bool = False, time_limit: float = 60.0, observers=()):
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
        Seconds of model passes; after them the solver finishes the grid (checking the puzzle has its own
        30 s bound).
    observers : sequence of CanvasHook
        Hooks that only watch each pass (live views, traces).

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

    grid, unique = validate_puzzle(puzzle, size, allow_multiple=allow_multiple)
    dm = resolve_model(model)
    ids, mask, _ = encode_prompts(dm, sudoku_prompt(grid))
    return solve_grids(dm, [grid], ids, mask, make_generator(seed), max_passes=max_passes, time_limit=time_limit,
                       unique=[unique], observers=observers)[0]


def generate_json(schema: Any, prompt: str | Sequence[str], model: Any = None, *, max_tokens: int = 256,
                  seed: int | None = None, whitespace: str = "compact", max_repair_rounds: int = 3,
                  return_result: bool = False, schema_options: dict | None = None, **sampler_options: Any) -> Any:
    """A JSON value valid under ``schema`` (a JSON Schema dict/str or a pydantic model class).

    Parameters
    ----------
    schema : dict, bool, str or pydantic BaseModel subclass
        What the output must satisfy.
    prompt : str or list of str
        One prompt, or a batch.
    model : DiffusionModel, str or None
        ``None`` for the default model.
    max_tokens : int
        Token budget; a schema whose smallest instance does not fit raises ``UnsatisfiableError``.
    seed : int, optional
        Same seed, same output.
    whitespace : {"compact", "flexible"}
        Canonical compact JSON, or JSON whitespace allowed between tokens.
    max_repair_rounds : int
        Re-noise rounds for semantic violations (uniqueItems, validators, ...) before ``GenerationError``.
    return_result : bool
        Return ``GenerationResult`` (text, value, stats incl. ``keywords``: automaton vs validator).
    schema_options : dict, optional
        More ``Constraint.from_json_schema`` options (``extra_properties``, ``max_depth``, ``resources``, ...).

    Returns
    -------
    Any
        The parsed value (dict/list/...), a validated model instance for a pydantic model, or a
        ``GenerationResult``; a list of those for a batch.
    """
    from .constraints import Constraint

    if schema_options is not None and not isinstance(schema_options, Mapping):
        raise InputError(f"schema_options must be a dict of Constraint.from_json_schema options, got "
                         f"{type(schema_options).__name__}")
    check_sampler_options(max_tokens, sampler_options)
    opts = dict(schema_options or {}, whitespace=whitespace)
    make = Constraint.from_pydantic if isinstance(schema, type) else Constraint.from_json_schema
    constraint = make(schema, **opts)
    gen = Generator(model, constraint, max_tokens=max_tokens, max_repair_rounds=max_repair_rounds,
                    **sampler_options)
    res = gen(prompt, seed=seed)
    for r in res if isinstance(res, list) else [res]:
        r.stats["keywords"] = constraint.report
    if return_result:
        return res
    return [r.value for r in res] if isinstance(res, list) else res.value
