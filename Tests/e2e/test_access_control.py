"""Access control end to end: the real binary with a master key, virtual keys made through the
admin API, the official `openai` SDK as the client and a fake OpenAI upstream that counts calls."""
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import openai
import pytest
import requests

from conftest import BINARY, Gateway

MASTER = "master-key-for-tests-0123456789"
METRICS = "metrics-key-for-tests-0123456789"


def config_for(fake, **extra):
    cfg = {
        "providers": {"up": {"type": "openai", "base_url": fake.base_url, "api_key": fake.api_key}},
        "models": {
            "m": {"provider": "up", "model": "gpt-up", "price": {"input": 1000, "output": 1000}},
            "n": {"provider": "up", "model": "gpt-other"},
        },
        "auth": {"master_key": MASTER, "metrics_key": METRICS},
        "access_log": "stderr",
    }
    cfg.update(extra)
    return cfg


def admin(gw, method, path, body=None, key=MASTER):
    return requests.request(method, gw.base_url + path, json=body, timeout=10,
                            headers={"Authorization": f"Bearer {key}"})


def create_key(gw, **fields):
    r = admin(gw, "POST", "/admin/keys", fields)
    assert r.status_code == 201, r.text
    secret = r.json()["key"]
    assert secret.startswith("ug-")
    return secret


def client(gw, key, **kwargs):
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=key, **kwargs)


def ask(gw, key, content="hello", model="m", **kwargs):
    return client(gw, key, max_retries=0).chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], **kwargs)


@pytest.fixture
def upstream(make_fake):
    return make_fake("openai")


@pytest.fixture
def gw(make_gateway, upstream):
    return make_gateway(config=config_for(upstream))


def test_keys_are_required_and_bad_ones_look_alike(gw):
    secret = create_key(gw, name="alice")
    assert ask(gw, secret).choices[0].message.content
    expired = create_key(gw, name="old", expires_in="1s")
    revoked = create_key(gw, name="gone")
    assert admin(gw, "DELETE", "/admin/keys/gone").status_code in (200, 204)
    time.sleep(1.1)
    bodies = []
    for bad in (None, "ug-wrong", revoked, expired):
        if bad is None:
            r = requests.post(gw.base_url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
            bodies.append(r.json())
            assert r.status_code == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            continue
        with pytest.raises(openai.AuthenticationError) as e:
            ask(gw, bad)
        assert e.value.status_code == 401
        bodies.append(e.value.body)
    # OpenAI's shape and the same answer whatever was wrong.
    assert all(b == bodies[0]["error"] or b == bodies[0] for b in bodies)
    assert bodies[0]["error"]["code"] == "invalid_api_key"
    assert bodies[0]["error"]["type"] == "invalid_request_error"
    # The liveness probe stays open; everything else needs a key.
    assert requests.get(gw.base_url + "/health").status_code == 200
    assert requests.get(gw.base_url + "/v1/models").status_code == 401


def test_model_allow_list_answers_403_in_openais_shape(gw, upstream):
    secret = create_key(gw, name="narrow", models=["m"])
    assert ask(gw, secret).model == "m"
    calls = len(upstream.requests)
    with pytest.raises(openai.PermissionDeniedError) as e:
        ask(gw, secret, model="n")
    assert e.value.body["code"] == "model_not_allowed"
    assert e.value.body["param"] == "model"
    assert len(upstream.requests) == calls, "a refused request reaches no upstream"
    listed = [m.id for m in client(gw, secret).models.list()]
    assert listed == ["m"]


def rate_limited(gw, name):
    """How many of the key's requests the rate limits refused so far (`/v1/stats`)."""
    stats = requests.get(gw.base_url + "/v1/stats", headers={"Authorization": f"Bearer {MASTER}"}).json()
    return stats["keys"].get(name, {}).get("rate_limited", 0)


def test_request_rate_limit_sends_openais_headers_and_the_sdk_retry_succeeds(gw):
    # 12 a minute: one more every 5 s, so the burst and the refusals below all fall in one
    # interval even on a slow, busy machine (at 30 a minute, a busy run saw a new one come in).
    secret = create_key(gw, name="rpm", rpm=12)
    for i in range(12):
        ask(gw, secret, content="same")  # cache hits after the first: only the limit matters
    r = requests.post(gw.base_url + "/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                      json={"model": "m", "messages": [{"role": "user", "content": "same"}]})
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert r.headers["x-ratelimit-limit-requests"] == "12"
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["x-ratelimit-reset-requests"]
    assert 1 <= int(r.headers["Retry-After"]) <= 6
    with pytest.raises(openai.RateLimitError):
        ask(gw, secret, content="same")
    # With its default retries the SDK is refused, waits as told and then succeeds.
    refused = rate_limited(gw, "rpm")
    answer = client(gw, secret, max_retries=3).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "same"}])
    assert answer.http_response.status_code == 200
    assert rate_limited(gw, "rpm") > refused, "the SDK's first attempt was refused, a retry got through"
    assert "x-ratelimit-remaining-requests" in answer.headers


