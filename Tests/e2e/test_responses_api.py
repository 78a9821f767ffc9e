"""`/v1/responses` through the real gateway, driven by the official `openai` SDK: translated over
the hub in front of fake OpenAI chat, Anthropic and Gemini upstreams (and the built-in mock),
passed through to a fake OpenAI Responses upstream, stored responses, the cache, errors, and an
agent framework (the OpenAI Agents SDK) run unmodified. Every `Response`, stream event and item
list is validated against OpenAI's published schemas (openai-responses-schemas.json)."""
import json
from pathlib import Path

import jsonschema
import openai
import pydantic
import pytest
import requests

from conftest import _openapi_to_jsonschema
from fake_providers import Behaviour
from fake_responses import FakeResponsesProvider

SCHEMAS = json.loads(Path(__file__).with_name("openai-responses-schemas.json").read_text())["schemas"]


def _draft2020(node, name=None):
    """OpenAPI's draft-2019 `$recursiveRef` (one, in `CompoundFilter`) as a plain `$ref` to its schema."""
    if isinstance(node, dict):
        out = {k: _draft2020(v, name) for k, v in node.items() if k != "$recursiveAnchor"}
        if out.pop("$recursiveRef", None) is not None:
            out["$ref"] = f"#/$defs/{name}"
        return out
    if isinstance(node, list):
        return [_draft2020(v, name) for v in node]
    return node


_DEFS = {name: _draft2020(_openapi_to_jsonschema(schema), name) for name, schema in SCHEMAS.items()}
KEY_ENV = "E2E_FAKE_PROVIDER_KEY"
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def check(instance, schema_name):
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": _DEFS, "$ref": f"#/$defs/{schema_name}"}
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)


def create(c, **kw):
    """`responses.create`, its body validated as the gateway sent it (the SDK's model adds nulls)."""
    raw = c.responses.with_raw_response.create(**kw)
    check(raw.http_response.json(), "Response")
    return raw.parse()


def client_for(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)


def fake_gateway(make_gateway, make_fake, kind):
    fake = make_fake(kind)
    config = {"providers": {"fake": {"type": kind, "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV,
                                     "retry": {"max_attempts": 1}}},
              "models": {"m1": {"provider": "fake", "model": "up-model"}}}
    return make_gateway(config=config, env={KEY_ENV: fake.api_key}), fake


def responses_gateway(make_gateway, **provider):
    fake = FakeResponsesProvider()
    config = {"providers": {"oai": {"type": "openai", "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV,
                                    "responses": True, "retry": {"max_attempts": 1}, **provider}},
              "models": {"r1": {"provider": "oai", "model": "gpt-up"}}}
    return make_gateway(config=config, env={KEY_ENV: fake.api_key}), fake


def raw_stream(gateway, body):
    """The stream's events as the client received them (type from `event:`, JSON from `data:`)."""
    r = requests.post(gateway.base_url + "/v1/responses", json=dict(body, stream=True), stream=True, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events, kind = [], None
    for line in r.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            assert data["type"] == kind
            events.append(data)
    return r, events


#: Stream event type → the schema of that event (each names its type in a one-value enum).
EVENT_SCHEMAS = {node["properties"]["type"]["enum"][0]: name
                 for name in SCHEMAS["ResponseStreamEvent"]["anyOf"] and
                 [ref["$ref"].rsplit("/", 1)[1] for ref in SCHEMAS["ResponseStreamEvent"]["anyOf"]]
                 for node in [SCHEMAS[name]]}


def check_events(events):
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for e in events:
        check(e, EVENT_SCHEMAS[e["type"]])
    assert events[0]["type"] == "response.created" and events[1]["type"] == "response.in_progress"
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1


def comparable(response):
    """What must agree between a streamed and a non-streamed answer of the same request."""
    d = response.model_dump() if hasattr(response, "model_dump") else response
    return [(o["type"], o.get("name"), o.get("arguments"), [c.get("text") for c in o.get("content") or []])
            for o in d["output"]], d["status"], d["usage"]


# MARK: Translated over the hub

def test_create_string_and_items_validate_and_store(gateway):
    c = client_for(gateway)
    r = create(c, model="mock-gpt", input="hello gateway", instructions="be brief", metadata={"k": "v"})
    assert r.id.startswith("resp_") and r.object == "response" and r.status == "completed"
    assert r.output_text and r.instructions == "be brief" and r.metadata == {"k": "v"} and r.store is True
    assert r.usage.input_tokens > 0 and r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "part one"}]},
             {"role": "assistant", "content": "earlier answer"},
             {"type": "message", "role": "user", "content": "part two"}]
    r2 = c.responses.create(model="mock-gpt", input=items)
    assert r2.status == "completed" and r2.id != r.id
    got = c.responses.retrieve(r.id)
    assert got.model_dump() == r.model_dump()
    listed = c.responses.input_items.list(r2.id)
    check(requests.get(f"{gateway.base_url}/v1/responses/{r2.id}/input_items", timeout=10).json(), "ResponseItemList")
    assert [i.role for i in listed.data] == ["user", "assistant", "user"][::-1]  # newest first by default
    asc = c.responses.input_items.list(r2.id, order="asc", limit=2)
    assert [i.content[0].text for i in asc.data] == ["part one", "earlier answer"] and asc.has_more
    rest = c.responses.input_items.list(r2.id, order="asc", after=asc.last_id)
    assert [i.content[0].text for i in rest.data] == ["part two"] and not rest.has_more
    c.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError):
        c.responses.delete(r.id)


