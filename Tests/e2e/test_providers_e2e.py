"""The real gateway in front of fake providers speaking OpenAI's, Anthropic's and Gemini's wire
formats (fake_providers.py), driven by the official `openai` SDK: translation, caching, single
flight, retries, fallbacks, broken streams, key hygiene and upstream cancellation."""
import http.client
import json
import threading
import time

import openai
import pytest
import requests

from conftest import validate
from fake_providers import Behaviour, answer_text

KINDS = ["openai", "anthropic", "gemini"]
KEY_ENV = "E2E_FAKE_PROVIDER_KEY"
UPSTREAM_MODEL = "up-model-7"
FAST_RETRY = {"max_attempts": 3, "base_delay": 0.05, "max_delay": 2, "deadline": 30}


def provider_entry(fake, retry=None):
    return {"type": fake.kind, "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV,
            "timeouts": {"connect": 5, "first_byte": 20, "idle": 20, "total": 60},
            "retry": retry or FAST_RETRY}


def config_for(fake, alias="m1", retry=None, **top):
    cfg = {"providers": {"fake": provider_entry(fake, retry)},
           "models": {alias: {"provider": "fake", "model": UPSTREAM_MODEL}}}
    cfg.update(top)
    return cfg


def start(make_gateway, fake, config):
    return make_gateway(config=config, env={KEY_ENV: fake.api_key})


def client_for(gateway, timeout=60):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="client-side-unused", max_retries=0,
                         timeout=timeout)


def post_chat(gateway, body, timeout=60, **kw):
    return requests.post(gateway.base_url + "/v1/chat/completions", json=body, timeout=timeout, **kw)


def assert_auth(kind, rec, key):
    h = rec.headers
    if kind == "openai":
        assert h.get("authorization") == f"Bearer {key}"
    elif kind == "anthropic":
        assert h.get("x-api-key") == key
        assert h.get("anthropic-version")
    else:
        assert h.get("x-goog-api-key") == key
        assert "key=" not in rec.path  # the key travels in the header, never in the URL


def assert_translated(kind, rec, system, prompt, stream):
    """The body the provider got is in that provider's shape, with the route's model."""
    body = rec.body
    if kind == "openai":
        assert rec.path == "/v1/chat/completions"
        assert body["model"] == UPSTREAM_MODEL
        assert body["messages"][0] == {"role": "system", "content": system}
        assert body["messages"][-1] == {"role": "user", "content": prompt}
        if stream:
            assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        else:
            assert "stream" not in body or body["stream"] is False
    elif kind == "anthropic":
        assert rec.path == "/v1/messages"
        assert body["model"] == UPSTREAM_MODEL
        assert body["system"] == system
        assert all(m["role"] != "system" for m in body["messages"])
        assert body["messages"] == [{"role": "user", "content": prompt}]
        assert isinstance(body["max_tokens"], int) and body["max_tokens"] > 0
        assert body.get("stream", False) is stream
    else:
        method = ":streamGenerateContent?alt=sse" if stream else ":generateContent"
        assert rec.path == f"/v1beta/models/{UPSTREAM_MODEL}{method}"
        assert body["systemInstruction"] == {"parts": [{"text": system}]}
        assert body["contents"] == [{"role": "user", "parts": [{"text": prompt}]}]
        assert "model" not in body and "messages" not in body


def expected_usage(prompt, text):
    return len(prompt.split()) + 7, len(text.split())


# -- Happy paths ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_non_stream_through_sdk_translates_and_caches(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    gw = start(make_gateway, fake, config_for(fake))
    client = client_for(gw)
    system, prompt = "You are terse.", f"Explain caching for {kind} please"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    raw = client.chat.completions.with_raw_response.create(model="m1", messages=messages)
    completion = raw.parse()
    validate(json.loads(raw.content), "CreateChatCompletionResponse")
    assert raw.headers["x-cache"] == "MISS"
    assert raw.headers["x-ultragate-model"] == "m1"

    [rec] = fake.chat_requests()
    assert_auth(kind, rec, fake.api_key)
    assert_translated(kind, rec, system, prompt, stream=False)

    text = answer_text(kind, UPSTREAM_MODEL, prompt)
    assert completion.model == "m1"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == text
    assert completion.choices[0].finish_reason == "stop"
    p, c = expected_usage(prompt, text)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (p, c, p + c)

    again = client.chat.completions.with_raw_response.create(model="m1", messages=messages)
    assert again.headers["x-cache"] == "HIT"
    assert again.parse().choices[0].message.content == text
    assert len(fake.chat_requests()) == 1, "a cache hit must not reach the provider"


