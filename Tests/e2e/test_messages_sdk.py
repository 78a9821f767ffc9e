"""The Anthropic Messages front (`/v1/messages`) driven by the official `anthropic` SDK, with the
real gateway in front of fake upstreams speaking Anthropic (pass-through), OpenAI and Gemini
(translated) and the built-in mock: whole and streamed Messages, tool use round trips, images,
PDF documents, system blocks with `cache_control`, `count_tokens`, typed errors, the cache (hits
send nothing upstream; a cached answer streams back as events the SDK assembles into the same
Message), fidelity for what the gateway does not know, and every stream checked event by event
against the SDK's published event types."""
import base64
import json
import signal
import threading
import time

import anthropic
import pydantic
import pytest
import requests
from anthropic.types import Message, RawMessageStreamEvent

from fake_messages import NovelAnthropic
from fake_providers import Behaviour, answer_text

KEY_ENV = "E2E_FAKE_PROVIDER_KEY"
UPSTREAM_MODEL = "up-model-7"
ALIAS = "claude-alias"
KINDS = ["anthropic", "openai", "gemini"]
CLIENT_KEY = "sk-ant-client-side-secret-0000"
TOOL = {"name": "get_weather", "description": "Weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                     "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
EVENTS = pydantic.TypeAdapter(RawMessageStreamEvent)


def config_for(fake, retry=None, **top):
    cfg = {"providers": {"fake": {"type": fake.kind, "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV,
                                  "retry": retry or {"max_attempts": 2, "base_delay": 0.05, "max_delay": 1}}},
           "models": {ALIAS: {"provider": "fake", "model": UPSTREAM_MODEL}}}
    cfg.update(top)
    return cfg


@pytest.fixture(params=KINDS)
def served(request, make_gateway, make_fake):
    """A gateway in front of one fake of each kind: (gateway, fake, client)."""
    fake = make_fake(request.param)
    gateway = make_gateway(config=config_for(fake), env={KEY_ENV: fake.api_key})
    return gateway, fake, client_for(gateway)


def client_for(gateway, **kw):
    kw.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=CLIENT_KEY, timeout=30, **kw)


def sse_events(response):
    """(event name, data object) pairs of a raw SSE body."""
    out = []
    for block in response.text.split("\n\n"):
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
        if data is not None:
            out.append((name, data))
    return out


def check_stream(events):
    """Anthropic's order and shapes, event by event: each one is a valid `RawMessageStreamEvent`
    named by its type; message_start first, then blocks (start, deltas, stop, with consecutive
    indexes, a ping after the first start), message_delta, message_stop last."""
    assert events, "empty stream"
    names = [name for name, _ in events]
    for name, data in events:
        assert name == data["type"]
        if name != "ping":
            EVENTS.validate_python(data)
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    open_index, next_index = None, 0
    for name, data in events[1:-2]:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        else:
            assert name == "ping"
    assert open_index is None
    if "content_block_start" in names:
        assert names[names.index("content_block_start") + 1] == "ping"


def stream_raw(gateway, body, headers=None):
    r = requests.post(gateway.base_url + "/v1/messages", json={**body, "stream": True}, timeout=30,
                      headers={"anthropic-version": "2023-06-01", **(headers or {})})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    return r, sse_events(r)


def same_message(a: Message, b: Message, ids=False):
    """Equal, the id too with `ids` (else each upstream call makes its own). Nulls aside: the
    SDK's accumulator sets `stop_details` from `message_delta` even when the event has none."""
    da, db = a.to_dict(exclude_none=True), b.to_dict(exclude_none=True)
    if not ids:
        da.pop("id"), db.pop("id")
    assert da == db


# -- Messages in front of each provider kind ---------------------------------------------------


def test_create_and_stream_give_the_same_message(served):
    gateway, fake, client = served
    prompt = "Tell me about gateways"
    message = client.messages.create(model=ALIAS, max_tokens=200, messages=[{"role": "user", "content": prompt}])
    assert isinstance(message, Message)
    assert message.model == ALIAS and message.role == "assistant" and message.type == "message"
    assert message.id.startswith("msg_")
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == answer_text(fake.kind, UPSTREAM_MODEL, prompt)
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    p, c = fake.usage_numbers(prompt, message.content[0].text)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (p, c)

    with client.messages.stream(model=ALIAS, max_tokens=200, messages=[{"role": "user", "content": prompt}],
                                extra_headers={"Cache-Control": "no-cache"}) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == message.content[0].text
    same_message(final, message)
    assert [r.stream for r in fake.chat_requests()] == [False, True]

    _, events = stream_raw(gateway, {"model": ALIAS, "max_tokens": 200, "messages": [{"role": "user", "content": prompt}]},
                           headers={"Cache-Control": "no-cache"})
    check_stream(events)
    assert "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == message.content[0].text


