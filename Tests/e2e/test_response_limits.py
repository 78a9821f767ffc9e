"""Upstream answers cannot make the gateway buffer without bound: a gzip bomb, a body past
`providers.NAME.max_response_bytes`, an SSE line past `max_event_bytes` and a huge error body are
cut off where the limit is passed. The client gets 502 `upstream_response_too_large` (an error
event once a stream started; an error status keeps its status with the start of its body),
nothing is cached, and the gateway's peak memory stays far below the flood's size.
An answer past `cache.max_entry_bytes` is served but not stored."""
import json

import pytest
import requests

from conftest import scrape
from fake_providers import FloodProvider

LIMIT = 4 << 20  # max_response_bytes
EVENT_LIMIT = 1 << 20  # max_event_bytes
ENTRY_LIMIT = 64 << 10  # cache.max_entry_bytes
# Peak RSS allowed: the limit four times over plus 100 MB for the process itself. The floods are
# 200-300 MB, so without the limits the peak would be far above it.
RSS_BOUND_KB = (LIMIT * 4 + (100 << 20)) >> 10


@pytest.fixture(scope="module")
def flood():
    f = FloodProvider(bomb_bytes=200 << 20, flood_bytes=300 << 20)
    yield f
    f.close()


@pytest.fixture
def gw(make_gateway, flood):
    config = {
        "providers": {"flood": {"type": "openai", "base_url": flood.base_url, "api_key": "sk-flood",
                                "max_response_bytes": LIMIT, "max_event_bytes": EVENT_LIMIT}},
        "models": {"m": {"provider": "flood", "model": "flood"}},
        "retry": {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.02},
        "cache": {"max_entry_bytes": ENTRY_LIMIT},
    }
    return make_gateway(config=config)


def peak_rss_kb(gw):
    with open(f"/proc/{gw.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def chat(gw, prompt, stream=False):
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "stream": stream}
    return requests.post(gw.base_url + "/v1/chat/completions", json=body, timeout=30)


def assert_too_large(r):
    assert r.status_code == 502, r.text[:500]
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "upstream_response_too_large", error


def assert_healthy(gw):
    assert requests.get(gw.base_url + "/health", timeout=5).status_code == 200
    peak = peak_rss_kb(gw)
    assert peak < RSS_BOUND_KB, f"peak RSS {peak} kB, bound {RSS_BOUND_KB} kB"


@pytest.mark.parametrize("prompt", ["bomb", "plain", "sse_line", "sse_bomb"])
def test_oversized_answers_are_502_once_and_never_cached(gw, flood, prompt):
    stream = prompt.startswith("sse")
    before = flood.count(prompt)
    assert_too_large(chat(gw, prompt, stream=stream))
    assert flood.count(prompt) == before + 1  # not retried on the same provider
    assert flood.written.get(prompt, 0) < 100 << 20  # the gateway hung up early
    assert_too_large(chat(gw, prompt, stream=stream))
    assert flood.count(prompt) == before + 2  # nothing was cached
    assert_healthy(gw)
    errors = scrape(gw)["ultragate_upstream_errors"]
    assert [s.value for s in errors.samples if s.labels.get("kind") == "too_large"] == [2]


def test_started_stream_ends_with_the_error_event(gw, flood):
    r = chat(gw, "sse_after_chunk", stream=True)
    assert r.status_code == 200
    events = [e for e in r.text.split("\n\n") if e]
    assert "Hello" in events[0]
    assert events[-1] == "data: [DONE]"
    error = json.loads(events[-2][len("data: "):])["error"]
    assert error["code"] == "upstream_response_too_large" and "max_event_bytes" in error["message"]
    assert_healthy(gw)


def test_huge_error_body_keeps_its_status_and_only_its_start(gw, flood):
    r = chat(gw, "error")
    assert r.status_code == 500
    message = r.json()["error"]["message"]
    assert "overloaded" in message and len(message) < 4096
    assert flood.count("error") == 3  # a 500 is retried, each time cut short
    assert flood.written.get("error", 0) < 100 << 20  # (no entry: cut before the first piece)
    assert_healthy(gw)


def test_answer_over_max_entry_bytes_is_served_but_not_stored(gw, flood):
    prompt = f"big:{ENTRY_LIMIT * 2}"
    for _ in range(2):
        r = chat(gw, prompt)
        assert r.status_code == 200 and r.headers["X-Cache"] == "MISS"
        assert len(r.json()["choices"][0]["message"]["content"]) == ENTRY_LIMIT * 2
    assert flood.count(prompt) == 2
    small = "big:100"
    chat(gw, small)
    assert chat(gw, small).headers["X-Cache"] == "HIT"
    metric = scrape(gw)["ultragate_cache_entries_too_large"]
    assert [s.value for s in metric.samples if s.name == "ultragate_cache_entries_too_large_total"] == [2]
    stats = requests.get(gw.base_url + "/v1/stats", timeout=5).json()["cache"]
    assert stats["too_large"] == 2 and stats["write_errors"] == 0