@pytest.mark.parametrize("kind", KINDS)
def test_stream_through_sdk_translates_and_caches(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    gw = start(make_gateway, fake, config_for(fake))
    client = client_for(gw)
    system, prompt = "Stream politely.", f"Stream me a {kind} answer"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    raw = client.chat.completions.with_raw_response.create(model="m1", messages=messages, stream=True,
                                                            stream_options={"include_usage": True})
    assert raw.headers["x-cache"] == "MISS"
    assert raw.headers["x-ultragate-model"] == "m1"
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    for chunk in chunks:
        validate(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
        assert chunk.model == "m1"
    text = answer_text(kind, UPSTREAM_MODEL, prompt)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 3, "the answer should arrive in several pieces"
    assert "".join(c.choices[0].delta.content for c in content_chunks) == text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    p, c = expected_usage(prompt, text)
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (p, c)

    [rec] = fake.chat_requests()
    assert_auth(kind, rec, fake.api_key)
    assert_translated(kind, rec, system, prompt, stream=True)

    # The streamed answer is cached: streamed again and non-streamed, both hits, no new upstream call.
    again = client.chat.completions.with_raw_response.create(model="m1", messages=messages, stream=True)
    assert again.headers["x-cache"] == "HIT"
    assert "".join(c.choices[0].delta.content or "" for c in again.parse() if c.choices) == text
    plain = client.chat.completions.with_raw_response.create(model="m1", messages=messages)
    assert plain.headers["x-cache"] == "HIT"
    assert plain.parse().choices[0].message.content == text
    assert len(fake.chat_requests()) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_stream_rate_limited_through_its_retries_is_a_429_even_past_the_keep_alive_interval(kind, make_fake, make_gateway):
    """Waiting out Retry-After between attempts sends nothing to a stream not yet started, even
    when the waits outlast the keep-alive interval: the final 429 goes out as a 429 with its
    Retry-After (which the SDK retries on), not as an error event inside a 200."""
    fake = make_fake(kind)
    fake.default = Behaviour(status=429, headers={"Retry-After": "1"}, error_message="slow down please")
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 3, "base_delay": 0.05, "max_delay": 2},
                                              stream_keepalive_interval=0.3))
    with pytest.raises(openai.RateLimitError) as info:
        list(client_for(gw).chat.completions.create(model="m1", stream=True,
                                                    messages=[{"role": "user", "content": "limited stream"}]))
    assert info.value.response.status_code == 429
    assert info.value.response.headers.get("retry-after") == "1"
    assert len(fake.chat_requests()) == 3
    # (Keep-alives while an upstream is slow to answer at all: test_slow_first_token_keeps_the_stream_alive.)

@pytest.mark.parametrize("kind", KINDS)
def test_aliases_of_one_model_share_entries_and_each_hit_carries_its_own_name(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    cfg = config_for(fake)
    cfg["models"]["m2"] = dict(cfg["models"]["m1"])
    gw = start(make_gateway, fake, cfg)
    client = client_for(gw)
    messages = [{"role": "user", "content": "one model, two names"}]
    first = client.chat.completions.with_raw_response.create(model="m2", messages=messages)
    assert first.headers["x-cache"] == "MISS" and first.parse().model == "m2"
    for stream in (False, True):
        hit = client.chat.completions.with_raw_response.create(model="m1", messages=messages, stream=stream)
        assert hit.headers["x-cache"] == "HIT"
        assert hit.headers["x-ultragate-model"] == "m1"
        if stream:
            assert {chunk.model for chunk in hit.parse()} == {"m1"}
        else:
            assert hit.parse().model == "m1"
            assert hit.parse().choices[0].message.content == first.parse().choices[0].message.content
    again = client.chat.completions.with_raw_response.create(model="m2", messages=messages)
    assert again.headers["x-cache"] == "HIT" and again.parse().model == "m2"
    assert len(fake.chat_requests()) == 1

@pytest.mark.parametrize("kind", KINDS)
def test_identical_concurrent_requests_share_one_upstream_call(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.default = Behaviour(delay=1.5)
    gw = start(make_gateway, fake, config_for(fake))
    body = {"model": "m1", "messages": [{"role": "user", "content": "single flight please"}]}
    results = [None, None]

    def go(i):
        results[i] = post_chat(gw, body)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    threads[0].start()
    time.sleep(0.3)  # well inside the 1.5 s the provider takes
    threads[1].start()
    for t in threads:
        t.join(60)
    assert [r.status_code for r in results] == [200, 200]
    assert results[0].json()["choices"] == results[1].json()["choices"]
    assert len(fake.chat_requests()) == 1, "identical requests in flight must share one upstream call"


# -- Retries and errors -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_429_with_retry_after_is_retried_once_then_answers(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.script(Behaviour(status=429, headers={"Retry-After": "1"}))
    gw = start(make_gateway, fake, config_for(fake))
    t0 = time.monotonic()
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "rate limited once"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == answer_text(kind, UPSTREAM_MODEL, "rate limited once")
    reqs = fake.chat_requests()
    assert len(reqs) == 2
    assert reqs[1].at - reqs[0].at >= 0.9, "Retry-After: 1 must be honoured"
    assert time.monotonic() - t0 >= 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_persistent_429_reaches_the_client_with_retry_after(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.default = Behaviour(status=429, headers={"Retry-After": "1"}, error_message="slow down please")
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 2, "base_delay": 0.05, "max_delay": 2}))
    client = client_for(gw)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "always limited"}])
    response = info.value.response
    assert response.status_code == 429
    assert response.headers.get("retry-after") == "1"
    err = response.json()["error"]
    assert set(err) >= {"message", "type", "code"}
    assert isinstance(err["message"], str) and "slow down please" in err["message"]
    assert len(fake.chat_requests()) == 2
    # Errors are not cached: the next identical request asks the provider again.
    fake.default = Behaviour()
    ok = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "always limited"}]})
    assert ok.status_code == 200 and ok.headers["x-cache"] == "MISS"


