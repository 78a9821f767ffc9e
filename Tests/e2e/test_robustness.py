"""Inputs that once crashed or hung the gateway: each must get an answer and leave it serving."""
import json
import socket
import subprocess
import time

import requests

from fake_providers import Behaviour
from test_providers_e2e import config_for, post_chat, start
from conftest import Gateway


def alive(gw):
    assert requests.get(gw.base_url + "/health", timeout=10).status_code == 200


def chat(gw, content, **extra):
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": content}], **extra}
    return requests.post(gw.base_url + "/v1/chat/completions", json=body, timeout=30)


def test_absurd_numbers_in_requests_are_refused_not_fatal(gateway):
    r = chat(gateway, "x", ultra={"models": ["mock-gpt", "mock-claude"], "deadline": 1e300})
    assert r.status_code == 400 and r.json()["error"]["param"] == "ultra.deadline"
    r = chat(gateway, "x", ultra={"models": ["mock-gpt"] * 17})
    assert r.status_code == 400 and r.json()["error"]["param"] == "ultra.models"
    r = chat(gateway, "x", seed=99999999999999999999)
    assert r.status_code == 400 and "9223372036854775807" in r.json()["error"]["message"]
    r = chat(gateway, "ultra null is no ensemble", ultra=None)
    assert r.status_code == 200 and r.json()["object"] == "chat.completion"
    alive(gateway)


def test_mock_directives_cannot_crash_or_hang_the_gateway(make_gateway):
    gateway = make_gateway(config={"server": {"shutdown_grace_period": 1}})
    r = chat(gateway, "odd status [[mock:status=499]]")
    assert r.status_code == 502 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    try:
        chat_timeout = requests.post(gateway.base_url + "/v1/chat/completions", timeout=1,
                                     json={"model": "mock-gpt", "messages": [{"role": "user", "content": "[[mock:delay_ms=1e300]]"}]})
    except requests.exceptions.Timeout:
        pass
    alive(gateway)


def test_upstream_retry_after_and_odd_error_codes(make_fake, make_gateway):
    fake = make_fake("openai")
    fake.script(Behaviour(status=429, headers={"Retry-After": "1e300"}),
                Behaviour(status=200, raw_body={"error": {"message": "odd", "type": "x", "code": 204}}))
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}))
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "retry after forever"}]})
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 86400
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "error code 204"}]})
    assert r.status_code == 502 and r.json()["error"]["message"]
    alive(gw)


def test_masked_key_echoed_by_the_provider_is_scrubbed(make_fake, make_gateway):
    key = "sk-proj-ABCDEFGH1234567890wxyz"
    fake = make_fake("openai", api_key=key)
    fake.script(Behaviour(status=401, error_message="Incorrect API key provided: sk-proj-********************wxyz. See docs."))
    gw = start(make_gateway, fake, config_for(fake, retry={"max_attempts": 1}))
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "bad key"}]})
    assert r.status_code == 401
    assert "wxyz" not in r.text and "****" not in r.text and "[redacted]" in r.text


def test_client_closing_mid_request_ends_it_without_spinning(make_gateway):
    gw = make_gateway(config={"mock": {"latency_ms": 300}})
    body = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "half close"}]}).encode()
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data == b""  # the request was abandoned with the connection
    time.sleep(0.6)
    metrics = requests.get(gw.base_url + "/metrics", timeout=10).text
    line = [l for l in metrics.splitlines() if l.startswith("ultragate_in_flight_requests ")][0]
    assert float(line.split()[1]) == 1  # only the /metrics request itself
    # the process is not spinning on the closed socket
    with open(f"/proc/{gw.proc.pid}/stat") as f:
        before = sum(int(x) for x in f.read().split()[13:15])
    time.sleep(1.0)
    with open(f"/proc/{gw.proc.pid}/stat") as f:
        after = sum(int(x) for x in f.read().split()[13:15])
    assert after - before < 20, "more than 0.2 s of CPU in 1 s of idling"


def test_running_out_of_file_descriptors_recovers():
    import os
    import tempfile
    tmp = tempfile.mkdtemp()
    import conftest
    log = open(os.path.join(tmp, "stderr.log"), "w+")
    proc = subprocess.Popen(["bash", "-c", f"ulimit -n 48; exec {conftest.BINARY} serve --port 0 --cache-dir {tmp}/c --threads 1"],
                            stderr=log, text=True)
    try:
        deadline = time.time() + 30
        while "listening" not in open(log.name).read() and time.time() < deadline:
            time.sleep(0.05)
        text = open(log.name).read()
        port = int(text.split("listening on http://127.0.0.1:")[1].split()[0])
        socks = []
        for _ in range(80):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        with open(f"/proc/{proc.pid}/stat") as f:
            before = sum(int(x) for x in f.read().split()[13:15])
        time.sleep(1.0)
        with open(f"/proc/{proc.pid}/stat") as f:
            after = sum(int(x) for x in f.read().split()[13:15])
        assert after - before < 50, "the event loop spins while out of descriptors"
        for s in socks:
            s.close()
        deadline = time.time() + 10
        while True:
            try:
                assert requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                break
            except (requests.exceptions.RequestException, AssertionError):
                if time.time() > deadline:
                    raise AssertionError(f"not serving again; exit={proc.poll()} stderr={open(log.name).read()}")
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_clients_cannot_mint_metric_labels_with_model_names(gateway):
    """Model names come from unauthenticated requests: a name that routes nowhere is not recorded,
    and a routable but absurd one (`provider/anything` routes to the provider) is recorded as
    `other`, so /metrics and /v1/stats stay bounded however many names clients send."""
    s = requests.Session()
    for i in range(30):
        name = f"no-such-model-{i}-" + "y" * 2000
        r = s.post(gateway.base_url + "/v1/chat/completions", timeout=30,
                   json={"model": name, "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    long_direct = "mock/" + "z" * 500
    r = s.post(gateway.base_url + "/v1/chat/completions", timeout=30,
               json={"model": long_direct, "messages": [{"role": "user", "content": "x"}]})
    metrics = s.get(gateway.base_url + "/metrics", timeout=10).text
    assert "no-such-model" not in metrics and "z" * 500 not in metrics
    assert len(metrics) < 64_000, len(metrics)
    models = s.get(gateway.base_url + "/v1/stats", timeout=10).json()["models"]
    assert not any(name.startswith("no-such-model") or "z" * 500 in name for name in models), list(models)
    # The mock provider itself answers that unknown model with a 404, recorded under `other`.
    assert r.status_code == 404 and r.json()["error"]["message"].startswith("mock: ")
    assert "other" in models
    alive(gateway)
