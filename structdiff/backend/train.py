"""Train the shipped small DiffusionGemma on synthetic structured data (reproducible, CPU).

    python -m structdiff.backend.train --out structdiff/backend/weights --steps 600 --seed 0

Objective: uniform-state (random-token) denoising, as DiffusionGemma is trained. For each
(prompt, target) pair the encoder writes the prompt's KV cache; the target canvas (target, EOS,
then pad) has a fraction ``t ~ U(0, 1)`` of its positions replaced by uniform random tokens;
the decoder predicts the clean token at every position (cross-entropy; positions after the
first pad weigh less). Self-conditioning: for half of the examples a first no-grad pass gives
logits that the graded pass receives as ``self_conditioning_logits`` (``self_conditioning_mask``
switches it per example), as the sampler does from its second pass on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .data import MIXES, Example, example_stream, holdout_strings, schema_hash
from .tokenizer import SPECIAL_TOKENS, Tokenizer, tiny_corpus

__all__ = [
    "build_tokenizer",
    "data_manifest",
    "denoising_loss",
    "example_hashes",
    "hash_strings",
    "make_batch",
    "model_config",
    "retokenize",
    "train",
    "widen_kv_heads",
]

log = logging.getLogger("structdiff.train")

PAD_TAIL_WEIGHT = 0.1  # pad positions after the first one are easy; keep the loss on the content


def build_tokenizer(corpus: Sequence[str], vocab_size: int = 4096, *, space_tokens: bool = False) -> Tokenizer:
    """Byte-level BPE whose digits are always single tokens (one token per Sudoku cell / digit).

    Ids 0-5 are ``<pad> <eos> <bos> <mask> <start_of_turn> <end_of_turn>`` as in Gemma.
    ``space_tokens``: every space is a token of its own, so a word is the same token wherever it
    stands (`` Alice`` in a prompt and ``"Alice`` in JSON both hold ``Alice``): copying a value
    from the prompt becomes copying token ids, at ~20 % more tokens per text.
    """
    from tokenizers import Tokenizer as _Tok
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = _Tok(models.BPE())
    split_spaces = [pre_tokenizers.Split(" ", behavior="isolated")] if space_tokens else []
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        *split_spaces,
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus), trainer=trainer)
    return Tokenizer(tok, pad_id=0, eos_id=1, bos_id=2)


def model_config(vocab_size: int, *, hidden_size: int = 256, num_layers: int = 4, num_experts: int = 4,
                 canvas_length: int = 256, kv_heads: int = 1) -> Any:
    """The shipped model's ``DiffusionGemmaConfig`` (MoE, alternating sliding/full attention)."""
    from .tiny import tiny_config

    return tiny_config(vocab_size, canvas_length=canvas_length, hidden_size=hidden_size, num_layers=num_layers,
                       num_experts=num_experts, top_k_experts=2, max_position_embeddings=2048,
                       num_key_value_heads=kv_heads)


def widen_kv_heads(model: Any, kv_heads: int) -> Any:
    """The same network with ``kv_heads`` key/value heads instead of one (multi-query -> multi-head).

    Every new head starts as a copy of the single shared one, so the widened model computes
    exactly what the old one did (checked); training then lets the heads differ. One 32-wide
    head shared by all query heads (and, in full-attention layers, used as key and value at
    once) is a narrow channel for copying a token of the prompt.
    """
    from transformers import DiffusionGemmaForBlockDiffusion

    text = model.config.text_config
    if text.num_key_value_heads != 1 or text.num_attention_heads % kv_heads:
        raise ValueError(f"can widen one key/value head to a divisor of {text.num_attention_heads}, "
                         f"got {text.num_key_value_heads} -> {kv_heads}")
    cfg = model_config(text.vocab_size, hidden_size=text.hidden_size, num_layers=text.num_hidden_layers,
                       num_experts=text.num_experts, canvas_length=model.config.canvas_length, kv_heads=kv_heads)
    wide = DiffusionGemmaForBlockDiffusion(cfg)
    old = model.state_dict()
    new = {}
    for key, target in wide.state_dict().items():
        src = old[key]
        if src.shape != target.shape and key.endswith(("self_attn.k_proj.weight", "self_attn.v_proj.weight")):
            src = src.repeat(kv_heads, 1)  # [kv_heads * head_dim, hidden]: head h is the old head
        new[key] = src
    wide.load_state_dict(new)
    return wide


def retokenize(model: Any, old: Tokenizer, new: Tokenizer) -> Any:
    """The same network reading and writing ``new``'s vocabulary instead of ``old``'s.

    Every vocabulary-sized tensor (the encoder's and the decoder's token embeddings, the tied
    output head) gets one row per new token: the mean of the old rows of the old tokens that spell
    the same bytes (a token both vocabularies hold keeps its row exactly; the special tokens keep
    theirs). All other weights are copied. The text is then cut differently (with
    ``space_tokens``, `` Alice`` becomes `` `` + ``Alice``), so the model needs training to adapt,
    but it starts from everything it learned instead of from scratch.
    """
    from transformers import DiffusionGemmaForBlockDiffusion

    text = model.config.text_config
    cfg = model_config(new.vocab_size, hidden_size=text.hidden_size, num_layers=text.num_hidden_layers,
                       num_experts=text.num_experts, canvas_length=model.config.canvas_length,
                       kv_heads=text.num_key_value_heads)
    fresh = DiffusionGemmaForBlockDiffusion(cfg)
    old_vocab = text.vocab_size
    known = {b: i for i, b in enumerate(old.token_bytes) if b is not None and i not in old.special_ids}
    rows: list[list[int]] = []
    for i, spelled in enumerate(new.token_bytes):
        if i in new.special_ids or spelled is None:
            rows.append([i] if i < old_vocab else [old.pad_id])
        elif spelled in known:
            rows.append([known[spelled]])
        else:
            rows.append(old.encode(spelled.decode("utf-8", errors="replace")) or [old.pad_id])
    index = torch.tensor([r[0] for r in rows])
    state = {}
    for key, src in model.state_dict().items():
        if key.endswith(("embed_tokens.weight", "lm_head.weight")):
            mixed = src[index].clone()
            for i, r in enumerate(rows):
                if len(r) > 1:
                    mixed[i] = src[r].mean(0)
            src = mixed
        state[key] = src
    fresh.load_state_dict(state)
    return fresh


def make_batch(tok: Tokenizer, examples: Sequence[Example], canvas_cap: int, rng: random.Random
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(prompt ids ``[B, P]`` left-padded, prompt mask ``[B, P]``, clean canvases ``[B, L]``).

    The canvas is the target, EOS, then pad. ``L`` is the full ``canvas_cap`` a tenth of the
    time, otherwise the smallest multiple of 32 (>= 64) that holds the longest target: shorter
    canvases cost less, full ones teach the tail of a 256 canvas.
    """
    prompts = [tok.encode(ex.prompt, add_bos=True) for ex in examples]
    targets = [tok.encode(ex.target)[: canvas_cap - 1] + [tok.eos_id] for ex in examples]
    longest = max(len(t) for t in targets)
    length = canvas_cap if rng.random() < 0.1 else min(canvas_cap, max(64, 32 * math.ceil(longest / 32)))
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.bool)
    canvas = torch.full((len(prompts), length), tok.pad_id, dtype=torch.long)
    for i, (p, t) in enumerate(zip(prompts, targets)):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = True
        canvas[i, : len(t)] = torch.tensor(t)
    return ids, mask, canvas


def _forward(model: Any, ids: torch.Tensor, mask: torch.Tensor, noisy: torch.Tensor, sc_mask: torch.Tensor,
             ) -> torch.Tensor:
    """Encoder prefill (with grad) + a no-grad self-conditioning pass + the graded pass -> logits [B, L, V]."""
    from transformers.cache_utils import DynamicCache

    width = ids.shape[1]
    length = noisy.shape[1]
    cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    enc_pos = torch.arange(width, device=ids.device).unsqueeze(0)
    model.model.encoder(input_ids=ids, attention_mask=mask, past_key_values=cache, position_ids=enc_pos)
    dec_pos = torch.arange(width, width + length, device=ids.device).unsqueeze(0)
    dec_mask = F.pad(mask, (0, length), value=True)  # [B, P + L]
    kw = {"decoder_input_ids": noisy, "past_key_values": cache, "decoder_attention_mask": dec_mask,
          "decoder_position_ids": dec_pos}
    sc_logits = None
    if bool(sc_mask.any()):
        with torch.no_grad():
            sc_logits = model(**kw).logits.detach()  # [B, L, V]
    return model(**kw, self_conditioning_logits=sc_logits,
                 self_conditioning_mask=sc_mask if sc_logits is not None else None).logits


def denoising_loss(model: Any, ids: torch.Tensor, mask: torch.Tensor, clean: torch.Tensor, *, pad_id: int,
                   generator: torch.Generator, self_conditioning: float = 0.5, t_power: float = 1.0
                   ) -> torch.Tensor:
    """The uniform-state denoising loss of one batch (scalar).

    Parameters
    ----------
    model : DiffusionGemmaForBlockDiffusion
        In train mode.
    ids, mask : torch.Tensor
        Prompt ids and mask ``[B, P]`` (left-padded, BOS first).
    clean : torch.Tensor
        Clean canvases ``[B, L]`` (target, EOS, pad).
    pad_id : int
        Pad id: pad positions after the first one weigh ``PAD_TAIL_WEIGHT``.
    generator : torch.Generator
        Drives the corruption level, the noise tokens and the self-conditioning coin.
    self_conditioning : float
        Probability that a batch gets a self-conditioning pass.
    t_power : float
        Corruption level ``t = u ** t_power``, ``u ~ U(0, 1)``: below 1 favours heavily corrupted
        canvases, like the all-noise canvas every block starts from.
    """
    batch, length = clean.shape
    vocab = model.config.text_config.vocab_size
    dev = clean.device  # noise is drawn on the CPU generator, so a run is the same on any device
    t = torch.rand((batch, 1), generator=generator) ** t_power  # [B, 1] corruption level
    corrupt = (torch.rand((batch, length), generator=generator) < t).to(dev)  # [B, L]
    noise = torch.randint(0, vocab, (batch, length), generator=generator).to(dev)
    noisy = torch.where(corrupt, noise, clean)
    # One coin per batch decides whether the extra no-grad pass runs (it costs a forward); when it
    # runs, 4 in 5 examples use it (per-example mask), the rest learn the first, unconditioned pass.
    use_sc = bool(torch.rand((), generator=generator) < self_conditioning)
    sc_mask = ((torch.rand((batch,), generator=generator) < 0.8) & use_sc).to(dev)  # [B]
    logits = _forward(model, ids, mask, noisy, sc_mask)  # [B, L, V]
    nll = F.cross_entropy(logits.reshape(-1, vocab), clean.reshape(-1), reduction="none").view(batch, length)
    is_pad = clean == pad_id
    tail = is_pad & (is_pad.cumsum(dim=1) > 1)  # every pad but the first
    weight = torch.where(tail, PAD_TAIL_WEIGHT, 1.0)  # [B, L]
    return (nll * weight).sum() / weight.sum()


def data_manifest(seed: int, n_train: int, n_tokenizer: int, exclude: frozenset[str], mix: str = "default"
                  ) -> list[str]:
    """Sorted hashes of every puzzle, solution and schema a run with these settings trained on.

    The training stream (``seed``, family mix ``mix``) and the tokenizer corpus (``seed + 1``)
    are replayed; the result is what ``weights/training_data.sha256`` holds, for the hold-out test.
    """
    out: set[str] = set()
    for s, n in ((seed, n_train), (seed + 1, n_tokenizer)):
        stream = example_stream(s, exclude=exclude, weights=MIXES[mix])
        for _ in range(n):
            out.update(example_hashes(next(stream)))
    return sorted(out)


def example_hashes(ex: Example) -> list[str]:
    """Short hashes of an example's puzzle, solution and schema (what the hold-out check compares)."""
    items = [x for x in (ex.puzzle, ex.solution) if x]
    if ex.schema is not None:
        items.append(schema_hash(ex.schema))
    return hash_strings(items)


def hash_strings(items: Sequence[str]) -> list[str]:
    """Short hashes of puzzle/solution strings and ``schema_hash`` values (as in ``holdout_strings``)."""
    return [hashlib.sha256(x.encode()).hexdigest()[:20] for x in items]


def _save(model: Any, tok: Tokenizer, out: Path, meta: dict, dtype: torch.dtype) -> None:
    """Write the checkpoint atomically (a temp folder renamed over ``out``'s files)."""
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    state_dtype = next(model.parameters()).dtype
    model.to(dtype)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
    finally:
        model.to(state_dtype)
    tok.save(str(tmp / "tokenizer.json"))
    (tmp / "training_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()


def _tokenizer_corpus(args: argparse.Namespace, exclude: frozenset[str]) -> list[str]:
    """The text a new tokenizer is trained on: ``--tokenizer-examples`` examples of stream ``seed + 1``."""
    corpus_stream = example_stream(args.seed + 1, exclude=exclude, weights=MIXES[args.mix])
    corpus = [s for _ in range(args.tokenizer_examples) for ex in [next(corpus_stream)]
              for s in (ex.prompt, ex.target)]
    return corpus + tiny_corpus(args.seed)  # generic code/config/prose lines widen the merges beyond our templates


def train(args: argparse.Namespace) -> dict:
    """Run training as configured by the CLI arguments; returns the final metadata."""
    from transformers import DiffusionGemmaForBlockDiffusion

    from .model import _set_special_ids

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    exclude = holdout_strings(args.holdout)
    log.info("holdout: %d strings/hashes from %s", len(exclude), args.holdout)
    previous: list[str] = []
    if args.init:  # a second stage: go on from a finished run (its tokenizer, weights and manifest)
        init = Path(args.init)
        tok = Tokenizer.from_file(str(init / "tokenizer.json"))
        model = DiffusionGemmaForBlockDiffusion.from_pretrained(init, dtype=torch.float32)
        if args.kv_heads and args.kv_heads != model.config.text_config.num_key_value_heads:
            model = widen_kv_heads(model, args.kv_heads)
        n_tok_examples = 0
        if args.space_tokens:  # a new vocabulary, the network carried over (see retokenize)
            new_tok = build_tokenizer(_tokenizer_corpus(args, exclude), args.vocab_size or tok.vocab_size,
                                      space_tokens=True)
            model, tok = retokenize(model, tok, new_tok), new_tok
            n_tok_examples = args.tokenizer_examples
        cfg = model.config
        previous = (init / "training_data.sha256").read_text().split()
    else:
        tok = build_tokenizer(_tokenizer_corpus(args, exclude), args.vocab_size or 4096,
                              space_tokens=args.space_tokens)
        cfg = model_config(tok.vocab_size, hidden_size=args.hidden, num_layers=args.layers, num_experts=args.experts,
                           kv_heads=args.kv_heads or 1)
        model = DiffusionGemmaForBlockDiffusion(cfg)
        n_tok_examples = args.tokenizer_examples
    _set_special_ids(model, tok)
    device = torch.device(args.device)
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("vocab %d, params %.2fM", tok.vocab_size, n_params / 1e6)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps)))))
    stream = example_stream(args.seed, exclude=exclude, weights=MIXES[args.mix])
    out = Path(args.out)
    save_dtype = torch.bfloat16 if args.save_dtype == "bfloat16" else torch.float32
    model.train()
    start, ema, step = time.time(), None, 0
    meta: dict = {}
    last = min(args.steps, args.stop_at or args.steps)
    for step in range(1, last + 1):
        batch = [next(stream) for _ in range(args.batch)]
        ids, mask, clean = (x.to(device) for x in make_batch(tok, batch, cfg.canvas_length, rng))
        loss = denoising_loss(model, ids, mask, clean, pad_id=tok.pad_id, generator=gen, t_power=args.t_power)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        elapsed = time.time() - start
        if step % args.log_every == 0 or step == 1:
            log.info("step %d loss %.4f ema %.4f lr %.2e canvas %d %.1fs", step, loss.item(), ema,
                     sched.get_last_lr()[0], clean.shape[1], elapsed)
        meta = {"init": args.init, "steps": step, "seed": args.seed, "batch": args.batch, "mix": args.mix, "final_loss_ema": round(ema, 4),
                "seconds": round(elapsed, 1), "params": n_params, "vocab_size": tok.vocab_size,
                "argv": sys.argv[1:]}
        if step % args.save_every == 0 or step == last or elapsed > args.max_minutes * 60:
            model.eval()
            _save(model, tok, out, meta, save_dtype)
            model.train()
            if elapsed > args.max_minutes * 60:
                log.info("time budget reached at step %d", step)
                break
    hashes = set(data_manifest(args.seed, meta["steps"] * args.batch, n_tok_examples, exclude, args.mix))
    hashes |= set(previous)
    (out / "training_data.sha256").write_text("\n".join(sorted(hashes)) + "\n")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="structdiff/backend/weights")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--stop-at", type=int, default=None,
                   help="end after this step (the schedule still spans --steps): replays a time-cut run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, help="go on from this finished run's folder (second stage)")
    p.add_argument("--mix", choices=sorted(MIXES), default="default",
                   help="family mix of the training stream (data.MIXES)")
    p.add_argument("--t-power", type=float, default=1.0, help="corruption t = u ** t_power")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--experts", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=None,
                   help="key/value heads (from scratch: default 1; with --init: widen a 1-head model to this many)")
    p.add_argument("--vocab-size", type=int, default=None,
                   help="size of a new tokenizer (default 4096 from scratch, the --init model's with --space-tokens)")
    p.add_argument("--space-tokens", action="store_true",
                   help="a new tokenizer keeps every space a token of its own (see build_tokenizer); with --init "
                        "the network is carried over to it (see retokenize)")
    p.add_argument("--tokenizer-examples", type=int, default=6000)
    p.add_argument("--holdout", default=str(Path(__file__).resolve().parents[3] / "shared" / "data"),
                   help="evaluation data kept out of training (../shared/data)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu or cuda (a GPU trains the same recipe far longer)")
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--max-minutes", type=float, default=45.0)
    p.add_argument("--save-dtype", choices=["float32", "bfloat16"], default="float32")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    meta = train(args)
    log.info("done: %s", json.dumps(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