@pytest.mark.parametrize("kind", KINDS)
def test_500_on_primary_falls_back_and_caches_under_the_fallback(kind, make_fake, make_gateway):
    primary = make_fake(kind)
    primary.default = Behaviour(status=500)
    other = make_fake("openai" if kind != "openai" else "anthropic", api_key=primary.api_key)
    cfg = {"providers": {"prim": provider_entry(primary), "back": provider_entry(other)},
           "models": {"main": {"provider": "prim", "model": UPSTREAM_MODEL, "fallbacks": ["other"]},
                      "other": {"provider": "back", "model": "backup-model"}}}
    gw = start(make_gateway, primary, cfg)
    client = client_for(gw)
    messages = [{"role": "user", "content": "who answers this"}]
    raw = client.chat.completions.with_raw_response.create(model="main", messages=messages)
    completion = raw.parse()
    assert completion.model == "other"
    assert raw.headers["x-ultragate-model"] == "other"
    assert completion.choices[0].message.content == answer_text(other.kind, "backup-model", "who answers this")
    assert len(primary.chat_requests()) == FAST_RETRY["max_attempts"], "500 is retried up to max_attempts"
    assert len(other.chat_requests()) == 1

    direct = client.chat.completions.with_raw_response.create(model="other", messages=messages)
    assert direct.headers["x-cache"] == "HIT"
    assert direct.parse().choices[0].message.content == completion.choices[0].message.content
    assert len(other.chat_requests()) == 1

    again = client.chat.completions.with_raw_response.create(model="main", messages=messages)
    assert again.headers["x-cache"] != "HIT", "the fallback's answer must not be cached as the primary's"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
def test_connection_reset_is_retried(kind, stream, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.script(Behaviour(reset=True))
    gw = start(make_gateway, fake, config_for(fake))
    client = client_for(gw)
    prompt = f"reset then answer stream={stream}"
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="m1", messages=[{"role": "user", "content": prompt}], stream=True) if c.choices)
    else:
        text = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": prompt}]).choices[0].message.content
    assert text == answer_text(kind, UPSTREAM_MODEL, prompt)
    assert len(fake.chat_requests()) == 2


