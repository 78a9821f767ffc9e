"""Time to first token and Server-Timing through the real binary: TTFT is the time to the first
chunk with content for every provider (in Prometheus, /v1/stats, the access log and the stream's
trailer); streams end with a `Server-Timing` trailer (RFC 9112 7.1.2) that clients which do not
read trailers never notice; retried calls show all their upstream time, the wait and the attempts.

All time checks are lower bounds against delays the fakes impose, so a slow machine cannot fail them.
"""
import json
import shutil
import socket
import subprocess
import time

import openai
import pytest
import requests

from conftest import scrape
from fake_providers import Behaviour
from test_http_conformance import read_response_with_trailers
from test_providers_e2e import FAST_RETRY, config_for, start

FIRST_TOKEN_DELAY = 0.3


def chat_body(model, content, stream=True):
    return {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}


def raw_post(port, body, version="1.1", sock=None):
    """POSTs a chat request over a raw socket; returns (status, headers, body, trailers, sock)."""
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=30)
    payload = json.dumps(body).encode()
    sock.sendall(f"POST /v1/chat/completions HTTP/{version}\r\nHost: t\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    status, headers, data, trailers, rest = read_response_with_trailers(sock)
    assert rest == b"", "nothing may follow the response"
    return status, headers, data, trailers, sock


def timing(value):
    """A Server-Timing value as {metric: dur or desc}."""
    out = {}
    for metric in (value or "").split(","):
        name, *params = [p.strip() for p in metric.split(";")]
        if not name:
            continue
        out[name] = None
        for p in params:
            key, _, v = p.partition("=")
            out[name] = float(v) if key == "dur" else v
    return out


def histogram(families, family, **labels):
    """(count, sum, {le: cumulative count}) of one histogram child."""
    count, total, buckets = 0.0, 0.0, {}
    for s in families[family].samples:
        if not all(s.labels.get(k) == v for k, v in labels.items()):
            continue
        if s.name.endswith("_count"):
            count += s.value
        elif s.name.endswith("_sum"):
            total += s.value
        elif s.name.endswith("_bucket"):
            buckets[s.labels["le"]] = s.value
    return count, total, buckets


def counter(families, family, **labels):
    return sum(s.value for s in families[family].samples
               if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items()))


def access_log_lines(gw, expected, timeout=10):
    """The access log's chat lines once `expected` are written (the log is written in the background)."""
    deadline = time.time() + timeout
    while True:
        lines = [json.loads(line) for line in gw.log().splitlines() if line.startswith("{")]
        chat = [line for line in lines if line.get("route") == "/v1/chat/completions"]
        if len(chat) >= expected or time.time() > deadline:
            return chat
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Time to first token


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "mock"])
def test_time_to_first_token_is_the_first_content_not_the_opening_event(kind, make_fake, make_gateway):
    """The stream opens at once (OpenAI's role chunk, Anthropic's message_start, an empty Gemini
    response); the first token comes 300 ms later. TTFT must be >= 250 ms everywhere."""
    if kind == "mock":
        model = "mock-gpt"
        gw = make_gateway(config={"mock": {"ttft_ms": FIRST_TOKEN_DELAY * 1000, "latency_ms": 600},
                                  "access_log": "stderr"})
    else:
        model = "m1"
        fake = make_fake(kind)
        fake.default = Behaviour(first_token_delay=FIRST_TOKEN_DELAY)
        gw = start(make_gateway, fake, config_for(fake, access_log="stderr"))
    status, headers, data, trailers, sock = raw_post(gw.port, chat_body(model, f"late first token {kind}"))
    sock.close()
    assert status == 200 and data.endswith(b"data: [DONE]\n\n")
    assert b'"content":"' in data

    stream_timing = timing(trailers["server-timing"])
    assert stream_timing["ttft"] >= 250, stream_timing
    assert stream_timing["upstream"] >= stream_timing["ttft"]

    count, total, buckets = histogram(scrape(gw), "ultragate_upstream_time_to_first_token_seconds", model=model)
    assert count == 1
    assert buckets["0.25"] == 0, f"TTFT fell in the 250 ms bucket: {buckets}"
    assert total >= 0.25

    stats = requests.get(gw.base_url + "/v1/stats", timeout=10).json()
    assert stats["models"][model]["ttft_ms"]["p50"] >= 250, stats["models"][model]

    [line] = access_log_lines(gw, 1)
    assert line["timing_ms"]["ttft"] >= 250, line
    assert line["attempts"] == 1


# ---------------------------------------------------------------------------------------------
# Server-Timing trailer


