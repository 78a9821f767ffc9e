"""The test fakes against the official SDKs: what the Anthropic and Gemini fakes of fake_providers.py
answer, and the provider answers the Swift adapter tests are built on (Tests/Fixtures, read by
Tests/UltraGateTesting/ProviderFixture.swift), must be what the `anthropic` and
`google-genai` SDKs read without error, so that a misreading of the API docs shared by a fake and
an adapter shows up here rather than in production.

Each answer goes through the SDK's client (its own HTTP and SSE handling, `anthropic` with its
strict response validation) and its typed objects are checked for the expected content. The raw
JSON is also checked more strictly than the SDKs do: the SDKs' pydantic models accept missing
nullable fields and (Anthropic) unknown ones, so the fields the API references list as always
present are required, no field unknown to the SDK may appear, Gemini's keys must be lowerCamelCase
as on the wire, and stream events must come in the documented order."""
import json
from pathlib import Path

import anthropic
import pydantic
import pytest
import requests
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from google import genai
from google.genai import types as gtypes

from fake_providers import answer_text

try:  # the SDKs' HTTP client: httpx2 for anthropic>=2 / google-genai>=3, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

FIXTURES = Path(__file__).resolve().parents[1] / "Fixtures"
PROMPT = "Name three prime numbers"
TOOL_SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}

# -- Anthropic: what the API reference lists as always present ---------------------------------

#: "Messages" → Message object; `stop_reason` and `stop_sequence` are nullable but always there.
MESSAGE_FIELDS = ("id", "type", "role", "content", "model", "stop_reason", "stop_sequence", "usage")
USAGE_FIELDS = ("input_tokens", "output_tokens")
BLOCK_FIELDS = {"text": ("text",), "tool_use": ("id", "name", "input"), "thinking": ("thinking", "signature"),
                "redacted_thinking": ("data",)}
#: "Streaming Messages": the event types, their fields, and which delta belongs to which block.
EVENT_FIELDS = {"message_start": ("message",), "content_block_start": ("index", "content_block"),
                "content_block_delta": ("index", "delta"), "content_block_stop": ("index",),
                "message_delta": ("delta", "usage"), "message_stop": (), "ping": (), "error": ("error",)}
DELTA_FIELDS = {"text_delta": ("text",), "input_json_delta": ("partial_json",), "thinking_delta": ("thinking",),
                "signature_delta": ("signature",)}
DELTA_FOR_BLOCK = {"text": {"text_delta"}, "tool_use": {"input_json_delta"},
                   "thinking": {"thinking_delta", "signature_delta"}}
STREAM_EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


def require(obj, fields, where):
    missing = [f for f in fields if f not in obj]
    assert not missing, f"{where}: missing {missing} in {obj}"


