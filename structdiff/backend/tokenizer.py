"""Tokenizers: one small wrapper over Hugging Face ``tokenizers`` / transformers tokenizers.

The constraint engine needs, for every token id, the exact bytes it stands for
(``None`` for special tokens). Byte-level BPE (GPT-2 byte-to-unicode mapping) and
SentencePiece-style vocabularies (``▁`` for space, ``<0xNN>`` byte fallback, as in
Gemma) are both understood.
"""

from __future__ import annotations

import hashlib
import json
import random
from functools import cached_property
from typing import Any, Iterable, Sequence

from ..errors import BackendError, InputError

__all__ = ["Tokenizer", "build_tiny_tokenizer", "SPECIAL_TOKENS"]

# Gemma-like special tokens; ids 0..3 match the shared 262k benchmark vocabulary.
SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<mask>", "<start_of_turn>", "<end_of_turn>")


def _gpt2_byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode table: printable unicode char -> byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class Tokenizer:
    """A tokenizer as structdiff sees it: ids <-> text, and the bytes of every token.

    Parameters
    ----------
    backend : tokenizers.Tokenizer
        The fast tokenizer doing the work.
    pad_id, eos_id, bos_id : int
        Special ids. ``eos_id`` ends an output; ``pad_id`` fills a canvas after it.
    """

    def __init__(self, backend: Any, *, pad_id: int, eos_id: int, bos_id: int | None):
        self._tok = backend
        self.pad_id = int(pad_id)
        self.eos_id = int(eos_id)
        self.bos_id = None if bos_id is None else int(bos_id)
        self._chat: Any = None  # a transformers tokenizer with a chat template, when there is one

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str) -> "Tokenizer":
        """Load a ``tokenizer.json`` file (special tokens named ``<pad>``/``<eos>``/``<bos>``)."""
        from tokenizers import Tokenizer as _Tok

        try:
            tok = _Tok.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception
            raise BackendError(f"cannot read tokenizer file {path!r}: {exc}", cause=exc) from exc
        ids = {name: tok.token_to_id(name) for name in ("<pad>", "<eos>", "<bos>")}
        if ids["<eos>"] is None or ids["<pad>"] is None:
            raise BackendError(f"tokenizer {path!r} has no <eos>/<pad> token; structdiff needs both")
        return cls(tok, pad_id=ids["<pad>"], eos_id=ids["<eos>"], bos_id=ids["<bos>"])

    @classmethod
    def from_transformers(cls, hf_tokenizer: Any) -> "Tokenizer":
        """Wrap a transformers *fast* tokenizer (e.g. Gemma's)."""
        backend = getattr(hf_tokenizer, "backend_tokenizer", None) or getattr(hf_tokenizer, "_tokenizer", None)
        if backend is None:
            raise BackendError("structdiff needs a fast (Rust-backed) tokenizer; got a slow one")
        eos = hf_tokenizer.eos_token_id
        pad = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else eos
        if eos is None:
            raise BackendError("the tokenizer has no eos token; structdiff needs one to end outputs")
        tok = cls(backend, pad_id=pad, eos_id=eos, bos_id=hf_tokenizer.bos_token_id)
        if getattr(hf_tokenizer, "chat_template", None):
            tok._chat = hf_tokenizer  # instruction-tuned checkpoints: prompts go through the chat template
        return tok

    # -- basic facts --------------------------------------------------------------------------
    @property
    def backend(self) -> Any:
        return self._tok

    @cached_property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    @cached_property
    def special_ids(self) -> frozenset[int]:
        """Ids of special/added-special tokens: never emitted inside constrained text."""
        ids = {self.pad_id, self.eos_id}
        if self.bos_id is not None:
            ids.add(self.bos_id)
        for tid, added in self._tok.get_added_tokens_decoder().items():
            if added.special:
                ids.add(int(tid))
        return frozenset(ids)

    def encode(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Text -> ids (no special tokens added unless ``add_bos``)."""
        ids = self._tok.encode(text, add_special_tokens=False).ids
        return ([self.bos_id] if add_bos and self.bos_id is not None else []) + list(ids)

    def encode_prompt(self, text: str) -> list[int]:
        """A user prompt -> model input ids: the chat template's user turn when the checkpoint has
        one (e.g. ``google/diffusiongemma-26B-A4B-it``), else BOS + the text."""
        if self._chat is not None:
            return self.encode_chat([{"role": "user", "content": text}])
        return self.encode(text, add_bos=True)

    @property
    def has_chat_template(self) -> bool:
        """Whether the checkpoint brings a chat template (instruction-tuned models do)."""
        return self._chat is not None

    def encode_chat(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> list[int]:
        """A conversation (OpenAI-style ``{"role", "content"}`` dicts) -> ids through the chat template,
        ending with the model's turn; ``tools`` (function definitions) go to the template as it expects."""
        if self._chat is None:
            raise BackendError("this tokenizer has no chat template; use encode_prompt on the text instead")
        try:
            ids = self._chat.apply_chat_template(list(messages), tools=list(tools) if tools else None,
                                                 tokenize=True, add_generation_prompt=True)
        except Exception as exc:  # jinja raises its own errors for messages a template refuses
            raise InputError(f"the model's chat template rejects these messages: {exc}") from None
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text, special tokens dropped (bytes decoded as UTF-8, invalid bytes replaced)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Ids -> the exact byte string they stand for (special tokens contribute nothing)."""
        table = self.token_bytes
        return b"".join(table[i] or b"" for i in ids)

    # -- bytes of every token -----------------------------------------------------------------
    @cached_property
    def token_bytes(self) -> tuple[bytes | None, ...]:
        """For each id, the bytes it decodes to; ``None`` for special tokens."""
        vocab = self._tok.get_vocab(with_added_tokens=True)  # str -> id
        table: list[bytes | None] = [None] * self.vocab_size
        byte_level = self._is_byte_level
        gpt2 = _gpt2_byte_decoder()
        added = {int(k): v for k, v in self._tok.get_added_tokens_decoder().items()}
        for piece, tid in vocab.items():
            if tid >= len(table):
                continue
            if tid in self.special_ids:
                table[tid] = None
                continue
            if tid in added and not byte_level:
                table[tid] = added[tid].content.encode("utf-8")
                continue
            if byte_level:
                try:
                    table[tid] = bytes(gpt2[ch] for ch in piece)
                except KeyError:  # an added non-byte-level token: literal text
                    table[tid] = piece.encode("utf-8")
            else:
                table[tid] = _sentencepiece_bytes(piece)
        return tuple(table)

    @cached_property
    def _is_byte_level(self) -> bool:
        spec = json.loads(self._tok.to_str())
        pre = spec.get("pre_tokenizer") or {}
        stack = [pre]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("type") == "ByteLevel":
                    return True
                stack.extend(node.get("pretokenizers", []) or [])
        dec = spec.get("decoder") or {}
        return dec.get("type") == "ByteLevel"

    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of the vocabulary's bytes and special ids (cache key for compiled constraints)."""
        h = hashlib.sha256()
        h.update(f"{self.vocab_size}|{self.pad_id}|{self.eos_id}|{self.bos_id}|".encode())
        for tb in self.token_bytes:
            h.update(b"\x00" if tb is None else b"\x01" + len(tb).to_bytes(4, "little") + tb)
        return h.hexdigest()[:32]

    def save(self, path: str) -> None:
        """Write ``tokenizer.json``."""
        self._tok.save(str(path))

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, eos_id={self.eos_id}, pad_id={self.pad_id})"


