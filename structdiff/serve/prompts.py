"""Chat messages -> prompt ids: the model's chat template, or plain turns for models without one.

A checkpoint with a chat template (``google/diffusiongemma-26B-A4B-it``) gets the messages
and tool definitions through it. The shipped small model and the tiny random model have
none: a lone user turn is encoded exactly as ``structdiff.generate`` encodes a prompt, and
anything richer (system turns, earlier answers, tool results, tool definitions) is
written out as labelled plain-text turns ending with ``Assistant:``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..constraints.edge import check_text
from ..errors import InputError
from .protocol import ApiError, ChatMessage, Tool

__all__ = ["chat_prompt_ids", "completion_prompt_ids"]

_LABEL = {"system": "System", "developer": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


def _as_dict(m: ChatMessage) -> dict:
    d: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
    if m.tool_calls:
        d["tool_calls"] = [c.model_dump() for c in m.tool_calls]
    if m.tool_call_id:
        d["tool_call_id"] = m.tool_call_id
    if m.name:
        d["name"] = m.name
    return d


def _check_text(text: str, param: str) -> None:
    try:
        check_text(text, param)
    except InputError as e:
        raise ApiError(400, str(e), param=param, code="invalid_value") from None


def _plain_turns(messages: Sequence[dict], tools: Sequence[dict]) -> str:
    lines = []
    if tools:
        lines.append("System: you may call these tools; a call is written as "
                     '{"tool_calls": [{"name": ..., "arguments": {...}}]}.\n'
                     + "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in tools))
    for m in messages:
        text = m["content"]
        if m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in m["tool_calls"]]
            text = (text + "\n" if text else "") + json.dumps({"tool_calls": calls}, ensure_ascii=False)
        label = _LABEL[m["role"]] + (f" ({m['tool_call_id']})" if m.get("tool_call_id") else "")
        lines.append(f"{label}: {text}")
    lines.append("Assistant:")
    return "\n\n".join(lines)


def chat_prompt_ids(tokenizer: Any, messages: Sequence[ChatMessage], tools: Sequence[Tool] | None) -> list[int]:
    """Prompt ids of a conversation (tools listed when given)."""
    msgs = [_as_dict(m) for m in messages]
    for i, m in enumerate(msgs):
        _check_text(m["content"], f"messages[{i}].content")
    if not any(m["content"].strip() for m in msgs):
        raise ApiError(400, "every message is empty: say what the answer should contain", param="messages",
                       code="invalid_value")
    tool_dicts = [t.model_dump(exclude_none=True) for t in tools or []]
    if tokenizer.has_chat_template:
        return tokenizer.encode_chat(msgs, tools=tool_dicts or None)
    if len(msgs) == 1 and msgs[0]["role"] == "user" and not tool_dicts:
        return tokenizer.encode_prompt(msgs[0]["content"])
    return tokenizer.encode_prompt(_plain_turns(msgs, tool_dicts))


def completion_prompt_ids(tokenizer: Any, prompt: str, index: int | None) -> list[int]:
    """Prompt ids of a ``/v1/completions`` prompt: the raw text after BOS (no chat template)."""
    param = "prompt" if index is None else f"prompt[{index}]"
    if not prompt.strip():
        raise ApiError(400, "the prompt is empty: say what the output should contain", param=param,
                       code="invalid_value")
    _check_text(prompt, param)
    return tokenizer.encode(prompt, add_bos=True)
