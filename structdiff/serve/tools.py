"""Tool calling as one JSON Schema: the envelope the model writes, and reading it back.

The model answers a request with tools in one JSON document:

* a call (or several): ``{"tool_calls": [{"name": "<tool>", "arguments": {...}}, ...]}``,
  each item one of the declared tools with arguments valid under its ``parameters``
  (``anyOf`` over the tools; ``maxItems: 1`` without ``parallel_tool_calls``);
* with ``tool_choice="auto"``, instead a plain answer ``{"content": "..."}`` (or, with a
  ``response_format`` schema, a value of that schema).

Each tool's ``parameters`` are embedded under ``$defs/tool_<i>`` with their local ``$ref``s
rewritten, so ``$defs`` of pydantic-made schemas keep resolving; a schema error inside
one is reported back at ``tools[i].function.parameters`` with its own pointer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = ["EMPTY_PARAMETERS", "embed", "read_tool_output", "tool_envelope", "unembed_pointer"]

EMPTY_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}
_VALUE_KEYS = ("enum", "const", "default", "examples")  # JSON values, not schemas: never rewritten


def _rewrite_refs(node: Any, prefix: str) -> Any:
    """A copy of schema ``node`` whose document-local ``$ref``s (``#`` and ``#/...``) point under ``prefix``."""
    if isinstance(node, list):
        return [_rewrite_refs(v, prefix) for v in node]
    if not isinstance(node, dict):
        return node
    if "$id" in node:  # a new base URI: refs inside resolve against it, leave them alone
        return node
    out = {}
    for k, v in node.items():
        if k == "$schema":
            continue  # a dialect marker is only meaningful at a document root
        if k == "$ref" and isinstance(v, str) and (v == "#" or v.startswith("#/")):
            out[k] = "#" + prefix + v[1:]
        elif k in _VALUE_KEYS:
            out[k] = v
        else:
            out[k] = _rewrite_refs(v, prefix)
    return out


def embed(schema: Any, name: str) -> tuple[dict, dict]:
    """(``{"$ref": ...}`` to use in place of ``schema``, ``{name: rewritten schema}`` for the root ``$defs``)."""
    prefix = f"/$defs/{name}"
    return {"$ref": "#" + prefix}, {name: _rewrite_refs(schema, prefix)}


def unembed_pointer(pointer: str, names: Sequence[str]) -> tuple[int, str] | None:
    """A pointer into the envelope -> (index of the embedded schema, pointer inside it), or ``None``."""
    for i, name in enumerate(names):
        base = f"/$defs/{name}"
        if pointer == base or pointer.startswith(base + "/"):
            return i, pointer[len(base):]
    return None


def _call_schema(name: str, params_ref: dict) -> dict:
    return {"type": "object", "properties": {"name": {"const": name}, "arguments": params_ref},
            "required": ["name", "arguments"], "additionalProperties": False}


def tool_envelope(tools: Sequence[tuple[str, Any]], *, parallel: bool, content: Any | None) -> dict:
    """The JSON Schema of a tool-calling answer.

    Parameters
    ----------
    tools : sequence of (name, parameters schema)
        The tools the answer may call (one, for a named ``tool_choice``).
    parallel : bool
        Several calls allowed (``parallel_tool_calls``).
    content : schema or None
        ``None``: a call is required. Otherwise the schema of the plain answer (``tool_choice="auto"``):
        ``{"type": "string"}`` for free text (written as ``{"content": "..."}``) or a response schema.
    """
    defs: dict = {}
    calls = []
    for i, (name, params) in enumerate(tools):
        ref, d = embed(params if params is not None else EMPTY_PARAMETERS, f"tool_{i}")
        defs.update(d)
        calls.append(_call_schema(name, ref))
    item = calls[0] if len(calls) == 1 else {"anyOf": calls}
    array = {"type": "array", "items": item, "minItems": 1, **({} if parallel else {"maxItems": 1})}
    envelope = {"type": "object", "properties": {"tool_calls": array}, "required": ["tool_calls"],
                "additionalProperties": False}
    if content is None:
        return {"$defs": defs, **envelope}
    if content == {"type": "string"}:
        answer = {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"],
                  "additionalProperties": False}
    else:
        answer, d = embed(content, "response")
        defs.update(d)
    return {"$defs": defs, "anyOf": [envelope, answer]}


def read_tool_output(text: str, *, free_text: bool) -> tuple[str | None, list[dict]]:
    """(content, tool calls in OpenAI's shape) from a valid envelope ``text``."""
    value = json.loads(text)
    if isinstance(value, dict) and set(value) == {"tool_calls"} and isinstance(value["tool_calls"], list):
        calls = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                  "function": {"name": c["name"],
                               "arguments": json.dumps(c["arguments"], ensure_ascii=False, separators=(",", ":"))}}
                 for c in value["tool_calls"]]
        return None, calls
    if free_text:
        return value["content"], []
    return text, []
