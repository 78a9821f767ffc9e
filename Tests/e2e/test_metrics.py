"""/metrics parses with the Prometheus client's parser and moves as requests are made."""
import json

import openai
import requests

from conftest import scrape, scrape_until


def value(families, name, **labels):
    """The sum of the samples of a family matching `labels` (0 when the family has no sample yet)."""
    family = families.get(name)
    if family is None:
        return 0.0
    total = 0.0
    for s in family.samples:
        if s.name in (name, name + "_total") and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


def test_metrics_follow_hits_misses_errors_and_streams(make_gateway):
    gw = make_gateway(config={"models": {"priced": {"provider": "mock", "model": "mock-gpt",
                                                    "price": {"input": 1.0, "output": 2.0}}},
                              "providers": {"mock": {"type": "mock"}}})
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key="x", max_retries=0)
    before = scrape(gw)
    # Only the scrape itself may have been counted so far: no chat request yet.
    assert value(before, "ultragate_requests", route="/v1/chat/completions") == 0
    assert value(before, "ultragate_cache_lookups") == 0

    msgs = [{"role": "user", "content": "count me"}]
    first = client.chat.completions.create(model="priced", messages=msgs)
    client.chat.completions.create(model="priced", messages=msgs)  # hit
    list(client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "stream me"}], stream=True))
    try:
        client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "fail [[mock:status=400]]"}])
    except openai.BadRequestError:
        pass

    m = scrape_until(gw, lambda m: value(m, "ultragate_requests", route="/v1/chat/completions") == 4)
    assert value(m, "ultragate_cache_lookups", result="hit") == 1
    assert value(m, "ultragate_cache_lookups", result="miss") == 3
    assert value(m, "ultragate_requests", route="/v1/chat/completions", status="200") == 3
    assert value(m, "ultragate_requests", route="/v1/chat/completions", status="400") == 1
    # two upstream calls succeeded (the first miss and the stream)
    hist = m["ultragate_upstream_request_duration_seconds"]
    counts = [s for s in hist.samples if s.name.endswith("_count") and s.labels.get("model") == "priced"]
    assert sum(s.value for s in counts) == 2
    buckets = [s for s in hist.samples if s.name.endswith("_bucket") and s.labels.get("model") == "priced"]
    values = [s.value for s in sorted(buckets, key=lambda s: float(s.labels["le"]))]
    assert values == sorted(values), "histogram buckets must be cumulative"
    assert values[-1] == 2
    assert value(m, "ultragate_upstream_errors", kind="http_400") == 1
    prompt = value(m, "ultragate_tokens", model="priced", kind="prompt")
    completion = value(m, "ultragate_tokens", model="priced", kind="completion")
    assert prompt > 0 and completion > 0
    cost = value(m, "ultragate_cost_usd", model="priced")
    assert abs(cost - (prompt * 1.0 + completion * 2.0) / 1e6) < 1e-9
    saved = value(m, "ultragate_cost_saved_usd", model="priced")
    u = first.usage
    assert abs(saved - (u.prompt_tokens * 1.0 + u.completion_tokens * 2.0) / 1e6) < 1e-9
    assert value(m, "ultragate_cache_entries") == 2
    overhead = m["ultragate_gateway_overhead_seconds"]
    assert [s.value for s in overhead.samples if s.name.endswith("_count")][0] >= 4


def test_stats_endpoint_and_timing_headers(gateway):
    url = gateway.base_url + "/v1/chat/completions"
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "timing"}]}
    r1 = requests.post(url, json=body)
    r2 = requests.post(url, json=body)
    for r in (r1, r2):
        assert r.headers["X-Request-Id"]
        timing = r.headers["Server-Timing"]
        assert "total;dur=" in timing and "cache;dur=" in timing
    assert "upstream;dur=" in r1.headers["Server-Timing"]
    assert "upstream;dur=" not in r2.headers["Server-Timing"]
    assert r1.headers["X-Request-Id"] != r2.headers["X-Request-Id"]
    stats = requests.get(gateway.base_url + "/v1/stats").json()
    assert stats["cache"]["entries"] == 1
    text = json.dumps(stats)
    assert "mock-gpt" in text