def read_sse(response):
    """(data payloads, error) of an SSE response read with requests; error is the exception that
    broke the body, if any."""
    events, error = [], None
    try:
        for line in response.iter_lines():
            if line.startswith(b"data: "):
                events.append(line[6:].decode())
    except Exception as e:  # noqa: BLE001 - any transport failure counts as a broken stream
        error = e
    return events, error


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cut_mode", ["close", "clean"])
def test_stream_cut_midway_is_an_error_and_not_cached(kind, cut_mode, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.script(Behaviour(cut_after=5, cut_mode=cut_mode, words=12))
    gw = start(make_gateway, fake, config_for(fake))
    body = {"model": "m1", "stream": True, "messages": [{"role": "user", "content": f"cut me {cut_mode}"}]}
    with post_chat(gw, body, stream=True) as r:
        assert r.status_code == 200
        events, broken = read_sse(r)
    error_events = [e for e in events if e.startswith("{") and "error" in json.loads(e)]
    assert broken is not None or error_events, f"the client must see the failure: {events}"
    assert not (events and events[-1] == "[DONE]" and not error_events), "a cut stream must not end like a good one"
    if error_events:
        err = json.loads(error_events[0])["error"]
        assert err["message"] and err["type"]

    # Also through the SDK: iterating raises.
    fake.script(Behaviour(cut_after=5, cut_mode=cut_mode, words=12))
    # The gateway ends a failed stream with an error event, which the SDK raises as an APIError.
    with pytest.raises(openai.APIError):
        list(client_for(gw).chat.completions.create(model="m1", messages=[{"role": "user", "content": "sdk cut"}],
                                                      stream=True))

    # Nothing was cached: the same request goes upstream again (and now succeeds).
    n = len(fake.chat_requests())
    r2 = post_chat(gw, {**body, "stream": False})
    assert r2.status_code == 200
    assert r2.headers["x-cache"] == "MISS"
    assert len(fake.chat_requests()) == n + 1



@pytest.mark.parametrize("kind,body", [
    ("anthropic", {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x"}),
    ("anthropic", {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                   "content": [{"type": "text", "text": "cut"}], "stop_reason": None, "usage": {"input_tokens": 1, "output_tokens": 1}}),
    ("gemini", {"candidates": [{"index": 0}]}),
    ("gemini", {"candidates": [{"content": {"role": "model", "parts": [{"text": "cut"}]}, "index": 0}]}),
])
def test_whole_answer_without_its_required_fields_is_502_and_not_cached(kind, body, make_fake, make_gateway):
    """An Anthropic Message without `content` or `stop_reason`, or a Gemini candidate without a
    `finishReason` ("the model has not stopped generating"), is a cut or malformed answer: a 502,
    never a finished empty answer, and the repeat goes upstream again."""
    fake = make_fake(kind)
    fake.script(Behaviour(status=200, raw_body=body))
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}))
    request = {"model": "m1", "messages": [{"role": "user", "content": "incomplete answer"}]}
    r = post_chat(gw, request)
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_invalid_response"
    r = post_chat(gw, request)
    assert r.status_code == 200 and r.headers["x-cache"] == "MISS"
    assert len(fake.chat_requests()) == 2

# -- Secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_api_key_never_leaks(kind, make_fake, make_gateway):
    key = f"sk-{kind}-SECRET-e2e-5f1d9c7a"
    fake = make_fake(kind, api_key=key)
    # Providers echo (part of) the key in auth errors; the gateway must scrub it.
    fake.script(Behaviour(status=401, error_message=f"Incorrect API key provided: {key}. Check your key."),
                Behaviour(status=500, error_message=f"internal error for {key}"))
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}, access_log="stderr"))
    seen = []

    def look(r):
        seen.append(r.text)
        seen.append(json.dumps(dict(r.headers)))

    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "auth fails"}]})
    assert r.status_code == 401, r.text
    look(r)
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "server fails"}]})
    assert r.status_code == 500, r.text
    look(r)
    fake.script(Behaviour(status=401, error_message=f"bad key {key}"))
    with post_chat(gw, {"model": "m1", "stream": True, "messages": [{"role": "user", "content": "stream auth fails"}]},
                   stream=True) as r:
        look(r)
    for path in ("/v1/models", "/v1/models/m1", "/health"):
        look(requests.get(gw.base_url + path, timeout=30))
    ok = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "works"}]})
    assert ok.status_code == 200
    look(ok)
    gw.stop()
    seen.append(gw.log())
    for text in seen:
        assert key not in text
        assert key[6:] not in text  # nor a recognisable tail of it


# -- Cancellation -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_client_disconnect_mid_stream_closes_the_upstream_connection(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.default = Behaviour(event_delay=0.25, words=200)  # a ~50 s stream unless abandoned
    gw = start(make_gateway, fake, config_for(fake))
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    body = json.dumps({"model": "m1", "stream": True, "messages": [{"role": "user", "content": "long stream"}]})
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    got = b""
    while got.count(b"data: ") < 3:
        got += resp.read1(4096)
    conn.sock.shutdown(2)
    conn.close()
    closed_at = time.time()
    deadline = closed_at + 15
    while time.time() < deadline and not fake.disconnects:
        time.sleep(0.05)
    assert fake.disconnects, "the gateway kept reading from the provider after the client left"
    noticed = fake.disconnects[0][1] - closed_at
    print(f"{kind}: upstream closed {noticed:.3f} s after the client left")
    assert noticed > -0.05, "the upstream stream ended before the client left"
    assert noticed < 5, f"upstream closed only after {noticed:.1f} s"
    assert fake.completed_streams == 0


