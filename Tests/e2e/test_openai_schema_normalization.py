"""The real gateway in front of OpenAI-compatible servers that leave out members of OpenAI's schema
(fake_sparse_openai.py): every answer and every chunk it sends validates against OpenAI's published
schemas, usage is estimated (and marked) when the upstream reports none, the metrics and costs count
the estimate, hits are as valid as misses, and a complete answer still passes byte for byte but
for `model`."""
import json

import openai
import pytest
import requests

from conftest import scrape, validate
from fake_sparse_openai import ALL, SparseOpenAI

KEY_ENV = "E2E_SPARSE_KEY"
PRICE = {"input": 2.0, "output": 8.0}


@pytest.fixture
def sparse():
    fakes = []

    def make(omit=()):
        fake = SparseOpenAI(omit)
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.close()


def start(make_gateway, fake):
    config = {"providers": {"local": {"type": "openai", "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV,
                                      "retry": {"max_attempts": 1}}},
              "models": {"local-model": {"provider": "local", "model": "llama-3.2-1b", "price": PRICE}}}
    return make_gateway(config=config, env={KEY_ENV: fake.api_key})


def post(gateway, prompt, **extra):
    body = {"model": "local-model", "messages": [{"role": "user", "content": prompt}], **extra}
    r = requests.post(gateway.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r


def events(response):
    """The `data:` payloads of an SSE body, `[DONE]` checked and left out."""
    datas = [block[len("data: "):] for block in response.text.split("\n\n") if block.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    return [json.loads(d) for d in datas[:-1]]


def check_stream(chunks, include_usage):
    """Every chunk is a valid `CreateChatCompletionStreamResponse`; they share one id and one
    `created`; the first opens the choice with the role alone; usage comes last, and only when asked."""
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and not first.get("content")
    with_usage = [i for i, c in enumerate(chunks) if c.get("usage") is not None]
    if include_usage:
        assert with_usage == [len(chunks) - 1] and chunks[-1]["choices"] == []
        return chunks[-1]["usage"]
    assert with_usage == []
    return None


SWITCHES = sorted(ALL) + ["ALL"]


@pytest.mark.parametrize("switch", SWITCHES)
def test_every_answer_and_chunk_is_schema_valid_whatever_the_upstream_left_out(switch, sparse, make_gateway):
    omit = ALL if switch == "ALL" else {switch}
    fake = sparse(omit)
    gw = start(make_gateway, fake)

    miss = post(gw, "tell me about normalization please")
    answer = miss.json()
    validate(answer, "CreateChatCompletionResponse")
    assert answer["model"] == "local-model"
    message = answer["choices"][0]["message"]
    assert message["refusal"] is None and message["role"] == "assistant"
    assert message["content"].startswith("openai llama-3.2-1b says:")
    assert answer["choices"][0]["finish_reason"] == "stop"
    if "usage" in omit:
        usage = answer["usage"]
        assert usage["estimated"] is True
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    else:
        assert "estimated" not in answer["usage"]
        assert answer["usage"] == fake.sent_answers[-1]["usage"]
    hit = post(gw, "tell me about normalization please")
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.content == miss.content, "a hit is exactly what the miss sent"

    for include_usage in (True, False):
        extra = {"stream_options": {"include_usage": True}} if include_usage else {}
        streamed = post(gw, f"stream it, include_usage={include_usage}", stream=True, **extra)
        assert streamed.headers["X-Cache"] == "MISS"
        chunks = events(streamed)
        usage = check_stream(chunks, include_usage)
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]).startswith(
            "openai llama-3.2-1b says: stream it")
        if include_usage:
            assert (usage.get("estimated") is True) == ("usage" in omit)
            assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        # The gateway asked for usage whether or not the client did.
        assert fake.chat_requests()[-1].body["stream_options"] == {"include_usage": True}
        if "finish_reason" not in omit:
            replay = post(gw, f"stream it, include_usage={include_usage}", stream=True, **extra)
            assert replay.headers["X-Cache"] == "HIT"
            assert check_stream(events(replay), include_usage) == usage