def test_store_false_keeps_nothing(gateway):
    c = client_for(gateway)
    r = c.responses.create(model="mock-gpt", input="do not keep", store=False)
    assert r.store is False
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(r.id)


def test_stream_matches_non_streamed_and_validates(gateway):
    c = client_for(gateway)
    body = {"model": "mock-gpt", "input": "stream me please", "max_output_tokens": 400}
    with c.responses.stream(**body) as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == final.output_text and len(deltas) > 1
    again = c.responses.create(**body)  # the same request: now a cache hit with a fresh id
    assert comparable(again) == comparable(final) and again.id != final.id
    r, events = raw_stream(gateway, dict(body, input="another stream"))
    check_events(events)
    types = [e["type"] for e in events]
    assert types[-1] == "response.completed"
    for t in ["response.output_item.added", "response.content_part.added", "response.output_text.delta",
              "response.output_text.done", "response.content_part.done", "response.output_item.done"]:
        assert t in types
    check(events[-1]["response"], "Response")
    assert c.responses.retrieve(events[-1]["response"]["id"]).output_text == \
        events[-1]["response"]["output"][0]["content"][0]["text"]


def test_incomplete_on_length_stop(gateway):
    c = client_for(gateway)
    r = c.responses.with_raw_response.create(model="mock-gpt", input="a long answer", max_output_tokens=5)
    assert r.parse().status == "incomplete" and r.parse().incomplete_details.reason == "max_output_tokens"
    assert r.parse().output[-1].status == "incomplete"  # the message the stop cut
    assert c.responses.with_raw_response.create(model="mock-gpt", input="a long answer",
                                                max_output_tokens=5).headers["X-Cache"] == "MISS"  # never cached
    _, events = raw_stream(gateway, {"model": "mock-gpt", "input": "a long stream", "max_output_tokens": 5})
    check_events(events)
    assert events[-1]["type"] == "response.incomplete" and events[-1]["response"]["status"] == "incomplete"
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert done[-1]["item"]["status"] == "incomplete" and events[-1]["response"]["output"][-1]["status"] == "incomplete"