def assert_no_unknown_fields(value, where="$"):
    """Every field of the parsed object is one the SDK's models declare (they keep others as extras)."""
    if isinstance(value, pydantic.BaseModel):
        extra = value.model_extra or {}
        assert not extra, f"{where}: fields the SDK does not know: {sorted(extra)}"
        for name in type(value).model_fields:
            assert_no_unknown_fields(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_no_unknown_fields(item, f"{where}[{i}]")


def check_anthropic_block(block, where):
    require(block, ("type",), where)
    require(block, BLOCK_FIELDS.get(block["type"], ()), f"{where} ({block['type']})")


def check_anthropic_message(raw, streamed_start=False):
    """A Message as the API reference describes it, parsed by the SDK's model; returns the model."""
    require(raw, MESSAGE_FIELDS, "message")
    require(raw["usage"], USAGE_FIELDS, "message.usage")
    assert raw["type"] == "message" and raw["role"] == "assistant"
    for i, block in enumerate(raw["content"]):
        check_anthropic_block(block, f"message.content[{i}]")
    if streamed_start:
        assert raw["content"] == [] and raw["stop_reason"] is None, "message_start carries an empty message"
    else:
        assert raw["stop_reason"] is not None, "a complete Message has a stop_reason"
    message = Message.model_validate(raw)
    assert_no_unknown_fields(message, "message")
    return message


def sse_events(text):
    """(event name or None, parsed data) per SSE event; comment lines skipped, other fields refused."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            else:
                raise AssertionError(f"unexpected SSE field {field!r} in {block!r}")
        out.append((name, json.loads("\n".join(data))))
    return out


def check_anthropic_stream(text):
    """A Messages stream in the documented order; returns the tool inputs assembled per block index."""
    events = sse_events(text)
    assert events, "empty stream"
    assert events[0][0] == "message_start", "a stream opens with message_start"
    ended_by_error = events[-1][0] == "error"
    assert ended_by_error or events[-1][0] == "message_stop", "a stream closes with message_stop"
    blocks, open_blocks, partial_json = [], set(), {}
    for n, (name, data) in enumerate(events):
        where = f"event {n} ({name})"
        assert name == data.get("type"), f"{where}: the event name and the data's type differ"
        require(data, EVENT_FIELDS[name], where)
        if name == "ping":
            assert data == {"type": "ping"}
            continue
        if name == "error":
            assert n == len(events) - 1, "nothing follows an error event"
            assert_no_unknown_fields(ErrorResponse.model_validate(data), where)
            continue
        assert_no_unknown_fields(STREAM_EVENT.validate_python(data), where)
        if name == "message_start":
            assert n == 0
            check_anthropic_message(data["message"], streamed_start=True)
        elif name == "content_block_start":
            assert data["index"] == len(blocks), f"{where}: blocks are numbered from 0 in order"
            check_anthropic_block(data["content_block"], where)
            blocks.append(data["content_block"]["type"])
            open_blocks.add(data["index"])
        elif name == "content_block_delta":
            assert data["index"] in open_blocks, f"{where}: a delta for a block that is not open"
            delta = data["delta"]
            require(delta, ("type",) + DELTA_FIELDS.get(delta["type"], ()), where)
            assert delta["type"] in DELTA_FOR_BLOCK.get(blocks[data["index"]], {delta["type"]}), \
                f"{where}: {delta['type']} in a {blocks[data['index']]} block"
            if delta["type"] == "input_json_delta":
                partial_json[data["index"]] = partial_json.get(data["index"], "") + delta["partial_json"]
        elif name == "content_block_stop":
            assert data["index"] in open_blocks, f"{where}: stops a block that is not open"
            open_blocks.discard(data["index"])
        elif name == "message_delta":
            require(data["delta"], ("stop_reason", "stop_sequence"), where)
            require(data["usage"], ("output_tokens",), where)
            assert not open_blocks, f"{where}: blocks {open_blocks} still open"
    if not ended_by_error:
        assert [e[0] for e in events[-2:]] == ["message_delta", "message_stop"]
    inputs = {}
    for index, kind in enumerate(blocks):
        if kind == "tool_use":
            text_json = partial_json.get(index, "")
            inputs[index] = json.loads(text_json) if text_json else {}
            assert isinstance(inputs[index], dict), "tool input is a JSON object"
    return inputs


# -- Gemini ------------------------------------------------------------------------------------

#: Free-form JSON inside a response (function arguments), exempt from the lowerCamelCase rule.
FREE_FORM_KEYS = {"args", "response"}


def assert_lower_camel_case(value, where="$"):
    """Google's JSON mapping writes field names in lowerCamelCase. The SDK's models also accept
    snake_case (they populate by field name), so a fake writing `finish_reason` would pass them."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert "_" not in key and key[:1].islower() or key == "@type", f"{where}: `{key}` is not lowerCamelCase"
            if key not in FREE_FORM_KEYS:
                assert_lower_camel_case(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_lower_camel_case(item, f"{where}[{i}]")


def check_gemini_response(raw, final=True):
    """A GenerateContentResponse: parsed by the SDK's model (which refuses unknown fields), in wire
    casing, each candidate a `model` turn of parts with one datum each, finished when `final`."""
    assert_lower_camel_case(raw)
    parsed = gtypes.GenerateContentResponse.model_validate(raw)
    require(raw, ("usageMetadata",), "response")
    require(raw["usageMetadata"], ("promptTokenCount", "totalTokenCount"), "response.usageMetadata")
    if "promptFeedback" in raw and not raw.get("candidates"):
        require(raw["promptFeedback"], ("blockReason",), "response.promptFeedback")
        return parsed
    assert raw["candidates"], "a response that was not blocked has candidates"
    for i, candidate in enumerate(raw["candidates"]):
        require(candidate, ("content",), f"candidates[{i}]")
        assert candidate["content"]["role"] == "model"
        for j, part in enumerate(candidate["content"]["parts"]):
            data = [k for k in part if k in ("text", "inlineData", "functionCall", "functionResponse", "fileData",
                                             "executableCode", "codeExecutionResult")]
            assert len(data) == 1, f"candidates[{i}].parts[{j}] holds one datum, not {data}"
        if final:
            require(candidate, ("finishReason",), f"candidates[{i}] of a finished answer")
    return parsed


def check_gemini_stream(text):
    """Every `data:` line a whole GenerateContentResponse; only the last one finishes."""
    events = sse_events(text)
    assert events and all(name is None for name, _ in events), "Gemini's SSE has no event names"
    for n, (_, data) in enumerate(events):
        check_gemini_response(data, final=n == len(events) - 1)
    return [data for _, data in events]


# -- Clients -----------------------------------------------------------------------------------

def anthropic_client(base_url, api_key, http_client=None):
    return anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=20,
                               _strict_response_validation=True, http_client=http_client)


def gemini_client(base_url, api_key, http_client=None):
    # The gateway's adapter speaks v1beta (its `parametersJsonSchema` and `responseJsonSchema`).
    return genai.Client(api_key=api_key, http_options=gtypes.HttpOptions(
        base_url=base_url, api_version="v1beta", httpx_client=http_client, timeout=20_000))


def serving(body: str, content_type: str, status: int = 200):
    """An HTTP client whose every request is answered with `body` (a fixture), through the SDK's own
    response and SSE handling."""
    def answer(request):
        return httpx.Response(status, headers={"content-type": content_type}, content=body.encode())
    return httpx.Client(transport=httpx.MockTransport(answer))


def fixture(name):
    return (FIXTURES / name).read_text()


def post_raw(fake, path, body, headers):
    r = requests.post(f"{fake.base_url}{path}", json=body, headers=headers, timeout=20)
    assert r.status_code == 200, r.text
    return r


# -- The Python fakes through the SDKs -----------------------------------------------------------

ANTHROPIC_TOOLS = [{"name": "lookup", "description": "Looks a thing up", "input_schema": TOOL_SCHEMA}]


def test_anthropic_fake_message_reads_as_the_sdk_message(make_fake):
    fake = make_fake("anthropic")
    client = anthropic_client(fake.base_url, fake.api_key)
    raw = client.messages.with_raw_response.create(model="claude-fake", max_tokens=64,
                                                   messages=[{"role": "user", "content": PROMPT}])
    message = raw.parse()
    assert isinstance(message, Message)
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == answer_text("anthropic", "claude-fake", PROMPT)
    assert message.stop_reason == "end_turn" and message.stop_sequence is None and message.model == "claude-fake"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == len(message.content[0].text.split())
    check_anthropic_message(raw.http_response.json())


def test_anthropic_fake_tool_use_reads_as_the_sdk_tool_use_block(make_fake):
    fake = make_fake("anthropic")
    message = anthropic_client(fake.base_url, fake.api_key).messages.create(
        model="claude-fake", max_tokens=64, messages=[{"role": "user", "content": PROMPT}], tools=ANTHROPIC_TOOLS)
    assert [b.type for b in message.content] == ["tool_use"]
    call = message.content[0]
    assert isinstance(call, anthropic.types.ToolUseBlock)
    assert call.name == "lookup" and call.input == {"query": PROMPT} and call.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    raw = post_raw(fake, "/v1/messages", {"model": "claude-fake", "max_tokens": 64, "tools": ANTHROPIC_TOOLS,
                                          "messages": [{"role": "user", "content": PROMPT}]},
                   {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"})
    check_anthropic_message(raw.json())


@pytest.mark.parametrize("with_tools", [False, True])
def test_anthropic_fake_stream_reads_through_the_sdk_stream(make_fake, with_tools):
    fake = make_fake("anthropic")
    extra = {"tools": ANTHROPIC_TOOLS} if with_tools else {}
    request = {"model": "claude-fake", "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}], **extra}
    with anthropic_client(fake.base_url, fake.api_key).messages.stream(**request) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    if with_tools:
        assert text == ""
        assert [b.type for b in final.content] == ["tool_use"]
        assert final.content[0].name == "lookup" and final.content[0].input == {"query": PROMPT}
        assert final.stop_reason == "tool_use"
    else:
        assert text == answer_text("anthropic", "claude-fake", PROMPT)
        assert [b.text for b in final.content] == [text]
        assert final.stop_reason == "end_turn"
        assert final.usage.output_tokens == len(text.split())
    raw = post_raw(fake, "/v1/messages", {**request, "stream": True},
                   {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"})
    assert raw.headers["content-type"].startswith("text/event-stream")
    inputs = check_anthropic_stream(raw.text)
    assert inputs == ({0: {"query": PROMPT}} if with_tools else {})


GEMINI_TOOLS = [gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
    name="lookup", description="Looks a thing up", parameters_json_schema=TOOL_SCHEMA)])]
GEMINI_RAW_TOOLS = [{"functionDeclarations": [{"name": "lookup", "description": "Looks a thing up",
                                               "parametersJsonSchema": TOOL_SCHEMA}]}]


def gemini_raw(fake, model, stream, tools=False):
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    if tools:
        body["tools"] = GEMINI_RAW_TOOLS
    return post_raw(fake, f"/v1beta/models/{model}:{action}", body, {"x-goog-api-key": fake.api_key})


def test_gemini_fake_answer_reads_as_the_sdk_response(make_fake):
    fake = make_fake("gemini")
    client = gemini_client(fake.base_url, fake.api_key)  # held: dropping the Client closes its connections
    response = client.models.generate_content(model="gemini-fake", contents=PROMPT)
    assert response.text == answer_text("gemini", "gemini-fake", PROMPT)
    assert response.candidates[0].finish_reason == gtypes.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.candidates_token_count == len(response.text.split())
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert response.model_version == "gemini-fake" and response.response_id
    assert fake.requests[-1].path == "/v1beta/models/gemini-fake:generateContent"
    check_gemini_response(gemini_raw(fake, "gemini-fake", stream=False).json())


def test_gemini_fake_function_call_reads_as_the_sdk_function_call(make_fake):
    fake = make_fake("gemini")
    client = gemini_client(fake.base_url, fake.api_key)
    response = client.models.generate_content(
        model="gemini-fake", contents=PROMPT, config=gtypes.GenerateContentConfig(tools=GEMINI_TOOLS))
    calls = response.function_calls
    assert [(c.name, c.args) for c in calls] == [("lookup", {"query": PROMPT})]
    assert response.candidates[0].finish_reason == gtypes.FinishReason.STOP
    check_gemini_response(gemini_raw(fake, "gemini-fake", stream=False, tools=True).json())


@pytest.mark.parametrize("with_tools", [False, True])
def test_gemini_fake_stream_reads_through_the_sdk_stream(make_fake, with_tools):
    fake = make_fake("gemini")
    config = gtypes.GenerateContentConfig(tools=GEMINI_TOOLS) if with_tools else None
    client = gemini_client(fake.base_url, fake.api_key)
    chunks = list(client.models.generate_content_stream(model="gemini-fake", contents=PROMPT, config=config))
    assert chunks and chunks[-1].candidates[0].finish_reason == gtypes.FinishReason.STOP
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])
    if with_tools:
        assert [(c.name, c.args) for c in chunks[-1].function_calls] == [("lookup", {"query": PROMPT})]
    else:
        assert "".join(c.text for c in chunks) == answer_text("gemini", "gemini-fake", PROMPT)
        assert chunks[-1].usage_metadata.candidates_token_count == len(answer_text("gemini", "gemini-fake", PROMPT).split())
    raw = gemini_raw(fake, "gemini-fake", stream=True, tools=with_tools)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert len(check_gemini_stream(raw.text)) == len(chunks)


# -- The Swift adapter tests' fixtures through the SDKs -----------------------------------------

def test_every_fixture_is_checked():
    checked = {name for name, _ in ANTHROPIC_FIXTURES + GEMINI_FIXTURES}
    present = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file()}
    assert present == checked, "a fixture without an SDK check (or a check without its fixture)"