def test_a_complete_answer_passes_byte_for_byte_but_model(sparse, make_gateway):
    fake = sparse()
    gw = start(make_gateway, fake)
    miss = post(gw, "a complete answer")
    sent = dict(fake.sent_answers[-1])
    sent["model"] = "local-model"
    assert miss.content == json.dumps(sent).encode()  # the fake writes with json.dumps
    assert "estimated" not in miss.text

    streamed = post(gw, "a complete stream", stream=True, stream_options={"include_usage": True})
    upstream = fake.sent_streams[-1]
    for chunk in upstream:
        chunk["model"] = "local-model"
        if chunk.get("usage", 0) is None:
            del chunk["usage"]  # OpenAI's `usage: null` on every chunk but the last
    got = events(streamed)
    assert [list(c.items()) for c in got] == [list(c.items()) for c in upstream]


def test_estimated_usage_is_counted_and_costed(sparse, make_gateway):
    fake = sparse({"usage"})
    gw = start(make_gateway, fake)
    usage = post(gw, "count my tokens").json()["usage"]
    assert usage["estimated"] is True
    # A stream whose client did not ask for usage still counts it.
    chunks = events(post(gw, "count these too", stream=True))
    assert all("usage" not in c for c in chunks)

    families = scrape(gw)

    def value(name, **labels):
        """A counter's sample (the parser names the family without `_total`)."""
        return sum(s.value for s in families[name.removesuffix("_total")].samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    estimated_prompt = value("ultragate_estimated_tokens_total", model="local-model", kind="prompt")
    estimated_completion = value("ultragate_estimated_tokens_total", model="local-model", kind="completion")
    assert estimated_prompt == value("ultragate_tokens_total", model="local-model", kind="prompt")
    assert estimated_completion == value("ultragate_tokens_total", model="local-model", kind="completion")
    assert estimated_prompt > usage["prompt_tokens"] and estimated_completion > usage["completion_tokens"]
    cost = value("ultragate_cost_usd_total", model="local-model")
    expected = (estimated_prompt * PRICE["input"] + estimated_completion * PRICE["output"]) / 1e6
    assert cost == pytest.approx(expected) and cost > 0


def test_reported_usage_is_not_counted_as_estimated(sparse, make_gateway):
    fake = sparse({"refusal", "logprobs"})
    gw = start(make_gateway, fake)
    post(gw, "reported usage")
    post(gw, "reported usage streamed", stream=True)
    families = scrape(gw)
    estimated = [s.value for s in families["ultragate_estimated_tokens"].samples if s.labels.get("model") == "local-model"]
    tokens = [s.value for s in families["ultragate_tokens"].samples
              if s.labels.get("model") == "local-model" and s.labels.get("kind") == "prompt"]
    assert estimated and all(v == 0 for v in estimated)
    assert tokens == [sum(a["usage"]["prompt_tokens"] for a in fake.sent_answers)
                      + fake.sent_streams[-1][-1]["usage"]["prompt_tokens"]]


def test_the_openai_sdk_reads_a_sparse_servers_answers(sparse, make_gateway):
    fake = sparse(ALL)
    gw = start(make_gateway, fake)
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)
    reply = client.chat.completions.create(model="local-model", messages=[{"role": "user", "content": "hi sdk"}])
    assert reply.choices[0].message.refusal is None and reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and reply.usage.model_extra == {"estimated": True}
    chunks = list(client.chat.completions.create(model="local-model", messages=[{"role": "user", "content": "hi stream"}],
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert chunks[-1].usage.model_extra == {"estimated": True}


@pytest.mark.parametrize("stream", [False, True])
def test_messages_and_responses_carry_usage_when_the_upstream_sends_none(make_gateway, sparse, stream):
    """The other dialects keep the same promise: a sparse upstream's answer still comes with usage
    (the gateway's estimate) as Anthropic's and the Responses schema require, and it is costed."""
    import anthropic
    fake = sparse(ALL)
    g = start(make_gateway, fake)
    claude = anthropic.Anthropic(base_url=g.base_url, api_key="unused", max_retries=0)
    ask = dict(model="local-model", max_tokens=64, messages=[{"role": "user", "content": "count my tokens please"}])
    if stream:
        with claude.messages.stream(**ask) as s:
            message = s.get_final_message()
    else:
        message = claude.messages.create(**ask)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    responses = openai.OpenAI(base_url=g.base_url + "/v1", api_key="unused", max_retries=0).responses
    if stream:
        with responses.stream(model="local-model", input="count these tokens too") as s:
            response = s.get_final_response()
    else:
        response = responses.create(model="local-model", input="count these tokens too")
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    cost = scrape(g)["ultragate_cost_usd"]
    assert sum(s.value for s in cost.samples if s.labels.get("model") == "local-model") > 0
