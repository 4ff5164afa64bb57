"""OpenAI response bodies (completions, chunks, usage) and structdiff's ``structdiff`` extension field.

``structdiff`` (top level of every response, and of the last streamed chunk)::

    {"constraint": "json_schema" | "json_object" | "regex" | "choice" | "grammar" | "tools" | "text",
     "compile": {"cached": bool, "seconds": float},   # absent for plain text
     "choices": [{"index", "passes", "blocks", "tokens_per_pass", "repair_rounds",
                  "seconds", "queue_seconds", "max_batch_rows"}],
     "ignored_fields": [...]}                           # request fields with no effect here
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .scheduler import Output
from .spec import OutputSpec
from .tools import read_tool_output

__all__ = ["chat_body", "chat_message", "completion_body", "finish_reason", "new_id", "stats_field", "usage"]

_STAT_KEYS = ("passes", "blocks", "tokens_per_pass", "repair_rounds", "seconds", "queue_seconds", "max_batch_rows")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def chat_message(spec: OutputSpec, out: Output) -> dict:
    """The assistant message of one choice: content, or tool calls for a tool-call answer."""
    if spec.kind == "tools":
        content, calls = read_tool_output(out.text, free_text=spec.free_text)
        msg = {"role": "assistant", "content": content, "refusal": None}
        if calls:
            msg["tool_calls"] = calls
        return msg
    return {"role": "assistant", "content": out.text, "refusal": None}


def finish_reason(spec: OutputSpec, out: Output, message: dict | None = None) -> str:
    """``tool_calls`` for calls; ``stop`` for a whole constrained output or EOS; ``length`` when the budget ran out."""
    if message is not None and message.get("tool_calls"):
        return "tool_calls"
    if spec.constrained or out.ended:
        return "stop"
    return "length"


def usage(prompt_tokens: int, outs: list[Output]) -> dict:
    done = sum(o.completion_tokens for o in outs)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": done, "total_tokens": prompt_tokens + done}


def stats_field(spec: OutputSpec, outs: list[Output], compile_info: dict | None, ignored: list[str]) -> dict:
    field: dict[str, Any] = {"constraint": spec.kind}
    if compile_info is not None:
        field["compile"] = compile_info
    field["choices"] = [{"index": i, **{k: _round(o.stats.get(k, 0)) for k in _STAT_KEYS}} for i, o in enumerate(outs)]
    field["ignored_fields"] = ignored
    return field


def _round(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v


def chat_body(model: str, spec: OutputSpec, outs: list[Output], prompt_tokens: int, extra: dict) -> dict:
    choices = []
    for i, o in enumerate(outs):
        msg = chat_message(spec, o)
        choices.append({"index": i, "message": msg, "finish_reason": finish_reason(spec, o, msg), "logprobs": None})
    return {"id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage(prompt_tokens, outs), "system_fingerprint": None, "structdiff": extra}


def completion_body(model: str, spec: OutputSpec, outs: list[Output], prompt_tokens: int, extra: dict) -> dict:
    choices = [{"index": i, "text": o.text, "finish_reason": finish_reason(spec, o), "logprobs": None}
               for i, o in enumerate(outs)]
    return {"id": new_id("cmpl"), "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage(prompt_tokens, outs), "system_fingerprint": None, "structdiff": extra}