# -- More faults ------------------------------------------------------------------------------

def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("kind", KINDS)
def test_stream_rate_limited_before_first_chunk_is_an_http_429(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.default = Behaviour(status=429, headers={"Retry-After": "1"})
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}))
    with post_chat(gw, {"model": "m1", "stream": True, "messages": [{"role": "user", "content": "limited stream"}]},
                   stream=True) as r:
        assert r.status_code == 429, r.text
        assert r.headers.get("retry-after") == "1"
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_first_byte_timeout_is_retried(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.script(Behaviour(delay=4))
    cfg = config_for(fake)
    cfg["providers"]["fake"]["timeouts"] = {"connect": 5, "first_byte": 1, "idle": 20, "total": 60}
    gw = start(make_gateway, fake, cfg)
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "slow first byte"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == answer_text(kind, UPSTREAM_MODEL, "slow first byte")
    assert len(fake.chat_requests()) == 2
    # The abandoned first attempt's connection was closed by the gateway, not left hanging.
    assert wait_for(lambda: fake.disconnects, timeout=10)


def test_one_of_two_streaming_clients_leaving_does_not_cancel_the_shared_call(make_fake, make_gateway):
    fake = make_fake("anthropic")
    fake.default = Behaviour(event_delay=0.1, words=25)
    gw = start(make_gateway, fake, config_for(fake))
    body = json.dumps({"model": "m1", "stream": True, "messages": [{"role": "user", "content": "shared stream"}]})

    def open_stream():
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        return conn, conn.getresponse()

    leaver, leaver_resp = open_stream()
    assert leaver_resp.status == 200
    stayer, stayer_resp = open_stream()
    got = b""
    while got.count(b"data: ") < 2:
        got += leaver_resp.read1(4096)
    leaver.sock.shutdown(2)
    leaver.close()
    rest = stayer_resp.read()
    stayer.close()
    events = [line[6:] for line in rest.split(b"\n") if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    text = "".join((json.loads(e)["choices"][0]["delta"].get("content") or "")
                   for e in events[:-1] if json.loads(e).get("choices"))
    assert text == answer_text("anthropic", UPSTREAM_MODEL, "shared stream", 25)
    assert len(fake.chat_requests()) == 1
    # The fake counts a stream as completed after its last write, which the client may read first.
    assert wait_for(lambda: fake.completed_streams == 1, timeout=10)
    assert not fake.disconnects


def test_non_stream_client_giving_up_cancels_the_upstream_call(make_fake, make_gateway):
    """A plain request whose client closes the connection is cancelled upstream (nobody pays for
    an answer no one reads) and nothing is cached."""
    fake = make_fake("openai")
    fake.script(Behaviour(delay=3))
    gw = start(make_gateway, fake, config_for(fake))
    body = {"model": "m1", "messages": [{"role": "user", "content": "impatient"}]}
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_chat(gw, body, timeout=1)
    assert wait_for(lambda: len(fake.chat_requests()) == 1)
    # The fake sees the gateway close the upstream connection while it is still "thinking".
    assert wait_for(lambda: fake.disconnects, timeout=5), "the upstream call was not cancelled"
    assert fake.disconnects[0][1] - fake.disconnects[0][0] < 2.5, "cancelled only when the answer was due"
    r = post_chat(gw, body)
    assert r.status_code == 200
    assert r.headers["x-cache"] == "MISS"
    assert len(fake.chat_requests()) == 2


def test_non_stream_client_leaving_keeps_the_call_for_the_other_waiter(make_fake, make_gateway):
    fake = make_fake("gemini")
    fake.default = Behaviour(delay=3)
    gw = start(make_gateway, fake, config_for(fake))
    body = {"model": "m1", "messages": [{"role": "user", "content": "two waiters"}]}
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", post_chat(gw, body)))
    t.start()
    time.sleep(0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_chat(gw, body, timeout=1)
    t.join(60)
    assert result["r"].status_code == 200
    assert len(fake.chat_requests()) == 1 and not fake.disconnects


def slow_start_stream(make_fake, make_gateway, kind):
    fake = make_fake(kind)
    fake.script(Behaviour(delay=2.5))
    gw = start(make_gateway, fake, config_for(fake, stream_keepalive_interval=0.5))
    with post_chat(gw, {"model": "m1", "stream": True, "messages": [{"role": "user", "content": "slow start"}]},
                   stream=True) as r:
        assert r.status_code == 200
        return dict(r.headers), r.content.decode()


@pytest.mark.parametrize("kind", KINDS)
def test_slow_first_token_keeps_the_stream_alive(kind, make_fake, make_gateway):
    headers, raw = slow_start_stream(make_fake, make_gateway, kind)
    assert ": keep-alive" in raw
    assert raw.rstrip().endswith("data: [DONE]")
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]) == \
        answer_text(kind, UPSTREAM_MODEL, "slow start")


def test_slow_first_token_stream_still_names_the_model(make_fake, make_gateway):
    headers, _ = slow_start_stream(make_fake, make_gateway, "openai")
    assert headers.get("X-UltraGate-Model") == "m1", f"headers sent before the first token lack the model: {headers}"


@pytest.mark.parametrize("kind", KINDS)
def test_api_key_in_an_error_inside_a_200_body_is_scrubbed(kind, make_fake, make_gateway):
    key = f"sk-{kind}-INBODY-e2e-77aa31"
    fake = make_fake(kind, api_key=key)
    bodies = {"openai": {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_api_key"}},
              "anthropic": {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {key}"}},
              "gemini": {"error": {"code": 400, "message": f"API key not valid: {key}", "status": "INVALID_ARGUMENT"}}}
    fake.script(Behaviour(status=200, raw_body=bodies[kind]))
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}, access_log="stderr"))
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "error in a 200"}]})
    # An error object inside a 200 is answered with the status its own code names (OpenAI's
    # invalid_api_key is a 401, Gemini's `code` 400), else as an upstream failure (502).
    assert r.status_code == {"openai": 401, "anthropic": 502, "gemini": 400}[kind], r.text
    assert "error" in r.json()
    gw.stop()
    for text in (r.text, json.dumps(dict(r.headers)), gw.log()):
        assert key not in text