ANTHROPIC_FIXTURES = [
    ("anthropic/message-text.json", {"text": "Hi! My name is Claude.", "stop": "end_turn"}),
    ("anthropic/message-tool-use.json", {"text": "I'll check.", "stop": "tool_use",
                                         "tools": [("get_weather", {"location": "San Francisco, CA", "unit": "celsius"})]}),
    ("anthropic/stream-text.sse", {"text": "Hello wörld 👋", "stop": "end_turn"}),
    ("anthropic/stream-tool-use.sse", {"text": "Okay, let's check the weather.", "stop": "tool_use",
                                       "tools": [("get_weather", {"location": "San Francisco, CA", "unit": "fahrenheit"})]}),
    ("anthropic/stream-tools-without-arguments.sse", {"text": "", "stop": "tool_use",
                                                      "tools": [("get_time", {}), ("get_weather", {"city": "Paris"})]}),
    ("anthropic/stream-error-overloaded.sse", {"error": "overloaded_error"}),
    ("anthropic/error-overloaded.json", {"error": "overloaded_error", "status": 529}),
]


@pytest.mark.parametrize("name,expected", ANTHROPIC_FIXTURES, ids=[n for n, _ in ANTHROPIC_FIXTURES])
def test_anthropic_fixture_reads_through_the_sdk(name, expected):
    body = fixture(name)
    request = {"model": "claude-sonnet-4-20250514", "max_tokens": 64, "messages": [{"role": "user", "content": "x"}]}
    if name.startswith("anthropic/error-"):
        assert_no_unknown_fields(ErrorResponse.model_validate(json.loads(body)), name)
        client = anthropic_client("http://fixture.invalid", "k", serving(body, "application/json", expected["status"]))
        with pytest.raises(anthropic.APIStatusError) as raised:
            client.messages.create(**request)
        assert raised.value.status_code == expected["status"] and raised.value.body["error"]["type"] == expected["error"]
        return
    if name.endswith(".json"):
        check_anthropic_message(json.loads(body))
        message = anthropic_client("http://fixture.invalid", "k", serving(body, "application/json")).messages.create(**request)
    else:
        check_anthropic_stream(body)
        client = anthropic_client("http://fixture.invalid", "k", serving(body, "text/event-stream"))
        if "error" in expected:
            with pytest.raises(anthropic.APIStatusError) as raised:
                with client.messages.stream(**request) as stream:
                    stream.get_final_message()
            assert expected["error"] in str(raised.value)
            return
        with client.messages.stream(**request) as stream:
            assert "".join(stream.text_stream) == expected["text"]
            message = stream.get_final_message()
    assert "".join(b.text for b in message.content if b.type == "text") == expected["text"]
    assert [(b.name, b.input) for b in message.content if b.type == "tool_use"] == expected.get("tools", [])
    assert message.stop_reason == expected["stop"]


