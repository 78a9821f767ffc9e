"""The official `openai` Python SDK against the real gateway serving the built-in mock models."""
import json
import time

import openai
import pytest
import requests

from conftest import validate


def client_for(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0)


def test_non_stream_completion_validates_and_counts_tokens(gateway):
    client = client_for(gateway)
    raw = client.chat.completions.with_raw_response.create(
        model="mock-gpt", messages=[{"role": "user", "content": "Say something about caching."}])
    completion = raw.parse()
    body = json.loads(raw.content)
    validate(body, "CreateChatCompletionResponse")
    assert completion.object == "chat.completion"
    assert completion.model == "mock-gpt"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert raw.headers["x-cache"] == "MISS"
    assert raw.headers["x-request-id"]


def test_second_identical_request_is_a_cache_hit_with_identical_content(gateway):
    client = client_for(gateway)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is LMDB?"}]
    first = client.chat.completions.with_raw_response.create(model="mock-claude", messages=messages, temperature=0.2)
    second = client.chat.completions.with_raw_response.create(model="mock-claude", messages=messages, temperature=0.2)
    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert int(second.headers["age"]) >= 0
    # Age (RFC 9111 §5.1) counts the seconds since the entry was stored: it grows while it is served.
    time.sleep(2.1)
    third = client.chat.completions.with_raw_response.create(model="mock-claude", messages=messages, temperature=0.2)
    assert third.headers["x-cache"] == "HIT"
    assert int(third.headers["age"]) >= int(second.headers["age"]) + 2
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert json.loads(second.content) == json.loads(first.content)


def test_stream_yields_chunks_that_validate_and_end_with_usage(gateway):
    client = client_for(gateway)
    stream = client.chat.completions.create(
        model="mock-gemini", messages=[{"role": "user", "content": "Stream a short answer please."}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert len(chunks) >= 3
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    for chunk in chunks:
        validate(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    # The same request without streaming is now a hit with the same text.
    again = client.chat.completions.with_raw_response.create(
        model="mock-gemini", messages=[{"role": "user", "content": "Stream a short answer please."}])
    assert again.headers["x-cache"] == "HIT"
    assert again.parse().choices[0].message.content == text


def test_cached_answer_replays_as_a_stream(gateway):
    client = client_for(gateway)
    messages = [{"role": "user", "content": "Replay me."}]
    full = client.chat.completions.create(model="mock-gpt", messages=messages)
    raw = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=messages, stream=True)
    assert raw.headers["x-cache"] == "HIT"
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == full.choices[0].message.content
    assert all(c.usage is None for c in chunks)  # include_usage was not asked for


def test_models_list_and_retrieve(gateway):
    client = client_for(gateway)
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert {"mock-gpt", "mock-claude", "mock-gemini"} <= set(ids)
    validate(requests.get(gateway.base_url + "/v1/models").json(), "ListModelsResponse")
    assert client.models.retrieve("mock-gpt").id == "mock-gpt"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    # `provider/model`: found when the provider serves it (the mock's names are known here).
    assert client.models.retrieve("mock/mock-claude").owned_by == "mock"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("mock/no-such-model")


def test_invalid_requests_raise_bad_request(gateway):
    client = client_for(gateway)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="mock-gpt", messages=[])
    assert e.value.status_code == 400
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "x"}], temperature=5)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_errors_are_openai_shaped(gateway):
    cases = [
        ("POST", "/v1/chat/completions", b"{not json", {"Content-Type": "application/json"}, 400),
        ("POST", "/v1/chat/completions", b"", {"Content-Type": "application/json"}, 400),
        ("POST", "/v1/chat/completions", b"\xff\xfe", {"Content-Type": "application/json"}, 400),
        ("POST", "/v1/chat/completions", b"[" * 100000, {"Content-Type": "application/json"}, 400),
        ("POST", "/v1/chat/completions", b"a=b", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ("GET", "/v1/chat/completions", None, {}, 405),
        ("GET", "/v1/nothing-here", None, {}, 404),
    ]
    for method, path, body, headers, status in cases:
        r = requests.request(method, gateway.base_url + path, data=body, headers=headers)
        assert r.status_code == status, (path, body[:20] if body else None, r.text)
        err = r.json()
        validate(err, "ErrorResponse")
        assert set(err["error"]) == {"message", "type", "param", "code"}
    # and the server is still serving
    assert requests.get(gateway.base_url + "/health").status_code == 200


def test_cache_control_directives(gateway):
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "cache control"}]}
    url = gateway.base_url + "/v1/chat/completions"
    r = requests.post(url, json=body, headers={"Cache-Control": "no-store"})
    assert r.headers["X-Cache"] == "MISS"
    r = requests.post(url, json=body)
    assert r.headers["X-Cache"] == "MISS"  # no-store kept the first answer out
    r = requests.post(url, json=body)
    assert r.headers["X-Cache"] == "HIT"
    r = requests.post(url, json=body, headers={"Cache-Control": "no-cache"})
    assert r.headers["X-Cache"] == "BYPASS"
    r = requests.post(url, json=body, headers={"Cache-Control": "max-age=3600"})
    assert r.headers["X-Cache"] == "HIT"


