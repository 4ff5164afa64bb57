"""The FastAPI app: OpenAI's chat/completions endpoints over the batching scheduler.

Status codes (every error body is OpenAI's ``{"error": {message, type, param, code}}``):

* 400 ``invalid_request_error``: body not JSON or not the schema, unknown model, invalid schema
  (``param`` names the field, the message carries the JSON pointer), invalid regex or grammar,
  a budget the constraint cannot fit (``code: "unsatisfiable"``), context too long, unsupported
  sampling options;
* 404 unknown route;
* 422 ``generation_error`` (``code: "repair_rounds_exhausted"``): validators still reject the output
  after the repair rounds;
* 503 ``server_error`` (``code: "queue_full"``) with a ``Retry-After`` header (seconds): more rows would
  wait for the batch than ``--max-queue`` allows; nothing of the request was queued;
* 500 ``server_error``: anything else, with a one-line message and never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..api import make_generator
from ..errors import GenerationError, GrammarError, InputError, SchemaError, StructDiffError, UnsatisfiableError
from .cache import CompileCache
from .prompts import chat_prompt_ids, completion_prompt_ids
from .protocol import ApiError, ChatRequest, CompletionRequest, error_body
from .responses import chat_body, chat_message, completion_body, finish_reason, new_id, stats_field, usage
from .scheduler import Job, Output, QueueFull, Scheduler
from .spec import OutputSpec, output_spec

__all__ = ["MAX_ROWS", "ServeState", "create_app"]

MAX_ROWS = 64  # outputs (prompts x n) one request may ask for

log = logging.getLogger(__name__)


class ServeState:
    """The served model, its scheduler and compile cache, and the server's defaults.

    Parameters
    ----------
    model : DiffusionModel
        What to serve.
    served_name : str
        The ``model`` id clients send and ``/v1/models`` lists.
    max_batch : int
        Rows denoised together at most.
    max_passes : int
        Passes per canvas.
    max_tokens : int
        Budget of a chat request that gives none (``/v1/completions`` defaults to 16, as OpenAI's).
    max_repair_rounds : int
        Validator repair rounds before a 422.
    cache_size : int
        Compiled constraints kept.
    max_queue : int
        Rows that may wait for a place in the batch before requests get a 503 (0: no limit).
    """

    def __init__(self, model: Any, *, served_name: str, max_batch: int = 8, max_passes: int = 48,
                 max_tokens: int = 256, max_repair_rounds: int = 3, cache_size: int = 256, max_queue: int = 256):
        self.model = model
        self.served_name = served_name
        self.max_tokens = max_tokens
        self.max_repair_rounds = max_repair_rounds
        self.scheduler = Scheduler(model, max_batch=max_batch, max_passes=max_passes, max_queue=max_queue)
        self.cache = CompileCache(model.tokenizer, model.canvas_length, size=cache_size)
        self.started = int(time.time())

    # -- request -> jobs ---------------------------------------------------------------------------
    def check_model(self, name: str) -> None:
        if name != self.served_name:
            raise ApiError(400, f"unknown model {name!r}: this server serves {self.served_name!r} "
                                "(GET /v1/models lists it)", param="model", code="model_not_found")

    def check_context(self, prompt: list[int], max_tokens: int, param: str) -> None:
        L, ctx = self.model.canvas_length, self.model.max_context
        need = len(prompt) + math.ceil(max_tokens / L) * L
        if need > ctx:
            raise ApiError(400, f"the prompt ({len(prompt)} tokens) and max_tokens={max_tokens} (whole canvases of "
                                f"{L}) need {need} tokens, over the model's context of {ctx}: shorten the prompt or "
                                "lower max_tokens", param=param, code="context_length_exceeded")

    async def compiled(self, spec: OutputSpec, max_tokens: int) -> tuple[Any, dict | None]:
        """The compiled constraint of ``spec`` (``None`` for plain text) and compile info for the stats."""
        if not spec.constrained:
            return None, None
        t0 = time.perf_counter()
        fut, cached = self.cache.get(spec.key, spec.build, max_tokens)
        try:
            comp = await asyncio.wrap_future(fut)
        except StructDiffError as exc:
            raise request_error(exc, spec) from None
        return comp, {"cached": cached, "seconds": round(time.perf_counter() - t0, 4)}

    def jobs(self, prompts: list[list[int]], n: int, compiled: Any, max_tokens: int, req: Any, stream: bool,
             notify_for) -> list[Job]:
        """``n`` jobs per prompt, seeds ``seed``, ``seed + 1``, ... (fresh ones without a seed)."""
        temperature = 1.0 if req.temperature is None else max(req.temperature, 0.01)
        out = []
        for p in prompts:
            for _ in range(n):
                i = len(out)
                seed = None if req.seed is None else (req.seed + i) % 2**64  # a torch seed is unsigned 64-bit
                out.append(Job(p, compiled, max_tokens, make_generator(seed), notify_for(i), temperature=temperature,
                               seed=seed, max_repair_rounds=self.max_repair_rounds, stream=stream))
        return out


def request_error(exc: BaseException, spec: OutputSpec | None = None) -> ApiError:
    """A structdiff error -> the API error that says what to change."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, SchemaError):
        param, pointer = spec.locate(exc.pointer) if spec is not None else (None, exc.pointer)
        where = f" (at {pointer!r} of {param})" if isinstance(pointer, str) and param else ""
        code = "invalid_regex" if spec is not None and spec.kind == "regex" else "invalid_schema"
        return ApiError(400, msg + where, param=param, code=code)
    if isinstance(exc, GrammarError):
        return ApiError(400, msg, param=spec.param if spec else None, code="invalid_grammar")
    if isinstance(exc, UnsatisfiableError):
        return ApiError(400, msg + " (set max_tokens / max_completion_tokens)", param=spec.param if spec else None,
                        code="unsatisfiable")
    if isinstance(exc, InputError):
        return ApiError(400, msg, param=spec.param if spec else None, code="invalid_value")
    if isinstance(exc, GenerationError):
        return ApiError(422, msg, type="generation_error", code="repair_rounds_exhausted")
    if isinstance(exc, ApiError):
        return exc
    return ApiError(500, f"internal error: {msg or type(exc).__name__}", type="server_error", code="internal_error")


class _Events:
    """Job events and the client's disconnect, delivered on the event loop as ``(index, event, payload)``."""

    def __init__(self, request: Request):
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self._watch = asyncio.ensure_future(self._watch_disconnect(request))

    def notify_for(self, i: int):
        def notify(event: str, payload: Any) -> None:
            try:
                self.loop.call_soon_threadsafe(self.queue.put_nowait, (i, event, payload))
            except RuntimeError:  # the event loop has closed (shutdown): nobody is waiting any more
                pass
        return notify

    async def _watch_disconnect(self, request: Request) -> None:
        while True:
            msg = await request.receive()
            if msg["type"] == "http.disconnect":
                self.queue.put_nowait((-1, "gone", None))
                return

    def close(self) -> None:
        self._watch.cancel()


async def _collect(state: ServeState, jobs: list[Job], events: _Events) -> list[Output]:
    """Every job's output; the first error (or the client leaving) cancels the rest."""
    outs: list[Output | None] = [None] * len(jobs)
    left = len(jobs)
    try:
        while left:
            i, event, payload = await events.queue.get()
            if event == "gone":
                raise ApiError(499, "the client closed the request", code="client_closed_request")
            if event == "error":
                raise request_error(payload)
            if event == "done":
                outs[i] = payload
                left -= 1
    finally:
        for j, o in zip(jobs, outs):
            if o is None:
                state.scheduler.cancel(j)
        events.close()
    return outs  # type: ignore[return-value]


def _can_repair(compiled: Any) -> bool:
    """Whether a validator may still reject what the automaton allows (then blocks are not streamed early)."""
    c = compiled.constraint
    if not c.validators:
        return False
    report = getattr(c, "report", None)  # JSON Schema: which keywords only the validator checks
    return not (isinstance(report, dict) and "validator" in report and not report["validator"]
                and len(c.validators) == 1)


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _stable(text: str) -> str:
    """Text of a partial output without a trailing half-decoded character."""
    return text.rstrip("\ufffd")


async def _stream(state: ServeState, jobs: list[Job], events: _Events, *, chat: bool, spec: OutputSpec,
                  prompt_tokens: int, extra_base: dict, include_usage: bool) -> AsyncIterator[str]:
    """Server-sent events: a role chunk, one chunk per finished block, a final chunk per choice (the last one
    carries the ``structdiff`` field), then, with ``include_usage``, a chunk with ``usage`` and no choices."""
    rid, created, model = new_id("chatcmpl" if chat else "cmpl"), int(time.time()), state.served_name
    obj = "chat.completion.chunk" if chat else "text_completion"
    head = {"id": rid, "object": obj, "created": created, "model": model, "system_fingerprint": None}

    def chunk(i: int, delta: dict | str, finish: str | None = None, extra: dict | None = None) -> str:
        choice = {"index": i, "delta": delta} if chat else {"index": i, "text": delta}
        body = {**head, "choices": [{**choice, "logprobs": None, "finish_reason": finish}]}
        if include_usage:  # OpenAI: every chunk says usage null, the last one has it
            body["usage"] = None
        return _sse({**body, **(extra or {})})

    def stats() -> dict:
        return {"structdiff": {**extra_base, **stats_field(spec, outs, extra_base.get("compile"),  # type: ignore
                                                           extra_base["ignored_fields"])}}

    sent = [""] * len(jobs)
    outs: list[Output | None] = [None] * len(jobs)
    try:
        if chat:
            for i in range(len(jobs)):
                yield chunk(i, {"role": "assistant", "content": ""})
        left = len(jobs)
        while left:
            i, event, payload = await events.queue.get()
            if event == "gone":
                return
            if event == "error":
                err = request_error(payload)
                yield _sse(err.body())
                return
            if event == "block":
                text = _stable(payload)
                if text.startswith(sent[i]) and len(text) > len(sent[i]):
                    delta, sent[i] = text[len(sent[i]):], text
                    yield chunk(i, {"content": delta} if chat else delta)
                continue
            out: Output = payload
            outs[i], left = out, left - 1
            if not out.text.startswith(sent[i]):
                yield _sse(request_error(StructDiffError("a repair round changed text already streamed; ask again "
                                                         "without stream")).body())
                return
            rest = out.text[len(sent[i]):]
            last = None if include_usage or left else stats()  # without a usage chunk: on the last choice chunk
            if chat:
                msg = chat_message(spec, out) if spec.kind == "tools" else {"content": rest}
                if spec.kind == "tools":
                    delta = {"content": msg["content"]} if msg["content"] is not None else {}
                    if msg.get("tool_calls"):
                        delta["tool_calls"] = [{"index": k, **c} for k, c in enumerate(msg["tool_calls"])]
                else:
                    delta = {"content": rest} if rest else {}
                yield chunk(i, delta, finish_reason(spec, out, msg), last)
            else:
                yield chunk(i, rest, finish_reason(spec, out), last)
        if include_usage:
            yield _sse({**head, "choices": [], "usage": usage(prompt_tokens, outs), **stats()})  # type: ignore
        yield "data: [DONE]\n\n"
    finally:
        for j, o in zip(jobs, outs):
            if o is None:
                state.scheduler.cancel(j)
        events.close()


async def _serve(state: ServeState, req: ChatRequest | CompletionRequest, request: Request, *, chat: bool):
    state.check_model(req.model)
    req.refuse_unsupported()
    spec = output_spec(req)
    tok = state.model.tokenizer
    default = state.max_tokens if chat else 16
    max_tokens = req.budget(default)
    if chat:
        prompts = [chat_prompt_ids(tok, req.messages, req.tools)]
        params = ["messages"]
    else:
        many = isinstance(req.prompt, list)
        texts = req.prompt if many else [req.prompt]
        if not texts:
            raise ApiError(400, "prompt is an empty list", param="prompt", code="invalid_value")
        if len(texts) * req.n > MAX_ROWS:
            raise ApiError(400, f"{len(texts)} prompts x n={req.n} asks for {len(texts) * req.n} outputs; one request "
                                f"may ask for {MAX_ROWS}: split it", param="prompt", code="invalid_value")
        prompts = [completion_prompt_ids(tok, t, i if many else None) for i, t in enumerate(texts)]
        params = [f"prompt[{i}]" if many else "prompt" for i in range(len(texts))]
    for p, param in zip(prompts, params):
        state.check_context(p, max_tokens, param)
    compiled, compile_info = await state.compiled(spec, max_tokens)
    stream = bool(req.stream) and spec.kind != "tools" and (compiled is None or not _can_repair(compiled))
    events = _Events(request)
    jobs = state.jobs(prompts, req.n, compiled, max_tokens, req, stream, events.notify_for)
    try:
        state.scheduler.submit_all(jobs)
    except QueueFull as exc:
        events.close()
        raise ApiError(503, str(exc), type="server_error", code="queue_full",
                       headers={"Retry-After": str(exc.retry_after)}) from None
    prompt_tokens = sum(len(p) for p in prompts)
    extra = {"ignored_fields": req.ignored()}
    if compile_info is not None:
        extra["compile"] = compile_info
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(_stream(state, jobs, events, chat=chat, spec=spec, prompt_tokens=prompt_tokens,
                                         extra_base=extra, include_usage=include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    outs = await _collect(state, jobs, events)
    body = (chat_body if chat else completion_body)(state.served_name, spec, outs, prompt_tokens,
                                                    stats_field(spec, outs, compile_info, extra["ignored_fields"]))
    return JSONResponse(body)


def _validation_error(exc: RequestValidationError) -> ApiError:
    errs = exc.errors()
    first = errs[0] if errs else {}
    if first.get("type") == "json_invalid":
        return ApiError(400, f"the request body is not valid JSON: {first.get('ctx', {}).get('error', '')}".strip(),
                        code="invalid_json")
    loc = [str(x) for x in first.get("loc", ()) if x != "body"]
    param = ".".join(loc) or None
    msg = first.get("msg", "invalid request")
    more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
    return ApiError(400, f"{param or 'body'}: {msg}{more}", param=param, code="invalid_value")


def create_app(state: ServeState) -> FastAPI:
    """The ASGI app; the scheduler's model thread runs while the app is up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.scheduler.start()
        try:
            yield
        finally:
            state.scheduler.stop()
            state.cache.close()

    app = FastAPI(title="structdiff", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        err = _validation_error(exc)
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body(str(exc.detail), code=str(exc.status_code)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("request failed")
        err = request_error(exc)
        return JSONResponse(err.body(), status_code=err.status)

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatRequest, request: Request):
        return await _serve(state, req, request, chat=True)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest, request: Request):
        return await _serve(state, req, request, chat=False)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": state.served_name, "object": "model", "created": state.started,
                                            "owned_by": "structdiff", "max_model_len": state.model.max_context}]}

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": state.served_name, **state.scheduler.load(), "cache": state.cache.stats()}

    return app
