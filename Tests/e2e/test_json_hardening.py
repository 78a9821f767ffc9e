"""Bodies that once froze an event loop for minutes or let the cache answer another request than
the one sent: a large object in the worst key order, and a key given twice."""
import json
import threading
import time

import requests

from fake_providers import Behaviour
from test_providers_e2e import config_for, post_chat, start


def post_text(gw, text, timeout=30):
    return requests.post(gw.base_url + "/v1/chat/completions", data=text.encode(), timeout=timeout,
                         headers={"Content-Type": "application/json"})


def test_a_key_given_twice_at_depth_3_is_a_400_naming_it(gateway):
    valid = ('{"model":"mock-gpt","messages":[{"role":"user","content":"twice"}],"temperature":1,'
             '"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}')
    first = post_text(gateway, valid)
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
    # Read last-wins, this is the cached request; an upstream keeping the first value would have
    # answered temperature 0 and a string schema. Refused, also when sent again (no memo, no cache).
    twice = valid.replace('"temperature":1', '"temperature":0,"temperature":1') \
                 .replace('"schema":{"type":"object"}', '"schema":{"type":"string","type":"object"}')
    assert json.loads(twice) == json.loads(valid)  # Python keeps the last value too
    for _ in range(2):
        r = post_text(gateway, twice)
        assert r.status_code == 400
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"
        assert error["param"] == "temperature"
        assert "duplicate key `temperature`" in error["message"]
    deep = valid.replace('"schema":{"type":"object"}', '"schema":{"type":"string","type":"object"}')
    r = post_text(gateway, deep)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "response_format.json_schema.schema.type"
    assert "duplicate key `type` at 'response_format.json_schema.schema.type'" in r.json()["error"]["message"]
    again = post_text(gateway, valid)
    assert again.status_code == 200 and again.headers["X-Cache"] == "HIT"


def test_an_upstream_answer_with_a_key_given_twice_is_a_502(make_fake, make_gateway):
    fake = make_fake("openai")
    answer = ('{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
              '"message":{"role":"assistant","content":"ok"},"finish_reason":null,"finish_reason":"stop"}]}')
    fake.script(Behaviour(status=200, raw_body=answer))
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}))
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "answer twice"}]})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_invalid_response"
    assert "duplicate key `finish_reason`" in r.json()["error"]["message"]


def test_200k_keys_in_descending_order_are_answered_while_health_responds(gateway):
    """The cache key's sort was an insertion sort: n²/2 comparisons on the loop thread, 55 s for
    60k keys in a release build, hours for 200k in this debug one. Timeouts here are generous
    bounds on a loaded machine; the old cost is three orders of magnitude past them."""
    count = 200_000
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "many keys"}]}
    body.update((f"k{count - i:07d}", 1) for i in range(count))
    text = json.dumps(body, separators=(",", ":"))
    result = {}

    def big():
        result["response"] = post_text(gateway, text, timeout=50)

    worker = threading.Thread(target=big)
    worker.start()
    health = []
    while worker.is_alive() and len(health) < 200:
        health.append(requests.get(gateway.base_url + "/health", timeout=30).status_code)
        time.sleep(0.05)
    worker.join(55)
    assert not worker.is_alive()
    assert result["response"].status_code == 200
    assert result["response"].json()["object"] == "chat.completion"
    assert health and set(health) == {200}
    # The same keys ascending are the same request: a cache hit.
    ascending = {"model": "mock-gpt", "messages": [{"role": "user", "content": "many keys"}]}
    ascending.update((f"k{i + 1:07d}", 1) for i in range(count))
    r = post_text(gateway, json.dumps(ascending, separators=(",", ":")), timeout=50)
    assert r.status_code == 200 and r.headers["X-Cache"] == "HIT"
