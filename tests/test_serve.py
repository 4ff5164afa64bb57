"""`structdiff serve`: the OpenAI-compatible server, driven by the official `openai` client.

One server (tiny random model, canvas 32, 2 passes per canvas) runs in a thread for the module.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import socket
import threading
import time

import pytest

fastapi = pytest.importorskip("fastapi", reason="the server needs structdiff[serve]")
uvicorn = pytest.importorskip("uvicorn", reason="the server needs structdiff[serve]")
openai = pytest.importorskip("openai", reason="the server tests use the openai client (structdiff[dev])")

import jsonschema

from structdiff.serve.protocol import ApiError, ChatRequest
from structdiff.serve.spec import output_spec
from structdiff.serve.tools import tool_envelope

MODEL = "tiny"
PERSON = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 8},
    "born": {"type": "string", "format": "date"},
    "email": {"type": "string", "format": "email"},
    "role": {"enum": ["admin", "user"]},
    "age": {"type": "integer", "minimum": 0, "maximum": 120}},
    "required": ["name", "born", "email", "role", "age"], "additionalProperties": False}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "weather in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                                         "unit": {"enum": ["C", "F"]}}, "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "add", "parameters": {
        "type": "object", "properties": {"a": {"$ref": "#/$defs/small"}, "b": {"$ref": "#/$defs/small"}},
        "required": ["a", "b"], "$defs": {"small": {"type": "integer", "minimum": 0, "maximum": 99}}}}},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _validate(instance, schema):
    cls = jsonschema.validators.validator_for(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(instance)


def _run_server(**options):
    """A server of the tiny random model in a thread: yields its base URL, stops it after."""
    from structdiff.backend import load_model
    from structdiff.serve.command import load_app

    dm = load_model("tiny-random", canvas_length=32, seed=0)
    app, _ = load_app(dm, served_name=MODEL, max_passes=2, max_tokens=32, max_repair_rounds=1, **options)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    t0 = time.time()
    while not srv.started:
        assert th.is_alive() and time.time() - t0 < 60, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(30)


@pytest.fixture(scope="module")
def server():
    yield from _run_server(max_batch=8)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0, timeout=120)


def _get(url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _post_raw(url: str, body: bytes) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _chat(client, content="a person", **kw):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], **kw)


# -- tier 0: request -> constraint, no model ------------------------------------------------------

def test_tool_envelope_keeps_refs_of_each_tool_resolvable():
    schema = tool_envelope([(t["function"]["name"], t["function"]["parameters"]) for t in TOOLS], parallel=True,
                           content={"type": "string"})
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    assert v.is_valid({"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}},
                                      {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}]})
    assert v.is_valid({"content": "hello"})
    assert not v.is_valid({"tool_calls": [{"name": "add", "arguments": {"a": 100, "b": 2}}]})  # $defs/small
    assert not v.is_valid({"tool_calls": [{"name": "nope", "arguments": {}}]})
    assert not v.is_valid({"tool_calls": []})
    one = tool_envelope([("add", TOOLS[1]["function"]["parameters"])], parallel=False, content=None)
    assert not jsonschema.Draft202012Validator(one).is_valid(
        {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}] * 2})


def test_output_spec_refuses_conflicts_and_locates_tool_errors():
    base = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(ApiError, match="give one structured-output constraint"):
        output_spec(ChatRequest(**base, guided_regex="a+", response_format={"type": "json_object"}))
    with pytest.raises(ApiError, match="not among the tools"):
        output_spec(ChatRequest(**base, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "x"}}))
    spec = output_spec(ChatRequest(**base, tools=TOOLS, tool_choice="required"))
    assert spec.locate("/$defs/tool_1/properties/a") == ("tools[1].function.parameters", "/properties/a")
    assert output_spec(ChatRequest(**base, tools=TOOLS, tool_choice="none")).kind == "text"
    grammar = output_spec(ChatRequest(**base, guided_grammar="/etc/passwd"))
    assert grammar.payload.endswith("\n")  # client text is never read as a path on the server


def test_chat_prompts_use_the_template_with_tools_or_plain_turns():
    from transformers import PreTrainedTokenizerFast

    from structdiff.backend import Tokenizer, build_tiny_tokenizer
    from structdiff.serve.prompts import chat_prompt_ids
    from structdiff.serve.protocol import ChatMessage, Tool

    base = build_tiny_tokenizer()
    msgs = [ChatMessage(role="system", content="be brief"),
            ChatMessage(role="user", content=[{"type": "text", "text": "weather"}, {"type": "text", "text": "?"}])]
    tools = [Tool(**TOOLS[0])]
    # no template (tiny/shipped model): a lone user turn is exactly encode_prompt; more turns are labelled text
    assert chat_prompt_ids(base, msgs[1:], None) == base.encode_prompt("weather?")
    plain = base.decode(chat_prompt_ids(base, msgs, tools))
    assert "System: be brief" in plain and "User: weather?" in plain and "get_weather" in plain
    assert plain.endswith("Assistant:")
    hf = PreTrainedTokenizerFast(tokenizer_object=base.backend, eos_token="<eos>", pad_token="<pad>",
                                 bos_token="<bos>")
    hf.chat_template = ("{% for t in tools or [] %}[tool {{ t['function']['name'] }}]{% endfor %}"
                        "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
                        "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
    text = hf.decode(chat_prompt_ids(Tokenizer.from_transformers(hf), msgs, tools))
    assert text.startswith("[tool get_weather]<start_of_turn>system\nbe brief") and text.endswith("model\n")
    with pytest.raises(ApiError, match="not supported"):
        chat_prompt_ids(base, [ChatMessage(role="user", content=[{"type": "image_url", "image_url": {}}])], None)


@pytest.mark.tier1
def test_a_failing_row_fails_alone_and_the_model_thread_goes_on():
    from structdiff.api import make_generator
    from structdiff.backend import load_model
    from structdiff.sampler.hooks import CanvasHook
    from structdiff.serve.scheduler import Job, Scheduler

    class Broken(CanvasHook):
        def process_logits(self, view, logits):
            raise RuntimeError("boom")

    class BrokenCompiled:
        def hook_class(self, rows, **kw):
            return Broken()

    dm = load_model("tiny-random", canvas_length=32, seed=0)
    sch = Scheduler(dm, max_batch=4, max_passes=2)
    events: dict[int, tuple] = {}
    done = threading.Event()

    def note(i):
        def f(event, payload):
            events[i] = (event, payload)
            if len(events) == 3:
                done.set()
        return f

    prompt = dm.tokenizer.encode_prompt("x")
    sch.start()
    try:
        for i, comp in enumerate([None, BrokenCompiled(), None]):
            sch.submit(Job(prompt, comp, 16, make_generator(i), note(i)))
        assert done.wait(60)
    finally:
        sch.stop()
    assert events[1][0] == "error" and "boom" in str(events[1][1])
    assert events[0][0] == events[2][0] == "done"


# -- tier 1: the running server -----------------------------------------------------------------

@pytest.mark.tier1
def test_models_health_and_unknown_route(server):
    models = _get(server + "/v1/models")
    assert [m["id"] for m in models["data"]] == [MODEL]
    health = _get(server + "/health")
    assert health["status"] == "ok" and health["max_batch"] == 8
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server + "/v1/nothing", timeout=30)
    assert e.value.code == 404 and set(json.loads(e.value.read())["error"]) == {"message", "type", "param", "code"}


@pytest.mark.tier1
def test_json_schema_response_validates_with_formats(client):
    r = _chat(client, max_tokens=64, seed=3, n=2,
              response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON,
                                                                      "strict": True}})
    assert len(r.choices) == 2
    for ch in r.choices:
        _validate(json.loads(ch.message.content), PERSON)
        assert ch.finish_reason == "stop"
    ext = r.model_extra["structdiff"]
    assert ext["constraint"] == "json_schema" and len(ext["choices"]) == 2
    assert all(c["passes"] >= 1 and c["repair_rounds"] >= 0 and c["seconds"] > 0 for c in ext["choices"])
    assert r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 0
    again = _chat(client, max_tokens=64, seed=3, user="u1", response_format={"type": "json_schema", "json_schema": {
        "name": "person", "schema": PERSON}})
    assert again.model_extra["structdiff"]["compile"]["cached"] is True
    assert again.model_extra["structdiff"]["ignored_fields"] == ["user"]
    assert again.choices[0].message.content == r.choices[0].message.content  # same seed, same output


@pytest.mark.tier1
def test_the_server_answers_what_generator_answers_in_process(client):
    from structdiff.api import Generator
    from structdiff.backend import load_model
    from structdiff.constraints import Constraint

    dm = load_model("tiny-random", canvas_length=32, seed=0)  # the fixture's model, rebuilt
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer", "maximum": 9}},
              "required": ["ok", "n"]}
    gen = Generator(dm, Constraint.from_json_schema(schema), max_tokens=32, max_passes=2)
    for seed in (11, 12):
        r = _chat(client, "a flag", max_tokens=32, seed=seed,
                  response_format={"type": "json_schema", "json_schema": {"name": "f", "schema": schema}})
        assert r.choices[0].message.content == gen("a flag", seed=seed).text


@pytest.mark.tier1
def test_pydantic_parse(client):
    from pydantic import BaseModel, Field

    class City(BaseModel):
        name: str = Field(max_length=8)
        population: int = Field(ge=0, le=10_000)
        capital: bool

    r = client.beta.chat.completions.parse(model=MODEL, messages=[{"role": "user", "content": "a city"}],
                                           response_format=City, max_tokens=48, seed=1)
    city = r.choices[0].message.parsed
    assert isinstance(city, City) and 0 <= city.population <= 10_000


@pytest.mark.tier1
@pytest.mark.parametrize("choice", ["auto", "required", "add", "none"])
def test_tool_calls_name_a_declared_tool_with_valid_arguments(client, choice):
    tool_choice = {"type": "function", "function": {"name": choice}} if choice == "add" else choice
    params = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    for seed in range(2 if choice == "auto" else 1):
        r = _chat(client, "what is the weather in Paris?", max_tokens=64, seed=seed, tools=TOOLS,
                  tool_choice=tool_choice, parallel_tool_calls=choice != "required")
        msg = r.choices[0].message
        if choice == "none":
            assert msg.tool_calls is None and isinstance(msg.content, str)
            continue
        if choice == "auto" and not msg.tool_calls:
            assert isinstance(msg.content, str) and r.choices[0].finish_reason == "stop"
            continue
        assert msg.tool_calls and r.choices[0].finish_reason == "tool_calls" and msg.content is None
        if choice == "required":
            assert len(msg.tool_calls) == 1  # parallel_tool_calls=False
        for call in msg.tool_calls:
            assert call.id.startswith("call_") and call.type == "function"
            assert call.function.name in params and (choice != "add" or call.function.name == "add")
            _validate(json.loads(call.function.arguments), params[call.function.name])


@pytest.mark.tier1
def test_streaming_chunks_concatenate_to_the_final_text(client):
    for kw in ({"max_tokens": 64}, {"max_tokens": 64, "extra_body": {"guided_regex": "([a-z]{2,5} ){3,40}"}}):
        full = _chat(client, "tell a story", seed=5, **kw).choices[0].message.content
        chunks = list(_chat(client, "tell a story", seed=5, stream=True, stream_options={"include_usage": True}, **kw))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == full
        content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
        assert len(content_chunks) >= 2  # one per finished block of the canvas (64 tokens = 2 blocks of 32)
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
        assert chunks[-1].model_extra["structdiff"]["choices"][0]["blocks"] >= 1


@pytest.mark.tier1
def test_streamed_tool_calls_and_completions(client):
    chunks = list(_chat(client, "add two numbers", seed=2, max_tokens=48, tools=TOOLS, tool_choice="required",
                        stream=True))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name in ("add", "get_weather")
    r = client.completions.create(model=MODEL, prompt=["x = ", "y = "], max_tokens=16, seed=0, n=2,
                                  extra_body={"guided_json": {"type": "integer", "minimum": 10, "maximum": 99}})
    assert len(r.choices) == 4
    for c in r.choices:  # JSON Schema integers may be written as 12.0
        _validate(json.loads(c.text), {"type": "integer", "minimum": 10, "maximum": 99})


@pytest.mark.tier1
def test_vllm_structured_output_extras(client):
    r = _chat(client, max_tokens=16, seed=0, extra_body={"guided_regex": r"[0-9]{3}-[a-z]{2}"})
    import re

    assert re.fullmatch(r"[0-9]{3}-[a-z]{2}", r.choices[0].message.content)
    r = _chat(client, max_tokens=8, seed=0, n=3, extra_body={"guided_choice": ["yes", "no", "maybe"]})
    assert all(c.message.content in ("yes", "no", "maybe") for c in r.choices)
    r = _chat(client, max_tokens=8, seed=1, extra_body={"structured_outputs": {"choice": ["red", "blue"]}})
    assert r.choices[0].message.content in ("red", "blue")
    grammar = 'start: "(" NUM ("+" NUM)* ")"\nNUM: /[0-9]/\n'
    r = _chat(client, max_tokens=16, seed=0, extra_body={"guided_grammar": grammar})
    from lark import Lark

    Lark(grammar).parse(r.choices[0].message.content)
    r = _chat(client, max_tokens=32, seed=0, extra_body={"structured_outputs": {"json": {
        "type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 3}}})
    assert 2 <= len(json.loads(r.choices[0].message.content)) <= 3
    r = _chat(client, max_tokens=32, seed=0, response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict)


@pytest.mark.tier1
@pytest.mark.parametrize("body, status, code, param, fragment", [
    ({"model": "gpt-4o"}, 400, "model_not_found", "model", "this server serves 'tiny'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "strin"}}}}}}, 400, "invalid_schema",
     "response_format.json_schema.schema", "/properties/a/type"),
    ({"tools": [TOOLS[0], {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}}}}], "tool_choice": "required"},
     400, "invalid_schema", "tools[1].function.parameters", "/properties/x"),
    ({"max_tokens": 4, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "string", "minLength": 300}}}}, 400, "unsatisfiable", "response_format.json_schema.schema",
     "max_tokens"),
    ({"max_tokens": 10**6}, 400, "context_length_exceeded", "messages", "lower max_tokens"),
    ({"guided_regex": "(a"}, 400, "invalid_regex", "guided_regex", "regex"),
    ({"guided_grammar": "start: undefined_rule"}, 400, "invalid_grammar", "guided_grammar", ""),
    ({"top_p": 0.5}, 400, "unsupported_parameter", "top_p", "top_p"),
    ({"guided_regex": "a", "guided_choice": ["a"]}, 400, "invalid_value", "guided_choice", "give one"),
    ({"messages": []}, 400, "invalid_value", "messages", "messages"),
    ({"temperature": 5}, 400, "invalid_value", "temperature", "temperature"),
    ({"seed": 2**70}, 400, "invalid_value", "seed", "seed"),
    ({"n": 17}, 400, "invalid_value", "n", "n"),
    ({"max_tokens": 32, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "array", "items": {"enum": [1, 2]}, "minItems": 3, "maxItems": 3, "uniqueItems": True}}}},
     422, "repair_rounds_exhausted", None, "uniqueItems"),
])
def test_bad_requests_get_openai_errors(server, body, status, code, param, fragment):
    full = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "seed": 0, **body}
    got, err = _post_raw(server + "/v1/chat/completions", json.dumps(full).encode())
    assert got == status, err
    assert set(err["error"]) == {"message", "type", "param", "code"}
    assert err["error"]["code"] == code and err["error"]["param"] == param
    assert fragment in err["error"]["message"] and "Traceback" not in err["error"]["message"]


@pytest.mark.tier1
def test_invalid_json_body_and_client_exceptions(server, client):
    got, err = _post_raw(server + "/v1/chat/completions", b"{not json")
    assert got == 400 and err["error"]["code"] == "invalid_json"
    got, err = _post_raw(server + "/v1/chat/completions", b'{"model": "tiny", "messages": [{"role": "user", '
                                                          b'"content": "a \\ud800 b"}]}')
    assert got == 400 and err["error"]["param"] == "messages[0].content" and "surrogate" in err["error"]["message"]
    with pytest.raises(openai.BadRequestError):
        _chat(client, max_tokens=4, extra_body={"guided_json": {"type": "string", "minLength": 300}})
    got, err = _post_raw(server + "/v1/completions", json.dumps({"model": MODEL, "prompt": ["a"] * 5,
                                                                  "n": 16}).encode())
    assert got == 400 and err["error"]["param"] == "prompt" and "split it" in err["error"]["message"]


@pytest.mark.tier1
def test_concurrent_requests_share_passes_and_match_their_solo_output(client, server):
    schemas = [{"type": "object", "properties": {"role": {"enum": ["admin", "user"]}, "n": {"type": "integer"}},
                "required": ["role", "n"]},
               {"type": "array", "items": {"type": "integer", "maximum": 99}, "maxItems": 4},
               {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}]

    def ask(i):
        schema = schemas[i % len(schemas)]
        r = _chat(client, f"item {i}", max_tokens=32, seed=100 + i,
                  response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}})
        return schema, r

    def bad(_):
        try:
            _chat(client, max_tokens=16, extra_body={"guided_json": {"type": "object", "required": 3}})
        except openai.BadRequestError as e:
            return e.status_code

    with cf.ThreadPoolExecutor(7) as ex:
        futs = [ex.submit(ask, i) for i in range(6)] + [ex.submit(bad, None)]
        results = [f.result() for f in futs[:6]]
        assert futs[6].result() == 400
    rows = []
    for schema, r in results:
        _validate(json.loads(r.choices[0].message.content), schema)
        rows.append(r.model_extra["structdiff"]["choices"][0]["max_batch_rows"])
    assert max(rows) > 1, "concurrent requests never shared a batch"
    # a request's output does not depend on what else was in its batch
    for i in (4,):
        assert ask(i)[1].choices[0].message.content == results[i][1].choices[0].message.content
    health = _get(server + "/health")
    assert health["active_rows"] == 0 and health["queued_rows"] == 0


def _wait_idle(server, limit=30.0) -> dict:
    t0 = time.time()
    while True:
        h = _get(server + "/health")
        if (h["active_rows"] == 0 and h["queued_rows"] == 0) or time.time() - t0 > limit:
            return h
        time.sleep(0.1)


@pytest.mark.tier1
@pytest.mark.parametrize("stream", [True, False])
def test_client_that_disconnects_frees_its_row(server, stream):
    port = int(server.rsplit(":", 1)[1])
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "long"}], "max_tokens": 32 * 12,
                       "stream": stream, "seed": 1}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    if stream:
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # the stream has begun
    else:
        t0 = time.time()
        while _get(server + "/health")["active_rows"] == 0 and time.time() - t0 < 30:
            time.sleep(0.05)  # the row is in the batch
    before = _get(server + "/health")["rows_run"]
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    h = _wait_idle(server)
    assert h["active_rows"] == 0 and h["queued_rows"] == 0
    assert h["rows_run"] - before < 11  # it left long before its 12 blocks were done


def test_serve_verb_wires_the_model_into_uvicorn(monkeypatch):
    from structdiff.cli import main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    assert main(["serve", "--model", "tiny-random", "--port", "8123", "--max-batch", "4", "-q"]) == 0
    assert isinstance(seen["app"], fastapi.FastAPI) and seen["port"] == 8123 and seen["host"] == "127.0.0.1"
    paths = {r.path for r in seen["app"].routes}
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health"} <= paths
    assert main(["serve", "--model", "tiny-random", "--max-batch", "0", "-q"]) == 2  # one-line input error
    assert main(["serve", "--model", "tiny-random", "--max-queue", "-1", "-q"]) == 2


@pytest.mark.tier1
def test_stream_options_include_usage_is_honoured(client, server):
    kw = {"max_tokens": 64, "seed": 6, "n": 2, "extra_body": {"guided_regex": "([a-z]{2,5} ){3,40}"}}
    plain = list(_chat(client, "a list", stream=True, **kw))
    assert all(c.usage is None for c in plain) and all(c.choices for c in plain)  # no usage chunk unless asked
    assert plain[-1].model_extra["structdiff"]["constraint"] == "regex"  # the stats ride on the last choice chunk
    assert len(plain[-1].model_extra["structdiff"]["choices"]) == 2
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "a list"}], "stream": True,
                       "stream_options": {"include_usage": True}, **{k: v for k, v in kw.items() if k != "extra_body"},
                       **kw["extra_body"]}).encode()
    import urllib.request

    req = urllib.request.Request(server + "/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        events = [line[6:] for line in r.read().decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" in c for c in chunks)  # OpenAI's shape: null on every chunk but the last
    assert all(c["usage"] is None for c in chunks[:-1]) and chunks[-1]["choices"] == []
    u = chunks[-1]["usage"]
    assert u["completion_tokens"] > 0 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    text = {i: "" for i in range(2)}
    for c in chunks:
        for ch in c["choices"]:
            text[ch["index"]] += ch["delta"].get("content") or ""
    whole = _chat(client, "a list", **kw)
    assert [text[0], text[1]] == [ch.message.content for ch in whole.choices]
    got, err = _post_raw(server + "/v1/chat/completions", json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}}
    ).encode())
    assert got == 400 and "stream" in err["error"]["message"]


@pytest.fixture(scope="module")
def small_queue_server():
    yield from _run_server(max_batch=1, max_queue=1)


@pytest.mark.tier1
def test_a_full_queue_answers_503_with_retry_after(small_queue_server):
    client = openai.OpenAI(base_url=small_queue_server + "/v1", api_key="unused", max_retries=0, timeout=120)
    long = {"max_tokens": 256, "seed": 1, "stream": True, "extra_body": {"guided_regex": "[a-z]{200,230}"}}
    running = _chat(client, "one", **long)  # in the batch (max_batch 1)
    waiting = _chat(client, "two", **long)  # the one row the queue may hold
    try:
        with pytest.raises(openai.InternalServerError) as e:
            _chat(client, "three", max_tokens=16)
        assert e.value.status_code == 503
        assert int(e.value.response.headers["retry-after"]) >= 1
        err = e.value.response.json()["error"]
        assert err["code"] == "queue_full" and "--max-queue" in err["message"]
        assert _get(small_queue_server + "/health")["max_queue"] == 1
    finally:
        running.response.close()
        waiting.response.close()
    h = _wait_idle(small_queue_server)
    assert h["active_rows"] == 0 and h["queued_rows"] == 0
    assert _chat(client, "four", max_tokens=16, seed=0).choices[0].finish_reason in ("stop", "length")