def test_errors_are_typed(gateway):
    c = client_for(gateway)
    with pytest.raises(openai.NotFoundError) as e:
        c.responses.create(model="no-such-model", input="x")
    assert e.value.body["code"] == "model_not_found"
    for field, value in [("background", True), ("conversation", "conv_1"), ("prompt", {"id": "pmpt_1"})]:
        r = requests.post(gateway.base_url + "/v1/responses", json={"model": "mock-gpt", "input": "x", field: value}, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["param"] == field, r.text
        check(r.json(), "ErrorResponse")
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model="mock-gpt", input="x", tools=[{"type": "web_search"}])
    assert e.value.body["param"] == "tools[0].type" and "OpenAI" in e.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        c.responses.create(model="mock-gpt", input="x", previous_response_id="resp_unknown")
    with pytest.raises(openai.BadRequestError):
        c.responses.create(model="mock-gpt", input=[{"type": "item_reference", "id": "msg_1"}])
    fn = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model="mock-gpt", input="x", tools=[fn], tool_choice={"type": "function", "name": "other"})
    assert e.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model="mock-gpt", input="x", tools=[{"type": "function", "parameters": {}}])
    assert e.value.body["param"] == "tools[0].name"
    for field, value in [("temperature", 9), ("top_p", 7), ("temperature", -1)]:
        with pytest.raises(openai.BadRequestError) as e:
            c.responses.create(model="mock-gpt", input="x", **{field: value})
        assert e.value.body["param"] == field


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_function_calling_loop_over_each_provider(make_gateway, make_fake, kind):
    gw, fake = fake_gateway(make_gateway, make_fake, kind)
    c = client_for(gw)
    first = create(c, model="m1", input="weather in Paris?", tools=[WEATHER_TOOL])
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments)["city"]
    # The conversation goes on by id: the gateway rebuilds the whole input for the provider.
    second = c.responses.create(model="m1", previous_response_id=first.id, tools=[WEATHER_TOOL],
                                input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21C"}])
    assert second.status == "completed" and "sunny, 21C" in second.output_text
    assert second.previous_response_id == first.id
    sent = fake.chat_requests()[-1].body
    assert "weather in Paris?" in json.dumps(sent) and "sunny, 21C" in json.dumps(sent)
    # The same turn streamed: the SDK's accumulator assembles the same function call.
    with c.responses.stream(model="m1", input="weather in Rome?", tools=[WEATHER_TOOL]) as s:
        arg_deltas = [e for e in s if e.type == "response.function_call_arguments.delta"]
        final = s.get_final_response()
    fc = [o for o in final.output if o.type == "function_call"][0]
    assert arg_deltas and fc.name == "get_weather" and json.loads(fc.arguments)["city"]
    plain = c.responses.create(model="m1", input="weather in Rome?", tools=[WEATHER_TOOL],
                               extra_headers={"Cache-Control": "no-cache"})
    assert comparable(plain)[0][0][:2] == comparable(final)[0][0][:2]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_stream_events_validate_per_provider(make_gateway, make_fake, kind):
    gw, _ = fake_gateway(make_gateway, make_fake, kind)
    _, events = raw_stream(gw, {"model": "m1", "input": "validate my events", "tools": [WEATHER_TOOL]})
    check_events(events)
    assert "response.function_call_arguments.done" in [e["type"] for e in events]


def test_cache_hit_sends_nothing_upstream(make_gateway, make_fake):
    gw, fake = fake_gateway(make_gateway, make_fake, "openai")
    c = client_for(gw)
    first = c.responses.with_raw_response.create(model="m1", input="cache me")
    assert first.headers["X-Cache"] == "MISS"
    n = len(fake.chat_requests())
    hit = c.responses.with_raw_response.create(model="m1", input="cache me", metadata={"who": "second"})
    assert hit.headers["X-Cache"] == "HIT" and len(fake.chat_requests()) == n
    a, b = first.parse(), hit.parse()
    assert a.id != b.id and a.output_text == b.output_text and b.metadata == {"who": "second"}
    # Its output items are its own too: nothing in a hit names the response it came from.
    assert a.id[len("resp_"):] in a.output[0].id and b.id[len("resp_"):] in b.output[0].id
    assert a.id[len("resp_"):] not in json.dumps(hit.http_response.json())
    assert c.responses.retrieve(b.id).id == b.id  # a hit still stores its own response
    _, events = raw_stream(gw, {"model": "m1", "input": "cache me"})
    check_events(events)
    assert len(fake.chat_requests()) == n
    # A chat completion of the same conversation is never served from the responses entry.
    chat = requests.post(gw.base_url + "/v1/chat/completions", json={"model": "m1", "messages": [
        {"role": "user", "content": "cache me"}]}, timeout=10)
    assert chat.headers["X-Cache"] == "MISS" and chat.json()["object"] == "chat.completion"
    # Continuing by id and stating the same conversation inline share the entry.
    cont = c.responses.create(model="m1", previous_response_id=a.id, input="and then?")
    n = len(fake.chat_requests())
    inline = c.responses.with_raw_response.create(model="m1", input=[
        {"role": "user", "content": "cache me"},
        {"role": "assistant", "content": a.output_text}, {"role": "user", "content": "and then?"}])
    assert inline.headers["X-Cache"] == "HIT" and len(fake.chat_requests()) == n
    assert inline.parse().output_text == cont.output_text


def test_a_cut_chat_answer_is_served_but_never_cached(make_gateway, make_fake):
    """A chat answer without `finish_reason` (cut) becomes a Response that is served, not stored
    in the cache, as on chat completions: asking again goes upstream again."""
    gw, fake = fake_gateway(make_gateway, make_fake, "openai")
    cut = {"id": "chatcmpl-cut", "object": "chat.completion", "created": 1, "model": "up-model",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "half an ans"}, "finish_reason": None}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}
    fake.script(Behaviour(status=200, raw_body=cut), Behaviour(status=200, raw_body=cut))
    for _ in range(2):
        r = requests.post(gw.base_url + "/v1/responses", json={"model": "m1", "input": "cut me"}, timeout=10)
        assert r.status_code == 200 and r.headers["X-Cache"] == "MISS", r.text
    assert len(fake.chat_requests()) == 2