GEMINI_FIXTURES = [
    ("gemini/response-text.json", {"text": "Hello! How can I help?"}),
    ("gemini/response-function-calls.json", {"calls": [("get_weather", {"city": "Paris"}), ("get_time", {})]}),
    ("gemini/response-blocked-prompt.json", {"blocked": "SAFETY"}),
    ("gemini/stream-text.sse", {"text": "The quick brown fox jumps — über the lazy dog 🐕"}),
    ("gemini/stream-function-call.sse", {"calls": [("get_weather", {"city": "Paris"})]}),
    ("gemini/stream-blocked-prompt.sse", {"blocked": "PROHIBITED_CONTENT"}),
    ("gemini/error-quota.json", {"status": 429}),
]


@pytest.mark.parametrize("name,expected", GEMINI_FIXTURES, ids=[n for n, _ in GEMINI_FIXTURES])
def test_gemini_fixture_reads_through_the_sdk(name, expected):
    body = fixture(name)
    if name.startswith("gemini/error-"):
        raw = json.loads(body)
        require(raw["error"], ("code", "message", "status"), "error")
        client = gemini_client("http://fixture.invalid", "k", serving(body, "application/json", expected["status"]))
        with pytest.raises(genai.errors.ClientError) as raised:
            client.models.generate_content(model="m", contents="x")
        assert raised.value.code == expected["status"] and raised.value.status == raw["error"]["status"]
        return
    if name.endswith(".json"):
        check_gemini_response(json.loads(body))
        client = gemini_client("http://fixture.invalid", "k", serving(body, "application/json"))
        chunks = [client.models.generate_content(model="m", contents="x")]
    else:
        check_gemini_stream(body)
        client = gemini_client("http://fixture.invalid", "k", serving(body, "text/event-stream"))
        chunks = list(client.models.generate_content_stream(model="m", contents="x"))
    last = chunks[-1]
    if "blocked" in expected:
        assert last.prompt_feedback.block_reason.value == expected["blocked"] and not last.candidates
        return
    assert last.candidates[0].finish_reason == gtypes.FinishReason.STOP
    if "text" in expected:
        assert "".join(c.text for c in chunks) == expected["text"]
    calls = [(c.name, c.args) for chunk in chunks for c in (chunk.function_calls or [])]
    assert calls == expected.get("calls", [])


