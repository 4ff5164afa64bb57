"""What a request asks the output to be: one ``OutputSpec`` from response_format / tools / vLLM extras.

Sources, at most one per request (two give a 400 naming both):

* ``response_format``: ``json_schema`` (its ``schema``) or ``json_object``;
* vLLM's ``structured_outputs`` ``{json | regex | choice | grammar | json_object}`` or the older
  ``guided_json`` / ``guided_regex`` / ``guided_choice`` / ``guided_grammar``;
* ``tools`` with ``tool_choice`` ``"auto"`` (default), ``"required"`` or a named function
  (``"none"`` leaves the output free); with ``"auto"`` a JSON ``response_format`` is the
  plain-answer branch of the envelope.

``OutputSpec.key`` is the cache key of the compiled constraint; ``build()`` makes the
``Constraint`` (called in a compile thread, never on the event loop).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .protocol import ApiError, ChatRequest, CompletionRequest, ToolChoiceNamed
from .tools import tool_envelope, unembed_pointer

__all__ = ["TEXT", "OutputSpec", "output_spec"]


@dataclass(frozen=True)
class OutputSpec:
    """The kind of output, the request field it came from, and how to build its constraint."""

    kind: str  # text | json_schema | json_object | regex | choice | grammar | tools
    param: str | None = None  # request field named in errors
    payload: Any = None  # schema / pattern / options / grammar text
    tool_names: tuple[str, ...] = ()  # tools the envelope may call, in envelope order (``$defs/tool_<i>``)
    tool_index: tuple[int, ...] = ()  # their indices in the request's ``tools``
    free_text: bool = False  # tools "auto" without a response schema: the plain answer is {"content": ...}
    content_param: str | None = None  # tools "auto" with a response schema: where it came from
    key: str = field(default="", compare=False)

    @property
    def constrained(self) -> bool:
        return self.kind != "text"

    def locate(self, pointer: Any) -> tuple[str | None, Any]:
        """A schema error's pointer in the compiled schema -> (request field, pointer inside that field)."""
        if self.kind != "tools" or not isinstance(pointer, str):
            return self.param, pointer
        hit = unembed_pointer(pointer, [f"tool_{i}" for i in range(len(self.tool_names))] + ["response"])
        if hit is None:
            return "tools", pointer
        i, rest = hit
        if i == len(self.tool_names):
            return self.content_param, rest
        return f"tools[{self.tool_index[i]}].function.parameters", rest

    def build(self) -> Any:
        """The ``Constraint`` of this spec."""
        from ..constraints import Constraint

        if self.kind in ("json_schema", "json_object", "tools"):
            return Constraint.from_json_schema(self.payload)
        if self.kind == "regex":
            return Constraint.from_regex(self.payload)
        if self.kind == "choice":
            return Constraint.from_choices(self.payload)
        if self.kind == "grammar":
            return Constraint.from_lark(self.payload)
        raise ValueError(f"no constraint for output kind {self.kind!r}")


TEXT = OutputSpec("text")
_JSON_OBJECT = {"type": "object"}


def _spec(kind: str, param: str, payload: Any, **kw: Any) -> OutputSpec:
    key = kind + ":" + json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return OutputSpec(kind, param, payload, key=key, **kw)