def test_parse_with_pydantic_text_format(gateway):
    class City(pydantic.BaseModel):
        name: str
        population: int

    parsed = client_for(gateway).responses.parse(model="mock-gpt", input="a city as JSON", text_format=City)
    assert isinstance(parsed.output_parsed, City)  # the mock makes the JSON up from the schema it was sent


# MARK: Pass-through to a Responses upstream

def test_pass_through_keeps_native_items_and_events(make_gateway):
    gw, fake = responses_gateway(make_gateway)
    try:
        c = client_for(gw)
        r = create(c, model="r1", input="search the web", tools=[{"type": "web_search"}],
                   include=["reasoning.encrypted_content"], temperature=0.5)
        sent = fake.requests[-1]
        assert sent.path == "/v1/responses" and sent.body["model"] == "gpt-up" and sent.body["tools"] == [{"type": "web_search"}]
        assert sent.body["include"] == ["reasoning.encrypted_content"] and "authorization" in sent.headers
        assert sent.headers["authorization"] == f"Bearer {fake.api_key}"
        kinds = [o.type for o in r.output]
        assert kinds == ["reasoning", "web_search_call", "message"]
        assert r.output[0].encrypted_content.startswith("gAAAA") and r.model == "r1"
        assert c.responses.retrieve(r.id).output[0].encrypted_content == r.output[0].encrypted_content
        _, events = raw_stream(gw, {"model": "r1", "input": "stream natively", "tools": [WEATHER_TOOL]})
        check_events(events)
        assert fake.requests[-1].body["stream"] is True
        assert events[-1]["response"]["model"] == "r1"
        assert c.responses.retrieve(events[-1]["response"]["id"]).output[0].type == "function_call"
    finally:
        fake.close()


def test_pass_through_function_loop_and_errors(make_gateway):
    gw, fake = responses_gateway(make_gateway)
    try:
        c = client_for(gw)
        first = c.responses.create(model="r1", input="weather in Oslo?", tools=[WEATHER_TOOL])
        call = [o for o in first.output if o.type == "function_call"][0]
        second = c.responses.create(model="r1", previous_response_id=first.id, tools=[WEATHER_TOOL],
                                    input=[{"type": "function_call_output", "call_id": call.call_id, "output": "snow"}])
        assert second.output_text.endswith("snow")
        sent = fake.requests[-1].body
        assert "previous_response_id" not in sent
        assert [i.get("type") for i in sent["input"]][-2:] == ["function_call", "function_call_output"]
        fake.fail_with.append(429)
        with pytest.raises(openai.RateLimitError):
            c.responses.create(model="r1", input="rate limited please")
    finally:
        fake.close()


def test_pass_through_final_event_without_its_response_is_not_passed_on(make_gateway):
    gw, fake = responses_gateway(make_gateway)
    try:
        fake.break_final = True
        body = {"model": "r1", "input": "a broken ending", "tools": [WEATHER_TOOL]}
        _, events = raw_stream(gw, body)
        kinds = [e["type"] for e in events]
        # The gateway's own ending (`error`, then `response.failed` with what was finished),
        # never the upstream's broken final event.
        assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"], kinds
        assert "response.completed" not in kinds
        assert all(isinstance(e["response"], dict) for e in events if "response" in e)
        assert events[-1]["response"]["status"] == "failed"
        assert "output" in events[-2]["message"]
        calls = len(fake.requests)
        _, again = raw_stream(gw, body)
        assert again[-1]["type"] == "response.failed" and len(fake.requests) == calls + 1, "nothing was cached"
    finally:
        fake.close()


# MARK: An agent framework, unmodified

def test_openai_agents_sdk_runs_a_tool_loop(make_gateway, make_fake):
    agents = pytest.importorskip("agents")
    gw, fake = fake_gateway(make_gateway, make_fake, "openai")
    import asyncio

    seen = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        seen.append(city)
        return f"cloudy in {city}"

    agents.set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key="unused", max_retries=0)
    model = agents.OpenAIResponsesModel(model="m1", openai_client=client)
    agent = agents.Agent(name="weather", instructions="Use the tool.", tools=[get_weather], model=model)

    async def run():
        return await agents.Runner.run(agent, "What is the weather in Lyon?")

    result = asyncio.run(run())
    assert seen and "cloudy in" in result.final_output
    sent = fake.chat_requests()
    assert any(m.get("role") == "tool" for m in sent[-1].body["messages"])