# -- The gateway's adapters on the same (SDK-checked) answers -------------------------------------

OPENAI_TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Looks a thing up",
                                                  "parameters": TOOL_SCHEMA}}]


@pytest.mark.parametrize("kind", ["anthropic", "gemini"])
def test_the_gateway_turns_the_fakes_tool_calls_into_openai_tool_calls(make_fake, make_gateway, kind):
    import openai
    fake = make_fake(kind)
    gateway = make_gateway(config={"providers": {"fake": {"type": kind, "base_url": fake.base_url, "api_key": "${FAKE_KEY}",
                                                          "retry": {"max_attempts": 1}}},
                                   "models": {"m": {"provider": "fake", "model": "up-model"}}},
                           env={"FAKE_KEY": fake.api_key})
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)
    messages = [{"role": "user", "content": PROMPT}]
    completion = client.chat.completions.create(model="m", messages=messages, tools=OPENAI_TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == [("lookup", {"query": PROMPT})]
    assert choice.message.content is None

    calls, finish = {}, None
    for chunk in client.chat.completions.create(model="m", messages=messages, tools=OPENAI_TOOLS, stream=True,
                                                extra_headers={"Cache-Control": "no-cache"}):
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [("lookup", {"query": PROMPT})]
    sent = fake.requests[-1].body
    offered = sent["tools"][0]["name"] if kind == "anthropic" else sent["tools"][0]["functionDeclarations"][0]["name"]
    assert offered == "lookup"