def test_stream_falls_back_before_the_first_chunk(make_fake, make_gateway):
    primary = make_fake("gemini")
    primary.default = Behaviour(status=503)
    other = make_fake("anthropic", api_key=primary.api_key)
    cfg = {"providers": {"prim": provider_entry(primary), "back": provider_entry(other)},
           "models": {"main": {"provider": "prim", "model": UPSTREAM_MODEL, "fallbacks": ["other"]},
                      "other": {"provider": "back", "model": "backup-model"}}}
    gw = start(make_gateway, primary, cfg)
    raw = client_for(gw).chat.completions.with_raw_response.create(
        model="main", messages=[{"role": "user", "content": "stream via fallback"}], stream=True)
    assert raw.headers["x-ultragate-model"] == "other"
    chunks = list(raw.parse())
    assert {c.model for c in chunks} == {"other"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        answer_text("anthropic", "backup-model", "stream via fallback")
    assert all(r.stream for r in primary.chat_requests()) and len(other.chat_requests()) == 1


def _forward_proxy():
    """A plain-HTTP forward proxy stand-in: records each request target (absolute-form, RFC 9112
    §3.2.2, when a client goes through a proxy) and answers as an OpenAI upstream would."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)
            body = json.dumps({"id": "chatcmpl-proxy", "object": "chat.completion", "created": 1, "model": "up",
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": "via proxy"},
                                            "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


PROXY_VARIABLES = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                   "no_proxy", "NO_PROXY"]


@pytest.mark.parametrize("variable", ["http_proxy", "ALL_PROXY"])
def test_proxy_variables_in_the_environment_are_honoured(variable, make_gateway):
    # The upstream's name does not resolve: only the proxy can answer.
    config = {"providers": {"far": {"type": "openai", "base_url": "http://upstream.invalid/v1", "api_key": "k",
                                    "retry": {"max_attempts": 1}}},
              "models": {"m": {"provider": "far", "model": "up"}}}
    server, seen = _forward_proxy()
    direct = requests.Session()
    direct.trust_env = False  # this test's own requests go straight to the gateway
    try:
        g = make_gateway(config=config, env={variable: f"http://127.0.0.1:{server.server_address[1]}"},
                         unset=PROXY_VARIABLES)
        r = direct.post(g.base_url + "/v1/chat/completions",
                        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "via proxy"
        assert seen == ["http://upstream.invalid/v1/chat/completions"]
    finally:
        server.shutdown()
    # Without the variable the same request cannot reach anything.
    g = make_gateway(config=config, unset=PROXY_VARIABLES)
    r = direct.post(g.base_url + "/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    # The proxy is gone, so the upstream cannot be reached: 502 after the retries (README: Errors).
    assert r.status_code == 502 and r.json()["error"]["message"]


def test_shutdown_stops_retrying_so_the_upstream_error_comes_at_once(make_fake, make_gateway):
    """Once shutdown begins, a failed call is not retried again: the client gets the upstream's
    own error as soon as the wait in progress ends, not a 503 at the end of the grace period."""
    import signal
    import threading
    import time
    fake = make_fake("openai")
    fake.default = Behaviour(status=503, error_message="upstream is down for maintenance")
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 8, "base_delay": 2, "max_delay": 2},
                                              server={"shutdown_grace_period": 20}))
    result = {}

    def call():
        t0 = time.monotonic()
        result["r"] = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "retry me"}]}, timeout=60)
        result["seconds"] = time.monotonic() - t0

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.5)  # the first attempt failed; the call waits before its second
    gw.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert result["r"].status_code == 503
    assert "upstream is down for maintenance" in result["r"].json()["error"]["message"]
    assert result["seconds"] < 8, result["seconds"]  # 8 attempts 2 s apart would take 14 s
    assert len(fake.chat_requests()) <= 3
    assert gw.proc.wait(timeout=30) == 0


# -- Upstream addresses: names in URLs, base URL queries, Azure OpenAI ------------------------

def azure_entry(fake, **extra):
    entry = {"type": "azure", "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV, "retry": {"max_attempts": 1}}
    entry.update(extra)
    return entry


def test_azure_addresses_the_deployment_with_the_api_version_and_api_key_header(make_fake, make_gateway):
    fake = make_fake("azure")
    config = {"providers": {"fake": azure_entry(fake)},
              "models": {"m1": {"provider": "fake", "model": "gpt-4o-prod"}}}
    gw = start(make_gateway, fake, config)
    client = client_for(gw)
    done = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hello azure"}])
    assert done.choices[0].message.content == answer_text("azure", "gpt-4o-prod", "hello azure")
    chunks = list(client.chat.completions.create(model="m1", stream=True,
                                                 messages=[{"role": "user", "content": "stream azure"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        answer_text("azure", "gpt-4o-prod", "stream azure")
    # `provider/deployment` reaches another deployment of the same resource.
    other = post_chat(gw, {"model": "fake/gpt-4o-mini-eu", "messages": [{"role": "user", "content": "direct"}]})
    assert other.status_code == 200, other.text
    recs = fake.chat_requests()
    assert [r.path for r in recs] == [
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
        "/openai/deployments/gpt-4o-mini-eu/chat/completions?api-version=2024-10-21",
    ]
    for r in recs:
        assert r.headers.get("api-key") == fake.api_key
        assert "authorization" not in r.headers
    assert recs[0].body["model"] == "gpt-4o-prod" and "stream" not in recs[0].body
    assert recs[1].body["stream"] is True and recs[1].body["stream_options"] == {"include_usage": True}


def test_azure_api_version_setting_and_environment_registration(make_fake, make_gateway):
    fake = make_fake("azure", api_version="2025-01-01-preview")
    configured = start(make_gateway, fake, {"providers": {"fake": azure_entry(fake, api_version="2025-01-01-preview")},
                                            "models": {"m1": {"provider": "fake", "model": "dep"}}})
    assert post_chat(configured, {"model": "m1", "messages": [{"role": "user", "content": "v"}]}).status_code == 200
    # No config file: AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT register provider `azure`.
    from_env = make_gateway(env={"AZURE_OPENAI_API_KEY": fake.api_key, "AZURE_OPENAI_ENDPOINT": fake.base_url + "/",
                                 "AZURE_OPENAI_API_VERSION": "2025-01-01-preview"})
    r = post_chat(from_env, {"model": "azure/dep-env", "messages": [{"role": "user", "content": "from env"}]})
    assert r.status_code == 200, r.text
    assert [rec.path for rec in fake.chat_requests()] == [
        "/openai/deployments/dep/chat/completions?api-version=2025-01-01-preview",
        "/openai/deployments/dep-env/chat/completions?api-version=2025-01-01-preview",
    ]


def test_openai_base_url_with_a_query_keeps_it_after_the_path(make_fake, make_gateway):
    fake = make_fake("openai")
    config = config_for(fake)
    config["providers"]["fake"]["base_url"] = fake.base_url + "/?tenant=7&region=eu"
    gw = start(make_gateway, fake, config)
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "query kept"}]})
    assert r.status_code == 200, r.text
    assert [rec.path for rec in fake.chat_requests()] == ["/v1/chat/completions?tenant=7&region=eu"]


ESCAPING_NAMES = ["../../../admin/secret#", "x:countTokens#", "x?key=1&alt=json", "a/b", "%2e%2e%2fadmin", "..", "line\nbreak"]


@pytest.mark.parametrize("kind", ["gemini", "azure"])
def test_model_names_that_would_leave_their_url_path_segment_are_refused(kind, make_fake, make_gateway):
    """The audit's `gemini/../../../x#` made the gateway POST, with the operator's key, to any
    path of the provider's host and hand back that path's answer."""
    fake = make_fake(kind)
    config = {"providers": {"fake": provider_entry(fake) if kind == "gemini" else azure_entry(fake)},
              "models": {"m1": {"provider": "fake", "model": UPSTREAM_MODEL}}}
    gw = start(make_gateway, fake, config)
    for name in ESCAPING_NAMES:
        for stream in (False, True):
            r = post_chat(gw, {"model": "fake/" + name, "stream": stream, "messages": [{"role": "user", "content": "x"}]})
            assert r.status_code == 400, (name, r.text)
            error = r.json()["error"]
            assert error["param"] == "model" and error["type"] == "invalid_request_error", error
        # As an ensemble member it is refused the same way (that member fails; nothing is sent).
        r = post_chat(gw, {"model": "m1", "ultra": {"models": ["fake/" + name]}, "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code >= 400
    assert fake.chat_requests() == []
    ok = post_chat(gw, {"model": "fake/plain-name", "messages": [{"role": "user", "content": "fine"}]})
    assert ok.status_code == 200, ok.text
    assert len(fake.chat_requests()) == 1


@pytest.mark.parametrize("kind,model,key", [
    ("gemini", "../admin#", "models.bad.model"),
    ("azure", "dep/../../x", "models.bad.model"),
])
def test_configured_model_name_that_would_leave_its_url_path_stops_start_up(kind, model, key, tmp_path):
    import subprocess
    from conftest import BINARY
    entry = {"type": kind, "base_url": "http://127.0.0.1:9", "api_key": "k"}
    config = {"providers": {"p": entry}, "models": {"bad": {"provider": "p", "model": model}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    run = subprocess.run([BINARY, "serve", "--port", "0", "--cache-dir", str(tmp_path / "c"), "--config", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2, run.stderr
    assert key in run.stderr and "cannot be sent to provider `p`" in run.stderr, run.stderr


@pytest.mark.parametrize("kind", KINDS + ["azure"])
def test_slices_of_the_key_echoed_by_a_401_never_reach_the_client(kind, make_fake, make_gateway):
    key = "sk-e2e-Zq7Lm0Np4Rt8Vx2Bc6Df1Gh5Jk9Wy3"
    fake = make_fake(kind, api_key=key)
    slices = {"start": key[:8], "middle": key[9:26], "end": key[-8:], "eight": key[12:20], "whole": key}
    fake.default = Behaviour(status=401)
    config = {"providers": {"fake": provider_entry(fake, {"max_attempts": 1}) if kind != "azure" else azure_entry(fake)},
              "models": {"m1": {"provider": "fake", "model": UPSTREAM_MODEL}}}
    gw = start(make_gateway, fake, config)
    for name, piece in slices.items():
        for stream in (False, True):
            fake.script(Behaviour(status=401, error_message=f"Incorrect API key provided: {piece}. ({name})"))
            r = post_chat(gw, {"model": "m1", "stream": stream, "messages": [{"role": "user", "content": f"{name} {stream}"}]})
            assert r.status_code == 401, r.text
            message = r.json()["error"]["message"]
            assert "[redacted]" in message and f"({name})" in message, message
            for i in range(len(key) - 7):
                assert key[i:i + 8] not in r.text, (key[i:i + 8], r.text)
    # Fewer than 8 characters of the key is ordinary text.
    fake.script(Behaviour(status=401, error_message=f"key ending {key[-7:]} rejected"))
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "short"}]})
    assert f"key ending {key[-7:]} rejected" in r.json()["error"]["message"]