def test_key_order_and_whitespace_do_not_change_the_key(gateway):
    url = gateway.base_url + "/v1/chat/completions"
    a = b'{"model":"mock-gpt","messages":[{"role":"user","content":"order"}],"temperature":1}'
    b = b'{ "temperature" : 1.0 ,\n "messages":[{"content":"order","role":"user"}], "model":"mock-gpt", "user": "someone"}'
    r1 = requests.post(url, data=a, headers={"Content-Type": "application/json"})
    r2 = requests.post(url, data=b, headers={"Content-Type": "application/json"})
    assert r1.headers["X-Cache"] == "MISS" and r2.headers["X-Cache"] == "HIT"


def test_fields_left_out_of_the_key_are_still_validated_on_a_hit(gateway):
    # The valid twin is cached and these fields are not in the key: only validation stands
    # between an invalid value and a 200 served from the cache.
    url = gateway.base_url + "/v1/chat/completions"
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "twin"}]}
    assert requests.post(url, json=body).headers["X-Cache"] == "MISS"
    valid = {"metadata": {"k": "v"}, "store": True, "service_tier": "flex", "prompt_cache_key": "pk",
             "safety_identifier": "s-1"}
    assert requests.post(url, json={**body, **valid}).headers["X-Cache"] == "HIT"
    invalid = [("metadata", "not-an-object", "metadata"), ("metadata", {"k": 1}, "metadata.k"), ("store", "yes", "store"),
               ("service_tier", 42, "service_tier"), ("prompt_cache_key", 5, "prompt_cache_key"),
               ("safety_identifier", ["x"], "safety_identifier")]
    for field, value, param in invalid:
        r = requests.post(url, json={**body, field: value})
        assert r.status_code == 400, (field, value, r.text)
        assert r.json()["error"]["param"] == param and r.json()["error"]["type"] == "invalid_request_error"


def test_structured_output_helpers_get_json_that_matches_the_schema(gateway):
    """The SDK's `parse` and `stream` helpers turn the answer into the given pydantic model: the
    mock answers a `json_schema` response format with JSON made from the schema ($defs/$ref,
    optional fields, literals, lists), and `json_object` with an object."""
    from typing import Literal, Optional
    from pydantic import BaseModel

    class Step(BaseModel):
        explanation: str
        output: str

    class Solution(BaseModel):
        steps: list[Step]
        final_answer: str
        confidence: float
        kind: Literal["exact", "estimate"]
        note: Optional[str]
        check: Step

    client = client_for(gateway)
    completions = client.chat.completions if hasattr(client.chat.completions, "parse") else client.beta.chat.completions
    messages = [{"role": "user", "content": "Solve 8x + 7 = -23 step by step."}]
    parsed = completions.parse(model="mock-gpt", messages=messages, response_format=Solution)
    solution = parsed.choices[0].message.parsed
    assert isinstance(solution, Solution) and isinstance(solution.check, Step)
    assert solution.steps and solution.kind in ("exact", "estimate")
    with completions.stream(model="mock-gpt", messages=messages, response_format=Solution) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == solution  # the same answer, from the cache, streamed

    plain = client.chat.completions.create(model="mock-gpt", messages=messages, response_format={"type": "json_object"})
    assert isinstance(json.loads(plain.choices[0].message.content), dict)