def test_token_rate_limit_counts_the_reservation(gw):
    secret = create_key(gw, name="tpm", tpm=2000)
    ask(gw, secret, content="first", max_tokens=1500)
    r = requests.post(gw.base_url + "/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                      json={"model": "m", "max_tokens": 1990, "messages": [{"role": "user", "content": "second"}]})
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "tokens"
    assert r.headers["x-ratelimit-limit-tokens"] == "2000"
    assert int(r.headers["x-ratelimit-remaining-tokens"]) < 1990
    answer = client(gw, secret, max_retries=3).chat.completions.create(
        model="m", max_tokens=1990, messages=[{"role": "user", "content": "second"}])
    assert answer.choices[0].message.content


def test_max_parallel_refuses_the_request_over_the_limit(make_gateway, upstream):
    from fake_providers import Behaviour
    upstream.default = Behaviour(delay=1.5)
    gw = make_gateway(config=config_for(upstream))
    secret = create_key(gw, name="one", max_parallel=1)
    results = {}

    def slow():
        results["slow"] = ask(gw, secret, content="slow")

    t = threading.Thread(target=slow)
    t.start()
    deadline = time.time() + 10
    while not upstream.requests and time.time() < deadline:
        time.sleep(0.01)
    with pytest.raises(openai.RateLimitError) as e:
        ask(gw, secret, content="fast")
    assert e.value.body["code"] == "rate_limit_exceeded"
    t.join()
    assert results["slow"].choices[0].message.content
    assert ask(gw, secret, content="after").choices[0].message.content


def test_cache_scopes_isolate_teams(gw, upstream):
    red1 = create_key(gw, name="red1", team="red")
    red2 = create_key(gw, name="red2", team="red")
    blue = create_key(gw, name="blue", team="blue")
    first = ask(gw, red1, content="the same question")
    ask(gw, blue, content="the same question")
    assert len(upstream.requests) == 2, "another team's request makes its own upstream call"
    same_team = client(gw, red2, max_retries=0).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "the same question"}])
    assert same_team.headers["X-Cache"] == "HIT"
    assert same_team.parse().choices[0].message.content == first.choices[0].message.content
    assert len(upstream.requests) == 2