def _sentencepiece_bytes(piece: str) -> bytes:
    """SentencePiece piece -> bytes: ``<0xNN>`` is one byte, ``▁`` is a space."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        try:
            return bytes([int(piece[3:5], 16)])
        except ValueError:
            pass
    return piece.replace("▁", " ").encode("utf-8")


# ---------------------------------------------------------------------------------------------
# The built-in tiny tokenizer: deterministic, trained in code in a fraction of a second.
# ---------------------------------------------------------------------------------------------

_WORDS = (
    "the a an of to in and or is are was name age city id email value type items count price total "
    "true false null user users order orders product title description date time status active "
    "select from where group by order limit insert into values create table json yaml toml ini "
    "def return if else for while import class self print lambda key value list dict string number "
    "integer boolean array object alice bob carol dave eve lyon paris berlin london tokyo rome "
    "red green blue small medium large first last street country zip phone tags score level "
    "sudoku grid row column cell solve puzzle digit answer question prompt output input"
).split()


def tiny_corpus(seed: int = 0, n_lines: int = 3000) -> list[str]:
    """A deterministic corpus of JSON, code, config and prose lines for the tiny tokenizer."""
    rng = random.Random(seed)
    lines: list[str] = []
    for _ in range(n_lines):
        kind = rng.randrange(5)
        words = [rng.choice(_WORDS) for _ in range(rng.randint(2, 8))]
        if kind == 0:
            obj = {w: rng.choice([rng.randint(-999, 9999), w.title(), True, None, round(rng.random() * 100, 2)])
                   for w in words[:4]}
            lines.append(json.dumps(obj, separators=(",", ":") if rng.random() < 0.5 else (", ", ": ")))
        elif kind == 1:
            lines.append(f"SELECT {', '.join(words[:3])} FROM {words[-1]} WHERE {words[0]} = {rng.randint(0, 99)};")
        elif kind == 2:
            lines.append(f"{words[0]} = \"{' '.join(words[1:])}\"\n[{words[-1]}]\n{words[1]} = {rng.randint(0, 500)}")
        elif kind == 3:
            lines.append(f"def {words[0]}({', '.join(words[1:3])}):\n    return {words[1]} + {rng.randint(1, 9)}")
        else:
            lines.append(" ".join(words).capitalize() + ". " + "".join(str(rng.randint(0, 9)) for _ in range(9)))
    return lines


def build_tiny_tokenizer(vocab_size: int = 4096, seed: int = 0, corpus: Sequence[str] | None = None) -> Tokenizer:
    """Train the built-in byte-level BPE tokenizer deterministically (Gemma-like special ids).

    Ids 0-3 are ``<pad> <eos> <bos> <mask>`` as in Gemma and the shared benchmark vocabulary.
    """
    from tokenizers import Tokenizer as _Tok, decoders, models, pre_tokenizers, trainers

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise InputError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (256 bytes + specials)")
    tok = _Tok(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus) if corpus is not None else tiny_corpus(seed), trainer=trainer)
    return Tokenizer(tok, pad_id=0, eos_id=1, bos_id=2)
