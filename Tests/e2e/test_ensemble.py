"""Ensembles through the real binary with the official `openai` SDK: members are mock models
(plus one pointing at a closed port), the `ultra` detail is read from `model_extra`."""
import openai
import pytest

MEMBERS = ["m-gpt", "m-claude", "m-gemini"]


def config(**council):
    models = {
        "m-gpt": {"provider": "mock", "model": "mock-gpt"},
        "m-claude": {"provider": "mock", "model": "mock-claude"},
        "m-gemini": {"provider": "mock", "model": "mock-gemini"},
        # Connection refused, one attempt: a member that fails fast.
        "dead": {"provider": "down", "model": "gpt-4o"},
        "council": {"ensemble": MEMBERS, "synthesizer": "m-claude", **council},
    }
    return {
        "providers": {"down": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "x",
                               "retry": {"max_attempts": 1}}},
        "models": models,
        "retry": {"max_attempts": 1},
        "stream_keepalive_interval": 0.05,
        "mock": {"latency_ms": 150},
    }


def make_gateway_last_url(raw):
    return str(raw.http_request.url).split("/v1/")[0]


def client_for(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0)


MESSAGES = [{"role": "user", "content": "Explain single-flight caching in two sentences."}]


def test_configured_ensemble_synthesizes_and_reports_members(make_gateway):
    client = client_for(make_gateway(config=config()))
    raw = client.chat.completions.with_raw_response.create(model="council", messages=MESSAGES)
    completion = raw.parse()
    assert raw.headers["x-cache"] == "MISS"
    assert completion.model == "council"
    assert completion.choices[0].message.content
    ultra = completion.model_extra["ultra"]
    assert ultra["is_synthesized"] is True
    assert ultra["synthesizer"] == "m-claude"
    assert ultra["pattern"] == "synthesize"
    assert [m["model"] for m in ultra["members"]] == MEMBERS
    for member in ultra["members"]:
        assert member["status"] == "ok" and member["error"] is None and member["cached"] is False
        assert member["provider"] == "mock" and member["content"] and member["latency_ms"] >= 100
    member_total = sum(m["usage"]["total_tokens"] for m in ultra["members"])
    assert completion.usage.total_tokens > member_total  # members plus the synthesis call
    timing = dict(p.strip().split(";dur=") for p in raw.headers["server-timing"].split(","))
    assert float(timing["synth"]) >= 100 and float(timing["upstream"]) >= float(timing["synth"])
    import requests
    metrics = requests.get(make_gateway_last_url(raw) + "/metrics").text
    assert 'ultragate_ensemble_members_total{ensemble="council",result="ok"} 3' in metrics
    # The complete result is cached under the ensemble request.
    again = client.chat.completions.with_raw_response.create(model="council", messages=MESSAGES)
    assert again.headers["x-cache"] == "HIT"
    assert again.parse().choices[0].message.content == completion.choices[0].message.content


def test_member_answers_are_shared_with_single_model_requests(make_gateway):
    client = client_for(make_gateway(config=config()))
    single = client.chat.completions.create(model="m-gpt", messages=MESSAGES)
    completion = client.chat.completions.create(
        model="m-claude", messages=MESSAGES, extra_body={"ultra": {"models": ["m-gpt", "m-gemini"]}})
    ultra = completion.model_extra["ultra"]
    assert completion.model == "m-claude"
    assert [m["cached"] for m in ultra["members"]] == [True, False]
    assert ultra["members"][0]["content"] == single.choices[0].message.content
    later = client.chat.completions.with_raw_response.create(model="m-gemini", messages=MESSAGES)
    assert later.headers["x-cache"] == "HIT"


def test_failed_member_is_recorded_and_result_not_cached(make_gateway):
    client = client_for(make_gateway(config=config()))
    body = {"ultra": {"models": ["m-gpt", "dead", "m-gemini"], "synthesizer": "m-claude"}}
    raw = client.chat.completions.with_raw_response.create(model="council", messages=MESSAGES, extra_body=body)
    ultra = raw.parse().model_extra["ultra"]
    dead = ultra["members"][1]
    assert dead["status"] == "failed" and dead["content"] is None and dead["error"]["message"]
    assert ultra["is_synthesized"] is True
    again = client.chat.completions.with_raw_response.create(model="council", messages=MESSAGES, extra_body=body)
    assert again.headers["x-cache"] == "MISS"


def test_one_answer_is_returned_unsynthesized(make_gateway):
    client = client_for(make_gateway(config=config()))
    single = client.chat.completions.create(model="m-gemini", messages=MESSAGES)
    completion = client.chat.completions.create(
        model="council", messages=MESSAGES, extra_body={"ultra": {"models": ["dead", "m-gemini"]}})
    assert completion.model_extra["ultra"]["is_synthesized"] is False
    assert completion.choices[0].message.content == single.choices[0].message.content


def test_all_members_failing_is_502(make_gateway):
    client = client_for(make_gateway(config=config()))
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="council", messages=MESSAGES, extra_body={"ultra": {"models": ["dead", "dead"]}})
    assert info.value.status_code == 502
    assert "dead" in info.value.message


def test_invalid_ultra_is_rejected(make_gateway):
    client = client_for(make_gateway(config=config()))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="council", messages=MESSAGES, extra_body={"ultra": {"pattern": "chaos"}})
    assert info.value.body["param"] == "ultra.pattern"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="m-gpt", messages=MESSAGES, extra_body={"ultra": {"models": ["nope"]}})
    # `council` exists (GET /v1/models lists it), but an ensemble cannot be a member.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="m-gpt", messages=MESSAGES, extra_body={"ultra": {"models": ["council", "m-gpt"]}})
    assert info.value.body["param"] == "ultra.models"
    assert "`council` is an ensemble" in info.value.body["message"]


@pytest.mark.parametrize("pattern", ["critique", "vote", "best"])
def test_every_pattern_answers(make_gateway, pattern):
    client = client_for(make_gateway(config=config(pattern=pattern)))
    completion = client.chat.completions.create(model="council", messages=MESSAGES)
    ultra = completion.model_extra["ultra"]
    assert ultra["pattern"] == pattern
    assert completion.choices[0].message.content
    if pattern == "critique":
        assert len(ultra["rankings"]) == 3 and len(ultra["aggregate_ranking"]) == 3
    elif pattern == "vote":
        assert sum(v["count"] for v in ultra["votes"]) == 3
    else:
        # The judge (the mock synthesizer) names one member's answer, which is returned unchanged.
        best = ultra["best"]
        assert best["label"] and best["model"] in MEMBERS, best
        chosen = [m for m in ultra["members"] if m["model"] == best["model"]]
        assert len(chosen) == 1 and completion.choices[0].message.content == chosen[0]["content"]


def test_stream_sends_keepalives_then_synthesis_with_ultra_last(make_gateway):
    gateway = make_gateway(config=config())
    client = client_for(gateway)
    stream = client.chat.completions.create(model="council", messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.model == "council" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    last = chunks[-1]
    assert last.model_extra["ultra"]["is_synthesized"] is True
    assert last.usage.total_tokens > 0
    assert all("ultra" not in (c.model_extra or {}) for c in chunks[:-1])
    # The raw wire carries SSE comments while the members work (150 ms mock latency, 50 ms keep-alive).
    import requests
    r = requests.post(gateway.base_url + "/v1/chat/completions", stream=True, json={
        "model": "council", "stream": True, "messages": [{"role": "user", "content": "another question"}]})
    raw = b"".join(r.iter_content(None)).decode()
    assert raw.startswith(": keep-alive")
    assert raw.endswith("data: [DONE]\n\n")