def test_a_stream_ends_with_a_server_timing_trailer_also_when_replayed_from_the_cache(make_gateway):
    gw = make_gateway(config={"mock": {"ttft_ms": 50, "latency_ms": 100}})
    body = chat_body("mock-gpt", "trailer please")
    status, headers, data, trailers, sock = raw_post(gw.port, body)
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert headers["trailer"] == "Server-Timing"
    head = timing(headers["server-timing"])
    assert set(head) == {"cache", "headers"}, head
    tail = timing(trailers["server-timing"])
    assert set(tail) == {"ttft", "upstream", "attempts", "total"}, tail
    assert tail["attempts"] == "1"
    assert tail["ttft"] >= 40 and tail["upstream"] >= 90 and tail["total"] >= tail["upstream"]

    # The same stream again on the same connection: a cache hit's replay, with its own trailer.
    status, headers, data, trailers, sock = raw_post(gw.port, body, sock=sock)
    assert status == 200 and headers["x-cache"] == "HIT" and data.endswith(b"data: [DONE]\n\n")
    assert headers["trailer"] == "Server-Timing"
    assert set(timing(headers["server-timing"])) == {"cache", "headers"}
    assert set(timing(trailers["server-timing"])) == {"total"}
    # And a whole answer after it: the trailer section was read to its end.
    status, headers, data, trailers, sock = raw_post(gw.port, dict(body, stream=False), sock=sock)
    assert status == 200 and json.loads(data)["object"] == "chat.completion"
    assert "trailer" not in headers and trailers == {}
    assert set(timing(headers["server-timing"])) == {"cache", "total"}
    sock.close()


def test_an_http10_stream_gets_no_trailer(make_gateway):
    gw = make_gateway()
    status, headers, data, trailers, sock = raw_post(gw.port, chat_body("mock-gpt", "old client"), version="1.0")
    sock.close()
    assert status == 200
    assert "transfer-encoding" not in headers and "trailer" not in headers
    assert data.endswith(b"data: [DONE]\n\n"), "the body is the stream alone, closed by the server"
    assert set(timing(headers["server-timing"])) == {"cache", "headers"}


def test_an_ensemble_stream_ends_with_the_trailer(make_gateway):
    gw = make_gateway(config={"mock": {"latency_ms": 50}})
    body = dict(chat_body("mock-gpt", "ensemble trailer"), ultra={"models": ["mock-claude", "mock-gemini"]})
    status, headers, data, trailers, sock = raw_post(gw.port, body)
    sock.close()
    assert status == 200 and data.endswith(b"data: [DONE]\n\n")
    assert headers["trailer"] == "Server-Timing"
    tail = timing(trailers["server-timing"])
    assert tail["upstream"] >= 50 and tail["total"] >= tail["upstream"], tail
    assert "attempts" not in tail, "an ensemble makes no single upstream call of its own"


def test_clients_that_do_not_read_trailers_are_unaffected(make_gateway):
    gw = make_gateway()
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    messages = [{"role": "user", "content": "sdk and trailers"}]
    # One httpx connection carries streams and whole answers in turn: each trailer is read past.
    for _ in range(2):
        text = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(model="mock-gpt", messages=messages, stream=True) if c.choices)
        assert text
    assert client.chat.completions.create(model="mock-gpt", messages=messages).choices[0].message.content == text
    with requests.Session() as session:
        for _ in range(2):
            r = session.post(gw.base_url + "/v1/chat/completions", json=chat_body("mock-gpt", "requests"), timeout=30)
            assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run([curl, "-sS", "--fail", "-N", gw.base_url + "/v1/chat/completions",
                              "-H", "Content-Type: application/json",
                              "-d", json.dumps(chat_body("mock-gpt", "curl")), "--next", gw.base_url + "/health"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "data: [DONE]" in out.stdout and out.stdout.endswith('{"status":"ok"}')


# ---------------------------------------------------------------------------------------------
# Retries


@pytest.mark.parametrize("status,stream", [(500, False), (429, True)])
def test_a_retried_call_shows_all_its_upstream_time_the_wait_and_the_attempts(status, stream, make_fake, make_gateway):
    fake = make_fake("openai")
    # The first attempt takes 100 ms to fail; the retry waits 25-50 ms (FAST_RETRY's base 0.05 s).
    fake.script(Behaviour(status=status, delay=0.1))
    gw = start(make_gateway, fake, config_for(fake, retry=FAST_RETRY, access_log="stderr"))
    code, headers, data, trailers, sock = raw_post(gw.port, chat_body("m1", f"retry {status}", stream=stream))
    sock.close()
    assert code == 200 and len(fake.chat_requests()) == 2
    t = timing(trailers["server-timing"] if stream else headers["server-timing"])
    assert t["attempts"] == "2", t
    assert t["retry"] >= 20, t
    assert t["upstream"] >= 100 + t["retry"], f"upstream must cover the failed attempt and the wait: {t}"
    assert t["total"] >= t["upstream"]

    m = scrape(gw)
    assert counter(m, "ultragate_upstream_attempts", model="m1") == 2
    assert counter(m, "ultragate_upstream_retries", model="m1") == 1
    count, total, _ = histogram(m, "ultragate_upstream_retry_wait_seconds", model="m1")
    assert count == 1 and total >= 0.02

    [line] = access_log_lines(gw, 1)
    assert line["attempts"] == 2 and line["timing_ms"]["retry"] >= 20
    assert line["timing_ms"]["upstream"] >= 100 + line["timing_ms"]["retry"]