def test_upstream_gets_its_own_dialect_and_never_the_client_key(served):
    gateway, fake, client = served
    client.messages.create(model=ALIAS, max_tokens=64, system="Be brief.",
                           messages=[{"role": "user", "content": "hi there"}],
                           extra_headers={"anthropic-beta": "prompt-caching-2024-07-31", "anthropic-version": "2023-06-01"})
    rec = fake.chat_requests()[-1]
    assert CLIENT_KEY not in json.dumps(rec.headers)
    if fake.kind == "anthropic":
        assert rec.path == "/v1/messages"
        assert rec.headers["x-api-key"] == fake.api_key
        assert rec.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
        assert rec.headers["anthropic-version"] == "2023-06-01"
        # As the client wrote it: only the model renamed.
        assert rec.body == {"model": UPSTREAM_MODEL, "max_tokens": 64, "system": "Be brief.",
                            "messages": [{"role": "user", "content": "hi there"}]}
    elif fake.kind == "openai":
        assert rec.path == "/v1/chat/completions"
        assert rec.body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]
        assert rec.body["max_tokens"] == 64
    else:
        assert rec.path.endswith(f"/models/{UPSTREAM_MODEL}:generateContent")
        assert rec.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        assert rec.body["generationConfig"]["maxOutputTokens"] == 64


def test_tool_use_round_trip(served):
    gateway, fake, client = served
    question = {"role": "user", "content": "Paris"}
    first = client.messages.create(model=ALIAS, max_tokens=200, tools=[TOOL], messages=[question])
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    assert call.id

    with client.messages.stream(model=ALIAS, max_tokens=200, tools=[TOOL], messages=[question],
                                extra_headers={"Cache-Control": "no-cache"}) as stream:
        streamed = stream.get_final_message()
    assert streamed.stop_reason == "tool_use"
    [streamed_call] = [b for b in streamed.content if b.type == "tool_use"]
    assert (streamed_call.name, streamed_call.input) == ("get_weather", {"city": "Paris"})

    answer = client.messages.create(model=ALIAS, max_tokens=200, tools=[TOOL], messages=[
        question,
        {"role": "assistant", "content": [b.to_dict() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}]},
    ])
    assert answer.stop_reason == "end_turn"
    result = "sunny, 21 C" if fake.kind != "gemini" else '{"content":"sunny, 21 C"}'
    assert answer.content[0].text == f"{fake.kind} {UPSTREAM_MODEL} read tool result: {result}"
    rec = fake.chat_requests()[-1].body
    if fake.kind == "openai":
        assert rec["messages"][-2]["tool_calls"][0]["id"] == call.id
        assert rec["messages"][-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
        assert rec["tools"][0]["function"]["parameters"] == TOOL["input_schema"]


def test_images_and_pdf_documents(served):
    gateway, fake, client = served
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}, "title": "spec.pdf"},
        {"type": "text", "text": "Describe these"},
    ]
    message = client.messages.create(model=ALIAS, max_tokens=100, messages=[{"role": "user", "content": content}])
    assert message.content[0].text.endswith("Describe these")
    body = fake.chat_requests()[-1].body
    if fake.kind == "anthropic":
        assert body["messages"][0]["content"] == content
    elif fake.kind == "openai":
        parts = body["messages"][0]["content"]
        assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
        assert parts[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        assert parts[2] == {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "spec.pdf"}}
    else:
        parts = body["contents"][0]["parts"]
        assert parts[0] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
        assert parts[1]["fileData"]["fileUri"] == "https://example.com/cat.png"
        assert parts[2] == {"inlineData": {"mimeType": "application/pdf", "data": PDF}}


