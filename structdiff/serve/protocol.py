"""The OpenAI request schema the server accepts (pydantic), and OpenAI's error shape.

Only what changes the output is modelled; fields the diffusion sampler cannot honour
(``top_p``, ``stop``, ``logprobs``, penalties, ...) are refused with a 400 that names
them when set to anything but their neutral value, and fields with no effect on the
output (``user``, ``metadata``, ``store``, ...) are accepted and listed back in the
response's ``structdiff.ignored_fields``. vLLM's structured-output extras
(``structured_outputs`` and the older ``guided_*`` names) are first-class fields, so
clients written for vLLM work unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MAX_N",
    "ApiError",
    "ChatMessage",
    "ChatRequest",
    "CompletionRequest",
    "ResponseFormat",
    "StreamOptions",
    "StructuredOutputs",
    "Tool",
    "error_body",
]

MAX_N = 16  # choices per request; each is one batch row


class ApiError(Exception):
    """An error answered in OpenAI's shape: HTTP ``status`` and ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers  # extra HTTP headers of the answer (Retry-After of a 503)

    def body(self) -> dict:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(message: str, *, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")

    def ignored(self) -> list[str]:
        """Names of fields the client sent that the server does not know."""
        return sorted((self.model_extra or {}).keys())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionDef(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedFunction(_Strict):
    name: str


class ToolChoiceNamed(_Strict):
    type: Literal["function"] = "function"
    function: NamedFunction


class JsonSchemaFormat(_Strict):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | bool = Field(default=True, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self):
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type json_schema needs a json_schema object "
                             "({'name': ..., 'schema': {...}})")
        return self


class StructuredOutputs(BaseModel):
    """vLLM's ``structured_outputs`` extra: at most one of json / regex / choice / grammar."""

    model_config = ConfigDict(extra="ignore")  # vLLM's backend knobs (disable_fallback, ...) change nothing here

    json_: dict[str, Any] | str | bool | None = Field(default=None, alias="json")
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None


class StreamOptions(_Strict):
    """OpenAI's ``stream_options``: ``include_usage`` adds a last chunk with ``usage`` (and ``"usage": null`` on
    every other chunk)."""

    include_usage: bool | None = None


class ToolCallFunction(BaseModel):
    name: str
    arguments: str


class ToolCall(BaseModel):
    id: str | None = None
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The content as text (text parts joined); other part types are refused."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for i, part in enumerate(self.content):
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"message content part of type {part.get('type')!r} is not supported: this "
                                    "server reads text parts only", param=f"messages.content.{i}")
            parts.append(part["text"])
        return "".join(parts)


class _Common(_Model):
    """Fields shared by both endpoints."""

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    n: int = Field(default=1, ge=1, le=MAX_N)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # int64, as vLLM
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    structured_outputs: StructuredOutputs | None = None
    guided_json: dict[str, Any] | str | bool | None = None
    guided_regex: str | None = None
    guided_choice: list[str] | None = None
    guided_grammar: str | None = None
    # accepted but refused unless neutral: the diffusion sampler has no such knob
    top_p: float | None = None
    stop: str | list[str] | None = None
    logprobs: bool | int | None = None
    top_logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None

    @model_validator(mode="after")
    def _stream_options_need_stream(self):
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed when stream is true")
        return self

    def refuse_unsupported(self) -> None:
        """400 for sampling options the diffusion sampler cannot honour."""
        neutral = {"top_p": (None, 1, 1.0), "stop": (None, [], ""), "logprobs": (None, False, 0),
                   "top_logprobs": (None, 0), "presence_penalty": (None, 0, 0.0),
                   "frequency_penalty": (None, 0, 0.0), "logit_bias": (None, {})}
        for name, ok in neutral.items():
            if getattr(self, name) not in ok:
                raise ApiError(400, f"{name} is not supported by the diffusion sampler: leave it unset "
                                    "(structured outputs, temperature, seed and max_tokens are)", param=name,
                               code="unsupported_parameter")


class ChatRequest(_Common):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | ToolChoiceNamed | None = None
    parallel_tool_calls: bool = True

    def budget(self, default: int) -> int:
        return self.max_completion_tokens or self.max_tokens or default


class CompletionRequest(_Common):
    prompt: str | list[str]
    echo: bool = False
    suffix: str | None = None

    def budget(self, default: int) -> int:
        return self.max_tokens or default

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        if self.echo or self.suffix:
            raise ApiError(400, "echo and suffix are not supported: leave them unset", param="echo" if self.echo
                           else "suffix", code="unsupported_parameter")