def _schema_value(value: Any, param: str) -> Any:
    """A schema given as an object, a boolean or a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ApiError(400, f"{param} is not valid JSON: {e}", param=param, code="invalid_schema") from None
    if not isinstance(value, (dict, bool)):
        raise ApiError(400, f"{param} must be a JSON Schema object", param=param, code="invalid_schema")
    return value


def _grammar_text(text: str) -> str:
    """Grammar text from a client: a shipped grammar name, else Lark text (never read as a server file path)."""
    from .. import grammars

    if text in grammars.names():
        return text
    return text if "\n" in text else text + "\n"  # structdiff reads a one-line string as a path; this is text


def _guided(req: CompletionRequest | ChatRequest) -> list[OutputSpec]:
    """Every structured-output source the request names (response_format and the vLLM extras)."""
    found: list[OutputSpec] = []
    rf = req.response_format
    if rf is not None and rf.type == "json_schema":
        found.append(_spec("json_schema", "response_format.json_schema.schema",
                           _schema_value(rf.json_schema.schema_, "response_format.json_schema.schema")))
    elif rf is not None and rf.type == "json_object":
        found.append(_spec("json_object", "response_format", _JSON_OBJECT))
    so = req.structured_outputs
    if so is not None:
        for name in ("json_", "regex", "choice", "grammar", "json_object"):
            value = getattr(so, name)
            if value is None or value is False:
                continue
            param = "structured_outputs." + name.rstrip("_")
            if name == "json_":
                found.append(_spec("json_schema", param, _schema_value(value, param)))
            elif name == "json_object":
                found.append(_spec("json_object", param, _JSON_OBJECT))
            else:
                found.append(_one(name, value, param))
    for name in ("json", "regex", "choice", "grammar"):
        value = getattr(req, "guided_" + name)
        if value is None:
            continue
        param = "guided_" + name
        found.append(_spec("json_schema", param, _schema_value(value, param)) if name == "json"
                     else _one(name, value, param))
    return found


def _one(kind: str, value: Any, param: str) -> OutputSpec:
    if kind == "choice":
        if not value:
            raise ApiError(400, f"{param} is empty: give at least one option", param=param, code="invalid_value")
        return _spec("choice", param, list(value))
    if kind == "grammar":
        return _spec("grammar", param, _grammar_text(value))
    return _spec(kind, param, value)


def output_spec(req: CompletionRequest | ChatRequest) -> OutputSpec:
    """The request's ``OutputSpec`` (``TEXT`` when nothing constrains the output).

    Raises
    ------
    ApiError
        Two sources at once, an unknown named tool, or tools combined with a non-JSON constraint.
    """
    found = _guided(req)
    if len(found) > 1:
        raise ApiError(400, f"give one structured-output constraint, got {len(found)}: "
                            f"{', '.join(s.param for s in found)}", param=found[1].param, code="invalid_value")
    base = found[0] if found else TEXT
    tools = getattr(req, "tools", None) or []
    choice = getattr(req, "tool_choice", None)
    if choice is not None and not tools and choice != "none":
        raise ApiError(400, "tool_choice is set but no tools are given: add tools or drop tool_choice",
                       param="tool_choice", code="invalid_value")
    if not tools or choice == "none":
        return base
    declared = [(t.function.name, t.function.parameters) for t in tools]
    names = [n for n, _ in declared]
    if len(set(names)) != len(names):
        raise ApiError(400, "tool names must be distinct", param="tools", code="invalid_value")
    if isinstance(choice, ToolChoiceNamed):
        if choice.function.name not in names:
            raise ApiError(400, f"tool_choice names {choice.function.name!r}, which is not among the tools "
                                f"({', '.join(names)})", param="tool_choice", code="invalid_value")
        declared = [d for d in declared if d[0] == choice.function.name]
        content = None
    elif choice == "required":
        content = None
    else:  # "auto"
        if base.kind not in ("text", "json_schema", "json_object"):
            raise ApiError(400, f"tools with tool_choice 'auto' combine only with a JSON response format, not with "
                                f"{base.param}: use tool_choice 'required' or drop one of them", param=base.param,
                           code="invalid_value")
        content = {"type": "string"} if base.kind == "text" else base.payload
    schema = tool_envelope(declared, parallel=req.parallel_tool_calls, content=content)
    return _spec("tools", "tools", schema, tool_names=tuple(n for n, _ in declared),
                 tool_index=tuple(names.index(n) for n, _ in declared), free_text=content == {"type": "string"},
                 content_param=None if content is None or base.kind == "text" else base.param)