def test_system_blocks_with_cache_control(served):
    gateway, fake, client = served
    system = [{"type": "text", "text": "You are a terse assistant.", "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "Answer in English."}]
    client.messages.create(model=ALIAS, max_tokens=50, system=system, messages=[{"role": "user", "content": "hello"}])
    body = fake.chat_requests()[-1].body
    if fake.kind == "anthropic":
        assert body["system"] == system
    elif fake.kind == "openai":
        assert body["messages"][0] == {"role": "system", "content": [
            {"type": "text", "text": "You are a terse assistant."}, {"type": "text", "text": "Answer in English."}]}
    else:
        assert body["systemInstruction"]["parts"] == [{"text": "You are a terse assistant."}, {"text": "Answer in English."}]


def test_count_tokens(served):
    gateway, fake, client = served
    raw = client.messages.with_raw_response.count_tokens(model=ALIAS, messages=[{"role": "user", "content": "one two three"}])
    counted = raw.parse()
    if fake.kind == "anthropic":
        assert counted.input_tokens == 3 + 7  # the fake's own count
        assert fake.chat_requests()[-1].path == "/v1/messages/count_tokens"
        assert "x-ultragate-token-count" not in raw.headers
    else:
        assert counted.input_tokens > 0
        assert raw.headers["x-ultragate-token-count"] == "estimate"
        assert fake.chat_requests() == []


def test_a_cache_hit_sends_nothing_upstream_and_streams_back_the_same_message(served):
    gateway, fake, client = served
    ask = dict(model=ALIAS, max_tokens=100, messages=[{"role": "user", "content": "cache me please"}])
    first = client.messages.with_raw_response.create(**ask)
    assert first.headers["x-cache"] == "MISS"
    second = client.messages.with_raw_response.create(**ask)
    assert second.headers["x-cache"] == "HIT" and "age" in second.headers
    assert second.parse() == first.parse()  # the same Message, id included
    with client.messages.stream(**ask) as stream:
        text = "".join(stream.text_stream)
        replayed = stream.get_final_message()
    same_message(replayed, first.parse(), ids=True)
    assert text == first.parse().content[0].text
    # The same `anthropic-version` as the SDK: on pass-through it is part of the cache key.
    _, events = stream_raw(gateway, ask, headers={"anthropic-version": client.default_headers["anthropic-version"]})
    check_stream(events)
    assert len(fake.chat_requests()) == 1


def test_a_streamed_answer_is_cached_and_served_whole(served):
    gateway, fake, client = served
    ask = dict(model=ALIAS, max_tokens=100, tools=[TOOL], messages=[{"role": "user", "content": "Lyon"}])
    with client.messages.stream(**ask) as stream:
        streamed = stream.get_final_message()
    hit = client.messages.with_raw_response.create(**ask)
    assert hit.headers["x-cache"] == "HIT"
    same_message(hit.parse(), streamed, ids=True)
    assert len(fake.chat_requests()) == 1


# -- Errors as the SDK's typed exceptions ------------------------------------------------------


def test_errors_are_typed_sdk_exceptions(served):
    gateway, fake, client = served
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=ALIAS, max_tokens=10, messages=[])
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    assert "messages" in bad.value.body["error"]["message"]
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    fake.script(Behaviour(status=401, error_message="invalid x-api-key"))
    with pytest.raises(anthropic.AuthenticationError) as auth:
        client.messages.create(model=ALIAS, max_tokens=10, messages=[{"role": "user", "content": "auth"}])
    assert auth.value.body == {"type": "error", "error": {"type": "authentication_error",
                                                          "message": auth.value.body["error"]["message"]}}
    assert fake.chat_requests() and CLIENT_KEY not in json.dumps([r.headers for r in fake.chat_requests()])


def test_rate_limits_reach_the_client_with_retry_after_and_its_retry_succeeds(make_gateway, make_fake):
    fake = make_fake("anthropic")
    gateway = make_gateway(config=config_for(fake, retry={"max_attempts": 1}), env={KEY_ENV: fake.api_key})
    fake.script(Behaviour(status=429, headers={"Retry-After": "0"}))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client_for(gateway).messages.create(model=ALIAS, max_tokens=10, messages=[{"role": "user", "content": "busy"}])
    assert limited.value.response.headers["retry-after"] == "0"
    assert limited.value.body["error"]["type"] == "rate_limit_error"
    fake.script(Behaviour(status=429, headers={"Retry-After": "0"}))
    message = client_for(gateway, max_retries=1).messages.create(model=ALIAS, max_tokens=10,
                                                                 messages=[{"role": "user", "content": "busy"}])
    assert message.stop_reason == "end_turn"
    assert len(fake.chat_requests()) == 3


def test_a_stream_cut_upstream_ends_in_an_error_event_and_is_not_cached(make_gateway, make_fake):
    fake = make_fake("anthropic")
    gateway = make_gateway(config=config_for(fake), env={KEY_ENV: fake.api_key})
    fake.script(Behaviour(cut_after=5, cut_mode="clean"))
    ask = {"model": ALIAS, "max_tokens": 100, "messages": [{"role": "user", "content": "one two three four five six"}]}
    _, events = stream_raw(gateway, ask)
    name, data = events[-1]
    assert name == "error"
    assert data["type"] == "error" and set(data["error"]) == {"type", "message"}
    assert "message_stop" not in [n for n, _ in events]
    with client_for(gateway).messages.stream(**ask) as stream:
        assert "".join(stream.text_stream).startswith("anthropic")
    assert len(fake.chat_requests()) == 2  # the cut answer was not stored


# -- Pass-through fidelity ---------------------------------------------------------------------


@pytest.fixture
def novel(make_gateway):
    fake = NovelAnthropic()
    gateway = make_gateway(config=config_for(fake), env={KEY_ENV: fake.api_key})
    yield gateway, fake
    fake.close()


def test_unknown_fields_and_blocks_pass_through_unchanged(novel):
    gateway, fake = novel
    ask = {"model": ALIAS, "max_tokens": 100, "messages": [{"role": "user", "content": "brand new things"}],
           "future_request_field": {"x": 1}}
    # The SDK's `anthropic-version`, so that its request below is the same on pass-through.
    r = requests.post(gateway.base_url + "/v1/messages", json=ask, timeout=30,
                      headers={"anthropic-version": anthropic.Anthropic(api_key="x").default_headers["anthropic-version"]})
    assert r.status_code == 200
    sent = fake.sent[-1]
    assert r.json() == {**sent, "model": ALIAS}
    assert fake.chat_requests()[-1].body["future_request_field"] == {"x": 1}
    # The SDK reads it too (unknown block types included).
    again = client_for(gateway).messages.create(**{k: v for k, v in ask.items() if k != "future_request_field"},
                                                extra_body={"future_request_field": {"x": 1}})
    assert again.to_dict(warnings=False) == {**sent, "model": ALIAS}


def test_unknown_events_pass_through_unchanged(novel):
    gateway, fake = novel
    ask = {"model": ALIAS, "max_tokens": 100, "messages": [{"role": "user", "content": "stream novel things"}]}
    _, events = stream_raw(gateway, ask)
    expected = [(n, d) for n, d in fake.sent[-1]]
    expected[0][1]["message"]["model"] = ALIAS
    assert events == expected
    # The assembled answer was cached: served whole, the unknown block and fields kept.
    hit = requests.post(gateway.base_url + "/v1/messages", json=ask, timeout=30)
    assert hit.headers["X-Cache"] == "HIT"
    message = hit.json()
    assert message["content"][0] == {"type": "hologram", "frames": []}
    assert message["content"][1] == {"type": "text", "text": "stream novel things "}
    assert message["future_member"] == "kept"
    assert message["usage"]["future_tokens"] == 9 and message["usage"]["cache_read_input_tokens"] == 11
    assert message["stop_reason"] == "end_turn" and message["future_delta"] == 7


# -- The mock, ensembles and model lists ------------------------------------------------------


def test_mock_models_and_ensembles(make_gateway):
    gateway = make_gateway(config={"models": {"m-gpt": {"provider": "mock", "model": "mock-gpt"},
                                              "m-claude": {"provider": "mock", "model": "mock-claude"},
                                              "duo": {"ensemble": ["m-gpt", "m-claude"], "synthesizer": "m-gpt"}}})
    client = client_for(gateway)
    message = client.messages.create(model="mock-claude", max_tokens=30, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text and message.stop_reason in ("end_turn", "max_tokens")
    ensemble = client.messages.with_raw_response.create(model="duo", max_tokens=60,
                                                        messages=[{"role": "user", "content": "compare"}])
    body = json.loads(ensemble.http_response.text)
    assert body["type"] == "message" and body["model"] == "duo"
    assert [m["status"] for m in body["ultra"]["members"]] == ["ok", "ok"]
    Message.model_validate(body)
    with client.messages.stream(model="duo", max_tokens=60, messages=[{"role": "user", "content": "compare"}]) as stream:
        streamed = stream.get_final_message()
    assert stream.response.headers["x-cache"] == "HIT"
    assert [b.text for b in streamed.content] == [b["text"] for b in body["content"]]


def test_models_in_anthropic_shape_when_asked(make_gateway):
    gateway = make_gateway()
    page = client_for(gateway).models.list()
    ids = [m.id for m in page]
    assert "mock-claude" in ids
    assert all(m.type == "model" and m.created_at for m in page)
    assert client_for(gateway).models.retrieve("mock-claude").id == "mock-claude"
    with pytest.raises(anthropic.NotFoundError):
        client_for(gateway).models.retrieve("nope")
    openai_shape = requests.get(gateway.base_url + "/v1/models", timeout=10).json()
    assert openai_shape["object"] == "list"
    limited = requests.get(gateway.base_url + "/v1/models?limit=1", headers={"anthropic-version": "2023-06-01"}, timeout=10).json()
    assert len(limited["data"]) == 1 and limited["has_more"] is True


def test_a_stream_outliving_the_shutdown_grace_period_ends_with_an_anthropic_error_event(make_gateway):
    gateway = make_gateway(config={"mock": {"latency_ms": 8000, "ttft_ms": 200}, "server": {"shutdown_grace_period": 1}})
    result = {}

    def stream():
        body = {"model": "mock-claude", "max_tokens": 300, "stream": True,
                "messages": [{"role": "user", "content": "a slow stream"}]}
        with requests.post(gateway.base_url + "/v1/messages", json=body, stream=True, timeout=30) as r:
            result["body"] = b"".join(r.iter_content(None)).decode()  # raises if the chunked body is cut

    thread = threading.Thread(target=stream)
    thread.start()
    time.sleep(1.0)  # the stream has sent its first events
    gateway.proc.send_signal(signal.SIGTERM)
    thread.join(30)
    assert gateway.proc.wait(timeout=30) == 0
    events = sse_events(type("R", (), {"text": result["body"]}))
    assert events[0][0] == "message_start"
    assert events[-1] == ("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "The server is shutting down; the stream was ended early."}})


def test_metrics_cost_and_timing_say_messages(make_gateway, make_fake):
    """Requests are labelled with the Messages route; tokens (cache reads and writes included in
    the prompt), cost and the cost a hit saved are booked as for chat completions."""
    from conftest import scrape_until
    from test_metrics import value
    fake = NovelAnthropic()
    try:
        cfg = config_for(fake)
        cfg["models"][ALIAS]["price"] = {"input": 1.0, "output": 2.0, "cached_input": 0.5}
        gateway = make_gateway(config=cfg, env={KEY_ENV: fake.api_key})
        client = client_for(gateway)
        ask = dict(model=ALIAS, max_tokens=50, messages=[{"role": "user", "content": "count these words"}])
        first = client.messages.with_raw_response.create(**ask)
        timing = first.headers["server-timing"]
        assert "upstream;dur=" in timing and "total;dur=" in timing
        client.messages.create(**ask)  # a hit
        m = scrape_until(gateway, lambda m: value(m, "ultragate_requests", route="/v1/messages", status="200") == 2)
        assert value(m, "ultragate_requests", route="/v1/messages", status="200") == 2
        assert value(m, "ultragate_cache_lookups", result="hit") == 1
        usage = first.parse().usage
        prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        assert value(m, "ultragate_tokens", model=ALIAS, kind="prompt") == prompt
        assert value(m, "ultragate_tokens", model=ALIAS, kind="completion") == usage.output_tokens
        cached = usage.cache_read_input_tokens
        expected = ((prompt - cached) * 1.0 + cached * 0.5 + usage.output_tokens * 2.0) / 1e6
        assert abs(value(m, "ultragate_cost_usd", model=ALIAS) - expected) < 1e-9
        assert abs(value(m, "ultragate_cost_saved_usd", model=ALIAS) - expected) < 1e-9
    finally:
        fake.close()


def test_the_servers_own_refusals_take_anthropics_shape_on_messages_paths(make_gateway):
    """A body over server.max_body_bytes is refused by the HTTP server before any front runs;
    on /v1/messages the refusal is still in Anthropic's error shape (OpenAI's on OpenAI paths)."""
    import json as _json
    import socket
    g = make_gateway(config={"server": {"max_body_bytes": 4096}})

    def refused(path):
        with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      f"Content-Length: 100000\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                    [l for l in data.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1]):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        return int(head.split(b" ")[1]), _json.loads(body)

    status, body = refused("/v1/messages")
    assert status == 413 and body["type"] == "error" and body["error"]["type"] == "request_too_large"
    status, body = refused("/v1/chat/completions")
    assert status == 413 and body["error"]["code"] and "type" in body["error"] and body.get("type") is None