def test_budget_refuses_then_period_rolls_and_spend_survives_restarts(make_gateway, upstream, tmp_path):
    cache_dir = str(tmp_path / "cache")
    cfg = config_for(upstream)
    gw = make_gateway(config=cfg, cache_dir=cache_dir)
    secret = create_key(gw, name="capped", budget_usd=0.001, budget_period="1d")
    ask(gw, secret, content="costly")  # about 60 tokens at $1000/M: $0.06, over the budget
    with pytest.raises(openai.RateLimitError) as e:
        ask(gw, secret, content="again")
    assert e.value.body["code"] == "insufficient_quota"
    assert "resets at" in e.value.body["message"]
    assert e.value.response.headers.get("x-should-retry") == "false"
    spent = admin(gw, "GET", "/admin/keys/capped/usage").json()["current_period"]["spend_usd"]
    assert spent > 0.001
    # Spend is flushed to LMDB at least once a second: after that, kill -9 loses nothing.
    time.sleep(1.5)
    gw.stop(signal.SIGKILL)
    again = make_gateway(config=cfg, cache_dir=cache_dir)
    with pytest.raises(openai.RateLimitError):
        ask(again, secret, content="after the crash")
    assert admin(again, "GET", "/admin/keys/capped/usage").json()["current_period"]["spend_usd"] == pytest.approx(spent)
    assert again.stop() == 0
    # A day later (the test clock shifted) the period has rolled: the key may spend again.
    later = make_gateway(config=cfg, cache_dir=cache_dir, env={"ULTRAGATE_TEST_TIME_OFFSET_SECONDS": str(86_400 + 60)})
    assert ask(later, secret, content="next day").choices[0].message.content


def test_revocation_reaches_a_second_process_within_a_second(make_gateway, upstream, tmp_path):
    cache_dir = str(tmp_path / "shared")
    a = make_gateway(config=config_for(upstream), cache_dir=cache_dir)
    b = make_gateway(config=config_for(upstream), cache_dir=cache_dir)
    secret = create_key(a, name="shared")
    # The key made through A works at B once B has refreshed (within a second).
    deadline = time.time() + 3
    while time.time() < deadline:
        r = requests.get(b.base_url + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
        if r.status_code == 200:
            break
        time.sleep(0.05)
    assert r.status_code == 200
    assert admin(a, "DELETE", "/admin/keys/shared").status_code in (200, 204)
    revoked_at = time.time()
    while time.time() - revoked_at < 3:
        r = requests.get(b.base_url + "/v1/models", headers={"Authorization": f"Bearer {secret}"})
        if r.status_code == 401:
            break
        time.sleep(0.02)
    elapsed = time.time() - revoked_at
    assert r.status_code == 401
    # The refresh runs every 0.5 s: 1 s is the promise, the rest is slack for a loaded machine.
    assert elapsed < 2.0, f"revocation took {elapsed:.2f} s to reach the second process"


def test_admin_and_metrics_refuse_virtual_keys(gw):
    secret = create_key(gw, name="plain")
    for method, path in (("GET", "/admin/keys"), ("POST", "/admin/keys"), ("GET", "/metrics"), ("GET", "/v1/stats")):
        r = admin(gw, method, path, {"name": "x"} if method == "POST" else None, key=secret)
        assert r.status_code == 403, (path, r.text)
    assert admin(gw, "GET", "/admin/keys", key=METRICS).status_code == 403
    assert admin(gw, "GET", "/metrics", key=METRICS).status_code == 200
    with pytest.raises(openai.PermissionDeniedError):
        ask(gw, METRICS)


def test_failed_attempts_are_throttled_per_address(make_gateway, upstream):
    gw = make_gateway(config=config_for(upstream, auth={"master_key": MASTER, "failed_attempts_per_second": 5}))
    statuses = []
    with requests.Session() as s:
        for i in range(40):
            statuses.append(s.get(gw.base_url + "/v1/models", headers={"Authorization": f"Bearer ug-guess-{i}"}).status_code)
        # While throttled, even the right key is refused: guessing cannot go on at line rate.
        right = s.get(gw.base_url + "/v1/models", headers={"Authorization": f"Bearer {MASTER}"})
    assert statuses[:5] == [401] * 5
    assert statuses.count(429) >= 20, statuses
    assert right.status_code in (200, 429)
    time.sleep(1.2)
    assert requests.get(gw.base_url + "/v1/models", headers={"Authorization": f"Bearer {MASTER}"}).status_code == 200


def test_secrets_never_leave_the_process(make_gateway, upstream, tmp_path):
    cache_dir = tmp_path / "cache"
    gw = make_gateway(config=config_for(upstream), cache_dir=str(cache_dir))
    secret = create_key(gw, name="watched", team="ops", rpm=100, budget_usd=10)
    ask(gw, secret, content="hello")
    with pytest.raises(openai.PermissionDeniedError):
        ask(gw, METRICS)
    texts = {
        "metrics": admin(gw, "GET", "/metrics").text,
        "stats": admin(gw, "GET", "/v1/stats").text,
        "keys": admin(gw, "GET", "/admin/keys").text,
        "key": admin(gw, "GET", "/admin/keys/watched").text,
        "usage": admin(gw, "GET", "/admin/keys/watched/usage").text,
        "401": requests.get(gw.base_url + "/v1/models", headers={"Authorization": f"Bearer {secret}x"}).text,
    }
    assert '"watched"' in texts["stats"] and 'key="watched"' in texts["metrics"]
    time.sleep(1.5)  # the spend flush
    assert gw.stop() == 0
    texts["log"] = gw.log()
    assert '"key":"watched"' in texts["log"].replace(" ", "")
    for name, text in texts.items():
        assert secret not in text and MASTER not in text, f"a secret leaked into {name}"
        assert secret[3:] not in text, f"the secret's body leaked into {name}"
    for f in cache_dir.iterdir():
        data = f.read_bytes()
        for s in (secret, MASTER, METRICS):
            assert s.encode() not in data, f"{s[:6]}… is stored in {f.name}"


def test_non_loopback_start_without_a_key_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ULTRAGATE_") and not k.endswith("_API_KEY")}
    cmd = [BINARY, "serve", "--host", "0.0.0.0", "--port", "0", "--cache-dir", str(tmp_path / "c")]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "--allow-unauthenticated" in lines[0] and "ULTRAGATE_MASTER_KEY" in lines[0]
    g = Gateway(args=("--host", "0.0.0.0", "--allow-unauthenticated"))
    try:
        assert "warning" in g.log()
        assert requests.get(g.base_url + "/v1/models").status_code == 200
    finally:
        g.close()


def test_anthropic_clients_send_virtual_keys_as_x_api_key(gw):
    import anthropic
    secret = create_key(gw, name="claude-app", models=["m"])
    client_ = anthropic.Anthropic(base_url=gw.base_url, api_key=secret, max_retries=0)
    message = client_.messages.create(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text
    # Refusals come in Anthropic's shape on Anthropic paths, as typed SDK exceptions.
    with pytest.raises(anthropic.AuthenticationError) as e:
        anthropic.Anthropic(base_url=gw.base_url, api_key="ug-wrong", max_retries=0).messages.create(
            model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        client_.messages.create(model="n", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["type"] == "permission_error"


def test_stored_responses_belong_to_their_key(gw):
    """A stored response is the tenant's data: another key gets a 404 for its id, its input items
    and as a `previous_response_id`; the owner and no one else may delete it."""
    alice = client(gw, create_key(gw, name="alice-r"), max_retries=0)
    bob = client(gw, create_key(gw, name="bob-r"), max_retries=0)
    mine = alice.responses.create(model="m", input="a private question")
    assert alice.responses.retrieve(mine.id).id == mine.id
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="m", input="continue theirs", previous_response_id=mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(mine.id)
    assert alice.responses.retrieve(mine.id).id == mine.id
    alice.responses.delete(mine.id)


def test_ultra_members_are_checked_on_every_front(gw):
    """A key allowed one model cannot reach others by naming them as ad-hoc ensemble members, on
    any API (the audit found /v1/messages and /v1/responses open)."""
    import anthropic
    secret = create_key(gw, name="narrow-u", models=["m"])
    ultra = {"models": ["m", "n"], "synthesizer": "m"}
    h = {"Authorization": f"Bearer {secret}"}
    r = requests.post(gw.base_url + "/v1/chat/completions", headers=h,
                      json={"model": "m", "messages": [{"role": "user", "content": "x"}], "ultra": ultra})
    assert r.status_code == 403 and r.json()["error"]["code"] == "model_not_allowed"
    r = requests.post(gw.base_url + "/v1/responses", headers=h, json={"model": "m", "input": "x", "ultra": ultra})
    assert r.status_code == 403 and r.json()["error"]["code"] == "model_not_allowed"
    r = requests.post(gw.base_url + "/v1/messages", headers={"x-api-key": secret},
                      json={"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}], "ultra": ultra})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"


def test_ensembles_are_charged_to_the_key(make_gateway, upstream):
    cfg = config_for(upstream)
    cfg["models"]["council"] = {"ensemble": ["m", "n"], "synthesizer": "m"}
    gw = make_gateway(config=cfg)
    secret = create_key(gw, name="ens", models=["council"], budget_usd=100)
    ask(gw, secret, model="council", content="deliberate")
    spend = admin(gw, "GET", "/admin/keys/ens/usage").json()["current_period"]["spend_usd"]
    assert spend > 0, "the priced member and synthesis calls cost the key"


def test_a_key_made_again_under_a_revoked_name_owns_none_of_its_data(gw):
    first = create_key(gw, name="again", cache_scope="key")
    ask(gw, first, content="what the first holder asked")
    rid = client(gw, first, max_retries=0).responses.create(model="m", input="the first holder's secret").id
    assert admin(gw, "DELETE", "/admin/keys/again").status_code in (200, 204)
    second = create_key(gw, name="again", cache_scope="key")
    again = client(gw, second, max_retries=0).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "what the first holder asked"}])
    assert again.headers["X-Cache"] != "HIT"
    with pytest.raises(openai.NotFoundError):
        client(gw, second, max_retries=0).responses.input_items.list(rid)


def test_header_tricks_and_operator_endpoints(gw):
    secret = create_key(gw, name="tricks", models=["m"])
    # Two credentials: refused rather than guessing which one a proxy in front meant.
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.putrequest("GET", "/v1/models")
    c.putheader("Authorization", f"Bearer {MASTER}")
    c.putheader("Authorization", f"Bearer {secret}")
    c.endheaders()
    r = c.getresponse()
    assert r.status == 400 and b"repeated_credentials" in r.read()
    h = {"Authorization": f"Bearer {secret}"}
    # The admin API's methods are not revealed to a virtual key, nor the deep health check run for it.
    assert requests.put(gw.base_url + "/admin/keys", headers=h).status_code == 403
    assert requests.get(gw.base_url + "/health?deep=1", headers=h).status_code == 403
    # Names the key may not use are not offered; a key pasted as a model is not echoed.
    r = requests.get(gw.base_url + "/v1/models/nope", headers=h)
    assert r.status_code == 404 and "`n`" not in r.text and ", n" not in r.text
    r = requests.post(gw.base_url + "/v1/chat/completions", headers=h,
                      json={"model": secret, "messages": [{"role": "user", "content": "x"}]})
    assert secret not in r.text and secret[3:] not in r.text
    # The master key cannot become a key's name (it would be stored and listed in the clear).
    assert admin(gw, "POST", "/admin/keys", {"name": MASTER[:64]}).status_code == 400 or len(MASTER) > 64
    assert admin(gw, "POST", "/admin/keys", {"name": "UG-looks-like-a-key"}).status_code == 400


def test_a_head_refused_before_its_body_is_logged_and_counted(gw):
    """`Expect: 100-continue` without a key: 401 before `100 Continue`, and the refusal is in the
    access log (no body read) and in the request metrics, as any refused request is."""
    import json as _json
    import socket
    body = b'{"model":"m","messages":[{"role":"user","content":"expect"}]}'
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"X-Request-Id: expect-refused-1\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            assert chunk
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 401 "), answer
    metrics = requests.get(gw.base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS}"}).text
    assert 'ultragate_requests_total{route="/v1/chat/completions",model="",status="401"} 1' in metrics
    assert gw.stop() == 0  # the access log is drained before the process exits
    entries = [_json.loads(line) for line in gw.log().splitlines() if line.startswith("{")]
    refused = [e for e in entries if e.get("request_id") == "expect-refused-1"]
    assert len(refused) == 1, entries
    assert refused[0]["status"] == 401 and refused[0]["bytes_in"] == 0 and refused[0]["route"] == "/v1/chat/completions"
