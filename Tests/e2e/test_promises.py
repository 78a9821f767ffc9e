"""README promises checked through the real binary (issue 19): the JSON access log, keys from the
environment, `models.*.params`, 502/504, retry/fallback/connection metrics on real traffic,
`/v1/stats` figures, tool calls through every adapter, cache TTLs and `Cache-Control`, idle
keep-alive timeout, IPv6, `X-Request-Id`, SIGINT, `no_proxy` and `/health?deep=1`."""
import datetime
import json
import signal
import socket
import threading
import time
import uuid

import openai
import pytest
import requests

from conftest import scrape, scrape_until, validate
from fake_providers import Behaviour, answer_text
from test_metrics import value
from test_providers_e2e import (FAST_RETRY, KEY_ENV, PROXY_VARIABLES, UPSTREAM_MODEL, client_for, config_for,
                                post_chat, provider_entry, start, wait_for)

KINDS = ["openai", "anthropic", "gemini"]
CHAT = "/v1/chat/completions"
#: The variables that could send the gateway's upstream calls elsewhere: unset unless a test sets them.
ENVIRONMENT_ROUTING = PROXY_VARIABLES + ["OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_API_KEY"]


def direct_session():
    """A session that ignores this process's proxy variables: the tests talk to the gateway directly."""
    s = requests.Session()
    s.trust_env = False
    return s


def closed_port():
    """A loopback port nothing listens on (bound once, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_http_response(sock):
    """One HTTP/1.1 response with a Content-Length body from a raw socket: (status, headers, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a response head"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        rest += chunk
    return status, headers, rest[:length]


# -- 1. The JSON access log -------------------------------------------------------------------

ACCESS_LOG_FIELDS = {"time", "request_id", "method", "route", "model", "provider", "cache", "status", "bytes_in",
                     "bytes_out", "timing_ms", "cost_usd"}


@pytest.mark.parametrize("destination", ["file", "stderr"])
def test_access_log_lines_are_json_with_the_documented_fields_and_no_content_or_keys(destination, make_fake,
                                                                                      make_gateway, tmp_path):
    provider_key = "sk-provider-SECRET-" + uuid.uuid4().hex
    client_key = "sk-client-SECRET-" + uuid.uuid4().hex
    secret_prompt = "PROMPT-SECRET-" + uuid.uuid4().hex
    fake = make_fake("openai", api_key=provider_key)
    log_path = tmp_path / "access.log"
    cfg = config_for(fake, access_log=str(log_path) if destination == "file" else "stderr")
    cfg["models"]["m1"]["price"] = {"input": 1.0, "output": 2.0}
    gw = start(make_gateway, fake, cfg)
    s = direct_session()
    auth = {"Authorization": f"Bearer {client_key}"}
    body = {"model": "m1", "messages": [{"role": "user", "content": secret_prompt}]}
    sent = []  # (response, expectations) in order

    miss = s.post(gw.base_url + CHAT, json=body, headers={**auth, "X-Request-Id": "client-chosen-id-1"}, timeout=30)
    sent.append((miss, {"route": CHAT, "method": "POST", "model": "m1", "provider": "fake", "cache": "miss",
                        "status": 200}))
    hit = s.post(gw.base_url + CHAT, json=body, headers=auth, timeout=30)
    sent.append((hit, {"route": CHAT, "method": "POST", "model": "m1", "cache": "hit", "status": 200}))
    stream_body = {**body, "stream": True, "messages": [{"role": "user", "content": secret_prompt + " streamed"}]}
    with s.post(gw.base_url + CHAT, json=stream_body, headers=auth, stream=True, timeout=30) as streamed:
        stream_text = streamed.content
    sent.append((streamed, {"route": CHAT, "method": "POST", "model": "m1", "provider": "fake", "cache": "miss",
                            "status": 200}))
    fake.script(Behaviour(status=400, error_message=f"bad request about {secret_prompt} for {provider_key}"))
    failed = s.post(gw.base_url + CHAT, json={**body, "temperature": 0.5}, headers=auth, timeout=30)
    sent.append((failed, {"route": CHAT, "method": "POST", "model": "m1", "status": 400}))
    listed = s.get(gw.base_url + "/v1/models", headers=auth, timeout=30)
    sent.append((listed, {"route": "/v1/models", "method": "GET", "model": None, "status": 200}))
    assert [r.status_code for r, _ in sent] == [200, 200, 200, 400, 200], [r.text for r, _ in sent]
    assert miss.headers["X-Request-Id"] == "client-chosen-id-1"
    assert b"data: [DONE]" in stream_text

    assert gw.stop() == 0  # the log is drained before the process exits
    text = log_path.read_text() if destination == "file" else gw.log()
    if destination == "file":
        lines = text.splitlines()
        assert "listening on" not in text  # only access lines go to the file
    else:
        lines = [line for line in text.splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]  # every line parses
    assert len(entries) == len(sent), text
    by_id = {e["request_id"]: e for e in entries}
    assert len(by_id) == len(sent), "each request is logged once, under its own id"
    for response, expected in sent:
        entry = by_id[response.headers["X-Request-Id"]]
        assert ACCESS_LOG_FIELDS <= set(entry), entry
        for key, want in expected.items():
            assert entry[key] == want, (key, entry)
        parsed = datetime.datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        assert parsed.tzinfo is not None and abs(parsed.timestamp() - time.time()) < 3600
        assert isinstance(entry["timing_ms"], dict) and entry["timing_ms"]["total"] >= 0
        assert entry["bytes_in"] == len(response.request.body or b"")
        assert entry["bytes_out"] >= len(response.content) > 0
    first = by_id["client-chosen-id-1"]
    assert first["timing_ms"]["upstream"] > 0 and "upstream" not in by_id[hit.headers["X-Request-Id"]]["timing_ms"]
    usage = miss.json()["usage"]
    assert first["tokens"]["prompt"] == usage["prompt_tokens"]
    assert first["tokens"]["completion"] == usage["completion_tokens"]
    assert first["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 2.0) / 1e6)
    # No message content, no key, no header names or values from the client.
    for secret in (secret_prompt, provider_key, provider_key[-16:], client_key, client_key[-16:]):
        assert secret not in text
    access_text = "\n".join(lines)
    assert "authorization" not in access_text.lower()
    assert "bearer" not in access_text.lower()


# -- 2. Keys from the environment -------------------------------------------------------------

def _connect_recorder():
    """A stand-in HTTPS proxy: records each CONNECT target (and the request's header names), then
    refuses the tunnel. It shows where a TLS call would have gone without any network."""
    targets = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    running = threading.Event()
    running.set()

    def serve():
        while running.is_set():
            try:
                conn, _ = server.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    head = data.split(b"\r\n\r\n")[0].decode(errors="replace").split("\r\n")
                    targets.append((head[0], [line.split(":")[0].lower() for line in head[1:]]))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop():
        running.clear()
        thread.join(5)
        server.close()

    return server.getsockname()[1], targets, stop


def environment_keys(openai_fake, anthropic_fake, gemini_key):
    return {"OPENAI_API_KEY": openai_fake.api_key, "OPENAI_BASE_URL": openai_fake.base_url,
            "ANTHROPIC_API_KEY": anthropic_fake.api_key, "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
            "GEMINI_API_KEY": gemini_key}


def test_keys_in_the_environment_register_each_provider_and_bare_names_route_by_family(make_fake, make_gateway):
    oa = make_fake("openai", api_key="sk-env-openai-0001")
    an = make_fake("anthropic", api_key="sk-env-anthropic-0002")
    gemini_key = "env-gemini-key-0003"
    proxy_port, connects, stop_proxy = _connect_recorder()
    try:
        # No config file. Gemini has no base URL override: its calls go to its default HTTPS URL,
        # which the stand-in proxy intercepts (plain-HTTP fakes are not proxied: no http_proxy).
        env = environment_keys(oa, an, gemini_key)
        env["https_proxy"] = f"http://127.0.0.1:{proxy_port}"
        gw = make_gateway(env=env, unset=ENVIRONMENT_ROUTING)
        assert gw.config_path is None
        s = direct_session()

        listed = {m["id"]: m["owned_by"] for m in s.get(gw.base_url + "/v1/models", timeout=30).json()["data"]}
        # Each reachable provider's own model list (the fakes list `<kind>-upstream`); Gemini's list
        # cannot be fetched here, so its well-known names stand in; the mock models answer too.
        assert listed["openai/openai-upstream"] == "openai"
        assert listed["anthropic/anthropic-upstream"] == "anthropic"
        assert listed["gemini/gemini-2.5-flash"] == "gemini"
        assert {listed[m] for m in ("mock-gpt", "mock-claude", "mock-gemini")} == {"ultragate-mock"}

        def ask(model, prompt):
            return s.post(gw.base_url + CHAT, json={"model": model, "messages": [{"role": "user", "content": prompt}]},
                          timeout=30)

        # Bare family names and provider/model names go to the right provider, in its wire format.
        for model, fake, upstream in [("gpt-4o", oa, "gpt-4o"), ("o3-mini", oa, "o3-mini"),
                                      ("openai/gpt-4.1-mini", oa, "gpt-4.1-mini"),
                                      ("claude-3-5-haiku-latest", an, "claude-3-5-haiku-latest"),
                                      ("anthropic/claude-sonnet-4-5", an, "claude-sonnet-4-5")]:
            before = len(fake.chat_requests())
            r = ask(model, f"env route {model}")
            assert r.status_code == 200, (model, r.text)
            assert r.json()["model"] == model
            assert r.json()["choices"][0]["message"]["content"] == answer_text(fake.kind, upstream, f"env route {model}")
            rec = fake.chat_requests()[before]
            assert rec.body["model"] == upstream
            if fake is oa:
                assert rec.path == "/v1/chat/completions" and rec.headers["authorization"] == f"Bearer {oa.api_key}"
            else:
                assert rec.path == "/v1/messages" and rec.headers["x-api-key"] == an.api_key
                assert rec.headers["anthropic-version"] == "2023-06-01"
        assert len(oa.chat_requests()) == 3 and len(an.chat_requests()) == 2

        # gemini-… goes to the Gemini API's default host over TLS (refused here by the proxy).
        r = ask("gemini-2.5-flash", "env route gemini")
        assert r.status_code == 502, r.text
        assert r.json()["error"]["code"] == "upstream_unavailable"
        assert connects, "the gemini call never left the gateway"
        assert {line for line, _ in connects} == {"CONNECT generativelanguage.googleapis.com:443 HTTP/1.1"}
        assert all("x-goog-api-key" not in names for _, names in connects), "the key travels inside TLS only"
        assert len(oa.chat_requests()) == 3 and len(an.chat_requests()) == 2

        # A name of no known family routes nowhere.
        r = ask("llama-3-70b", "no family")
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    finally:
        stop_proxy()


def test_google_api_key_registers_gemini_alone(make_gateway):
    gw = make_gateway(env={"GOOGLE_API_KEY": "google-key-0004"}, unset=ENVIRONMENT_ROUTING)
    s = direct_session()
    listed = {m["id"] for m in s.get(gw.base_url + "/v1/models", timeout=30).json()["data"]}
    assert "gemini/gemini-2.5-flash" in listed
    assert not any(name.startswith(("openai/", "anthropic/")) for name in listed), listed
    r = s.post(gw.base_url + CHAT, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, timeout=30)
    assert r.status_code == 404, r.text


def test_mock_flag_serves_the_mock_even_with_keys_in_the_environment(make_fake, make_gateway):
    oa = make_fake("openai")
    an = make_fake("anthropic")
    gw = make_gateway(env=environment_keys(oa, an, "env-gemini-key"), args=["--mock"], unset=ENVIRONMENT_ROUTING)
    s = direct_session()
    listed = sorted(m["id"] for m in s.get(gw.base_url + "/v1/models", timeout=30).json()["data"])
    assert listed == ["mock-claude", "mock-embedding", "mock-gemini", "mock-gpt"]
    r = s.post(gw.base_url + CHAT, json={"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]},
               timeout=30)
    assert r.status_code == 200 and r.json()["model"] == "mock-gpt"
    for model in ("gpt-4o", "claude-sonnet-4-5", "openai/gpt-4o"):
        r = s.post(gw.base_url + CHAT, json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                   timeout=30)
        assert r.status_code == 404, (model, r.text)
    assert oa.chat_requests() == [] and an.chat_requests() == []


# -- 3. models.*.params -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_model_params_are_merged_into_the_upstream_body_and_the_client_wins(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    cfg = config_for(fake)
    cfg["models"]["m1"]["params"] = {"temperature": 0.25, "max_tokens": 77, "top_p": 0.5}
    gw = start(make_gateway, fake, cfg)
    r1 = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "params from config"}]})
    r2 = post_chat(gw, {"model": "m1", "temperature": 0.9, "messages": [{"role": "user", "content": "client wins"}]})
    assert r1.status_code == 200 and r2.status_code == 200, (r1.text, r2.text)
    first, second = (rec.body for rec in fake.chat_requests())
    if kind == "gemini":
        assert first["generationConfig"] == {"temperature": 0.25, "maxOutputTokens": 77, "topP": 0.5}
        assert second["generationConfig"] == {"temperature": 0.9, "maxOutputTokens": 77, "topP": 0.5}
    else:
        assert (first["temperature"], first["max_tokens"], first["top_p"]) == (0.25, 77, 0.5)
        assert (second["temperature"], second["max_tokens"], second["top_p"]) == (0.9, 77, 0.5)


# -- 4. 502 and 504 ---------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_unreachable_provider_is_a_502_after_its_retries(stream, make_gateway):
    port = closed_port()
    cfg = {"providers": {"down": {"type": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "api_key": "k",
                                  "retry": {"max_attempts": 2, "base_delay": 0.05, "max_delay": 0.1}}},
           "models": {"solo": {"provider": "down", "model": "up"}}}
    gw = make_gateway(config=cfg, unset=PROXY_VARIABLES)
    r = direct_session().post(gw.base_url + CHAT, timeout=30, json={
        "model": "solo", "stream": stream, "messages": [{"role": "user", "content": "anyone there?"}]})
    assert r.status_code == 502, r.text
    assert r.headers["content-type"].startswith("application/json")
    validate(r.json(), "ErrorResponse")
    err = r.json()["error"]
    assert (err["type"], err["code"]) == ("upstream_error", "upstream_unavailable")
    assert err["message"]
    m = scrape(gw)
    assert value(m, "ultragate_upstream_errors", provider="down", model="solo", kind="connect") == 2
    assert value(m, "ultragate_upstream_retries", provider="down", model="solo") == 1


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_timeout_is_a_504_after_its_retries(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.default = Behaviour(delay=8)
    cfg = config_for(fake, retry={"max_attempts": 2, "base_delay": 0.05, "max_delay": 0.1, "deadline": 30})
    cfg["providers"]["fake"]["timeouts"] = {"connect": 5, "first_byte": 1, "idle": 20, "total": 60}
    gw = start(make_gateway, fake, cfg)
    t0 = time.monotonic()
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "too slow"}]})
    elapsed = time.monotonic() - t0
    assert r.status_code == 504, r.text
    validate(r.json(), "ErrorResponse")
    err = r.json()["error"]
    assert (err["type"], err["code"]) == ("timeout_error", "upstream_timeout")
    assert len(fake.chat_requests()) == 2
    assert elapsed >= 2 * 1.0 - 0.05, "each attempt waits out its first-byte timeout"
    assert value(scrape(gw), "ultragate_upstream_errors", model="m1", kind="timeout") == 2


@pytest.mark.parametrize("kind", KINDS)
def test_persistent_5xx_keeps_the_providers_status_after_its_retries(kind, make_fake, make_gateway):
    fake = make_fake(kind)
    fake.default = Behaviour(status=503, error_message="overloaded right now")
    gw = start(make_gateway, fake, config_for(fake))
    r = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "busy"}]})
    assert r.status_code == 503, r.text
    validate(r.json(), "ErrorResponse")
    assert r.json()["error"]["type"] == "upstream_error"
    assert "overloaded right now" in r.json()["error"]["message"]
    assert len(fake.chat_requests()) == FAST_RETRY["max_attempts"]


# -- 5. Retry, fallback and connection metrics on real traffic --------------------------------

def test_retry_fallback_and_error_metrics_move_by_exactly_what_happened(make_fake, make_gateway):
    primary = make_fake("openai")
    backup = make_fake("anthropic", api_key=primary.api_key)
    cfg = {"providers": {"prim": provider_entry(primary), "back": provider_entry(backup)},
           "models": {"main": {"provider": "prim", "model": UPSTREAM_MODEL, "fallbacks": ["spare"]},
                      "spare": {"provider": "back", "model": "backup-model"}}}
    gw = start(make_gateway, primary, cfg)
    before = scrape(gw)
    for name in ("ultragate_upstream_retries", "ultragate_fallbacks", "ultragate_upstream_errors"):
        assert value(before, name) == 0, name

    # 1: a 429 and a 500, then an answer: two retries, no fallback.
    primary.script(Behaviour(status=429, headers={"Retry-After": "0"}), Behaviour(status=500))
    r = post_chat(gw, {"model": "main", "messages": [{"role": "user", "content": "third time lucky"}]})
    assert r.status_code == 200 and r.headers["X-UltraGate-Model"] == "main", r.text
    m = scrape(gw)
    assert value(m, "ultragate_upstream_retries", provider="prim", model="main") == 2
    assert value(m, "ultragate_upstream_errors", provider="prim", model="main", kind="http_429") == 1
    assert value(m, "ultragate_upstream_errors", provider="prim", model="main", kind="http_500") == 1
    assert value(m, "ultragate_fallbacks") == 0
    assert len(primary.chat_requests()) == 3

    # 2: the primary keeps failing: all its attempts, then the fallback answers.
    primary.default = Behaviour(status=500)
    r = post_chat(gw, {"model": "main", "messages": [{"role": "user", "content": "who is left"}]})
    assert r.status_code == 200 and r.headers["X-UltraGate-Model"] == "spare", r.text
    m = scrape(gw)
    attempts = FAST_RETRY["max_attempts"]
    assert value(m, "ultragate_upstream_retries", provider="prim", model="main") == 2 + (attempts - 1)
    assert value(m, "ultragate_upstream_errors", provider="prim", model="main", kind="http_500") == 1 + attempts
    assert value(m, "ultragate_upstream_errors", provider="prim", model="main", kind="http_429") == 1
    assert value(m, "ultragate_fallbacks", **{"from": "main", "to": "spare"}) == 1
    assert value(m, "ultragate_fallbacks") == 1
    assert value(m, "ultragate_upstream_retries", provider="back") == 0
    assert value(m, "ultragate_upstream_errors", provider="back") == 0
    # Successful upstream calls: one each.
    hist = m["ultragate_upstream_request_duration_seconds"]
    counts = {(s.labels["provider"], s.labels["model"]): s.value for s in hist.samples if s.name.endswith("_count")}
    assert counts == {("prim", "main"): 1, ("back", "spare"): 1}
    m = scrape_until(gw, lambda m: value(m, "ultragate_requests", route=CHAT, status="200") == 2)
    assert value(m, "ultragate_requests", route=CHAT, status="200") == 2
    assert len(primary.chat_requests()) == 3 + attempts and len(backup.chat_requests()) == 1


def test_open_connections_and_in_flight_gauges_follow_real_connections(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = start(make_gateway, fake, config_for(fake))
    # Every scrape goes over this one kept-alive connection, and is itself a request in flight.
    s = direct_session()
    base = scrape(gw, s)
    assert value(base, "ultragate_open_connections") == 1
    assert value(base, "ultragate_in_flight_requests") == 1

    socks = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_http_response(sock)[0] == 200  # accepted and served; kept alive
        socks.append(sock)
    m = scrape(gw, s)
    assert value(m, "ultragate_open_connections") == 4
    assert value(m, "ultragate_in_flight_requests") == 1
    for sock in socks:
        sock.close()
    assert wait_for(lambda: value(scrape(gw, s), "ultragate_open_connections") == 1), "closed connections still counted"

    fake.default = Behaviour(delay=5)
    done = {}
    # `Connection: close`: the connection ends with the answer (a Python client may otherwise
    # keep it open as long as the response object lives).
    slow = threading.Thread(target=lambda: done.setdefault("r", post_chat(gw, {
        "model": "m1", "messages": [{"role": "user", "content": "slow one"}]}, headers={"Connection": "close"})))
    slow.start()
    assert wait_for(lambda: len(fake.chat_requests()) == 1)
    m = scrape(gw, s)
    if "r" not in done:  # the slow request was in flight during the whole scrape (unless it took 5 s)
        assert value(m, "ultragate_in_flight_requests") == 2
        assert value(m, "ultragate_open_connections") == 2
    slow.join(30)
    assert done["r"].status_code == 200
    assert wait_for(lambda: value(scrape(gw, s), "ultragate_in_flight_requests") == 1)
    assert wait_for(lambda: value(scrape(gw, s), "ultragate_open_connections") == 1)


# -- 6. /v1/stats ---------------------------------------------------------------------------

def test_stats_percentiles_and_hit_ratio_match_known_latencies(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = start(make_gateway, fake, config_for(fake))
    s = direct_session()
    slow, slowest = 0.25, 1.0
    fake.script(*[Behaviour(delay=slow)] * 4, Behaviour(delay=slowest))
    client_seconds = []

    def ask(prompt):
        t0 = time.monotonic()
        r = s.post(gw.base_url + CHAT, json={"model": "m1", "messages": [{"role": "user", "content": prompt}]},
                   timeout=30)
        client_seconds.append(time.monotonic() - t0)
        assert r.status_code == 200, r.text
        return r.headers["X-Cache"]

    # 5 misses (4 at 0.25 s, 1 at 1 s) and 3 hits.
    assert [ask(f"miss {i}") for i in range(5)] == ["MISS"] * 5
    assert [ask(f"miss {i}") for i in range(3)] == ["HIT"] * 3
    stats = s.get(gw.base_url + "/v1/stats", timeout=30).json()
    model = stats["models"]["m1"]
    assert model["requests"] == 8 and model["errors"] == 0
    assert model["hit_ratio"] == pytest.approx(3 / 8, abs=1e-4)
    assert stats["totals"]["cache"] == {"hits": 3, "misses": 5, "bypass": 0, "hit_ratio": pytest.approx(3 / 8, abs=1e-4)}
    # Nearest rank over 8 requests: p50 is the 4th fastest (a 0.25 s miss: 3 hits come first),
    # p90 and p99 the slowest (the 1 s miss). The gateway's own time never exceeds what the client
    # measured around it, so each percentile is also at most that rank of the client's times
    # (plus the sketch's 0.8 % bucket width).
    ranked = sorted(client_seconds)
    p = model["latency_ms"]
    assert slow * 1000 <= p["p50"] <= ranked[3] * 1000 * 1.01
    assert slowest * 1000 <= p["p90"] <= ranked[7] * 1000 * 1.01
    assert slowest * 1000 <= p["p99"] <= ranked[7] * 1000 * 1.01
    assert model["tokens"]["completion"] > 0 and model["tokens_per_second"] > 0


# -- 7. Tool calls through every adapter and the SDK ------------------------------------------

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TOOL_RESULT = '{"temp_c":21}'


def collect_stream(chunks):
    """Content, tool calls (by index: id, name, arguments) and finish reason of an SDK stream."""
    content, calls, finish = "", {}, None
    for chunk in chunks:
        validate(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                call = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                if tc.id:
                    call["id"] = tc.id
                if tc.function and tc.function.name:
                    call["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    call["arguments"] += tc.function.arguments
            finish = choice.finish_reason or finish
    return content, [calls[i] for i in sorted(calls)], finish


def assert_tools_offered(kind, body):
    """The request offered the tool in the provider's own shape."""
    params = WEATHER_TOOL["function"]["parameters"]
    if kind == "openai":
        assert body["tools"] == [WEATHER_TOOL]
    elif kind == "anthropic":
        assert body["tools"] == [{"name": "get_weather", "description": "Current weather in a city",
                                  "input_schema": params}]
    else:
        decl = body["tools"][0]["functionDeclarations"][0]
        assert decl["name"] == "get_weather" and decl["description"] == "Current weather in a city"
        assert (decl.get("parametersJsonSchema") or decl.get("parameters")) == params


def assert_tool_round_trip(kind, body, call_id, arguments):
    """The follow-up carries the assistant's tool call and the tool's result in the provider's shape."""
    if kind == "openai":
        assistant, result = body["messages"][-2:]
        assert assistant["role"] == "assistant"
        assert assistant["tool_calls"] == [{"id": call_id, "type": "function",
                                            "function": {"name": "get_weather", "arguments": json.dumps(arguments)}}]
        assert result == {"role": "tool", "tool_call_id": call_id, "content": TOOL_RESULT}
    elif kind == "anthropic":
        assistant, result = body["messages"][-2:]
        assert assistant["role"] == "assistant"
        uses = [b for b in assistant["content"] if b.get("type") == "tool_use"]
        assert uses == [{"type": "tool_use", "id": call_id, "name": "get_weather", "input": arguments}]
        assert result["role"] == "user"
        (block,) = [b for b in result["content"] if b.get("type") == "tool_result"]
        assert block["tool_use_id"] == call_id
        content = block["content"]
        assert content == TOOL_RESULT or content == [{"type": "text", "text": TOOL_RESULT}], content
    else:
        model_turn, result = body["contents"][-2:]
        assert model_turn["role"] == "model"
        calls = [p["functionCall"] for p in model_turn["parts"] if "functionCall" in p]
        assert [(c["name"], c["args"]) for c in calls] == [("get_weather", arguments)]
        assert result["role"] == "user"
        assert result["parts"] == [{"functionResponse": {"name": "get_weather", "response": json.loads(TOOL_RESULT)}}]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_tool_call_and_its_result_round_trip_through_the_adapter(kind, stream, make_fake, make_gateway):
    fake = make_fake(kind)
    gw = start(make_gateway, fake, config_for(fake))
    client = client_for(gw)
    prompt = f"What is the weather in Paris? ({kind}, stream={stream})"
    messages = [{"role": "user", "content": prompt}]
    arguments = {"city": prompt}  # the fake fills each string parameter with the prompt

    if stream:
        _, calls, finish = collect_stream(client.chat.completions.create(
            model="m1", messages=messages, tools=[WEATHER_TOOL], stream=True))
    else:
        completion = client.chat.completions.create(model="m1", messages=messages, tools=[WEATHER_TOOL])
        validate(completion.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
        choice = completion.choices[0]
        finish = choice.finish_reason
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in choice.message.tool_calls or []]
        assert all(c.type == "function" for c in choice.message.tool_calls)
    assert finish == "tool_calls"
    assert len(calls) == 1, calls
    call = calls[0]
    assert isinstance(call["id"], str) and call["id"]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == arguments
    (first,) = fake.chat_requests()
    assert_tools_offered(kind, first.body)

    follow_up = messages + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": "get_weather", "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": TOOL_RESULT}]
    expected = f"{kind} {UPSTREAM_MODEL} read tool result: {TOOL_RESULT}"
    if stream:
        text, calls, finish = collect_stream(client.chat.completions.create(
            model="m1", messages=follow_up, tools=[WEATHER_TOOL], stream=True))
    else:
        answer = client.chat.completions.create(model="m1", messages=follow_up, tools=[WEATHER_TOOL])
        text, calls, finish = answer.choices[0].message.content, answer.choices[0].message.tool_calls or [], \
            answer.choices[0].finish_reason
    assert (text, calls, finish) == (expected, [], "stop")
    assert len(fake.chat_requests()) == 2
    assert_tool_round_trip(kind, fake.chat_requests()[1].body, call["id"], arguments)


# -- 8. Cache TTLs and Cache-Control ----------------------------------------------------------

def test_cache_ttl_from_config_and_per_model_ttl(make_fake, make_gateway):
    ttl = 2
    fake = make_fake("openai")
    cfg = config_for(fake, cache={"ttl": ttl})
    cfg["models"]["long"] = {"provider": "fake", "model": "long-lived", "ttl": 3600}
    gw = start(make_gateway, fake, cfg)
    short = {"model": "m1", "messages": [{"role": "user", "content": "short lived"}]}
    long_ = {"model": "long", "messages": [{"role": "user", "content": "long lived"}]}

    t0 = time.monotonic()
    assert post_chat(gw, short).headers["X-Cache"] == "MISS"
    assert post_chat(gw, long_).headers["X-Cache"] == "MISS"
    again = post_chat(gw, short)
    if time.monotonic() - t0 < ttl:  # the entry is younger than its TTL: it must answer
        assert again.headers["X-Cache"] == "HIT"
        assert int(again.headers["Age"]) <= ttl
    time.sleep(ttl + 1.5)
    expired = post_chat(gw, short)
    assert expired.status_code == 200 and expired.headers["X-Cache"] == "MISS", "an entry past cache.ttl is a miss"
    assert post_chat(gw, long_).headers["X-Cache"] == "HIT", "models.long.ttl keeps its entry"
    models_asked = [rec.body["model"] for rec in fake.chat_requests()]
    assert models_asked.count(UPSTREAM_MODEL) == 2 + (0 if again.headers["X-Cache"] == "HIT" else 1)
    assert models_asked.count("long-lived") == 1


def test_cache_control_no_cache_refreshes_and_max_age_limits_entry_age(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = start(make_gateway, fake, config_for(fake))

    def answer(text):
        return Behaviour(raw_body={"id": "chatcmpl-" + text, "object": "chat.completion", "created": 1,
                                   "model": UPSTREAM_MODEL,
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})

    fake.script(answer("first"), answer("second"), answer("third"))
    body = {"model": "m1", "messages": [{"role": "user", "content": "cache control through the binary"}]}

    def ask(cache_control=None):
        r = post_chat(gw, body, headers={"Cache-Control": cache_control} if cache_control else {})
        assert r.status_code == 200, r.text
        return r.headers["X-Cache"], r.json()["choices"][0]["message"]["content"]

    assert ask() == ("MISS", "first")
    assert ask() == ("HIT", "first")
    assert ask("no-cache") == ("BYPASS", "second")  # skipped the lookup, asked upstream ...
    assert ask() == ("HIT", "second")  # ... and refreshed the entry
    assert len(fake.chat_requests()) == 2
    time.sleep(2.2)  # the entry is now older than 2 s
    r = post_chat(gw, body)
    assert r.headers["X-Cache"] == "HIT" and int(r.headers["Age"]) >= 2
    assert ask("max-age=1") == ("MISS", "third")  # too old for this client: asked upstream
    assert len(fake.chat_requests()) == 3
    assert ask("max-age=3600") == ("HIT", "third")
    assert len(fake.chat_requests()) == 3


# -- 9. Server: idle timeout, IPv6, X-Request-Id, SIGINT, no_proxy ----------------------------

def test_idle_keep_alive_connection_closes_after_idle_timeout_and_not_before(make_gateway):
    idle = 3
    gw = make_gateway(config={"server": {"idle_timeout": idle}})
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_http_response(sock)[0] == 200
        time.sleep(1.0)  # idle for a third of the timeout: still open
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_http_response(sock)[0] == 200
        last_activity = time.monotonic()
        sock.settimeout(idle + 25)
        try:
            data = sock.recv(1)
        except ConnectionResetError:
            data = b""
        closed_after = time.monotonic() - last_activity
    finally:
        sock.close()
    assert data == b"", "the server sent bytes on an idle connection"
    assert closed_after >= idle - 0.05, f"closed after {closed_after:.2f} s, before idle_timeout {idle}"


def test_ipv6_listen_address_serves_chat_and_names_a_bracketed_url(make_gateway):
    assert socket.has_ipv6
    probe = socket.socket(socket.AF_INET6)
    probe.bind(("::1", 0))  # loopback IPv6 is available here
    probe.close()
    gw = make_gateway(args=["--host", "::1"])
    assert f"listening on http://[::1]:{gw.port} " in gw.log()
    base = f"http://[::1]:{gw.port}"
    s = direct_session()
    assert s.get(base + "/health", timeout=30).json() == {"status": "ok"}
    client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=30)
    reply = client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "over IPv6"}])
    assert reply.choices[0].message.content
    # Bound to ::1 only: nothing answers on IPv4 loopback at that port.
    v4 = socket.socket()
    try:
        assert v4.connect_ex(("127.0.0.1", gw.port)) != 0
    finally:
        v4.close()


def test_client_request_id_is_echoed_on_every_kind_of_answer(gateway):
    s = direct_session()
    url = gateway.base_url + CHAT
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "echo my id"}]}
    cases = [("miss", lambda h: s.post(url, json=body, headers=h, timeout=30)),
             ("hit", lambda h: s.post(url, json=body, headers=h, timeout=30)),
             ("stream", lambda h: s.post(url, json={**body, "stream": True}, headers=h, timeout=30)),
             ("not-found", lambda h: s.post(url, json={**body, "model": "no-such-model"}, headers=h, timeout=30)),
             ("bad-json", lambda h: s.post(url, data=b"{", headers={**h, "Content-Type": "application/json"},
                                           timeout=30)),
             ("models", lambda h: s.get(gateway.base_url + "/v1/models", headers=h, timeout=30)),
             ("health", lambda h: s.get(gateway.base_url + "/health", headers=h, timeout=30))]
    statuses = {}
    for name, send in cases:
        rid = f"req-{name}-{uuid.uuid4().hex}"
        r = send({"X-Request-Id": rid})
        statuses[name] = r.status_code
        assert r.headers["X-Request-Id"] == rid, name
    assert statuses == {"miss": 200, "hit": 200, "stream": 200, "not-found": 404, "bad-json": 400, "models": 200,
                        "health": 200}
    # Without one, each answer gets a fresh id.
    ids = {s.get(gateway.base_url + "/health", timeout=30).headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_sigint_stops_gracefully_and_finishes_the_request_in_flight(make_fake, make_gateway):
    fake = make_fake("openai")
    fake.default = Behaviour(delay=2)
    gw = start(make_gateway, fake, config_for(fake))
    result = {}

    def call():
        result["r"] = post_chat(gw, {"model": "m1", "messages": [{"role": "user", "content": "finish me"}]})

    t = threading.Thread(target=call)
    t.start()
    assert wait_for(lambda: len(fake.chat_requests()) == 1)  # the request is in flight upstream
    gw.proc.send_signal(signal.SIGINT)
    t.join(30)
    assert gw.proc.wait(timeout=30) == 0
    r = result["r"]
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == answer_text("openai", UPSTREAM_MODEL, "finish me")
    assert "Fatal error" not in gw.log()


@pytest.mark.parametrize("variable", ["no_proxy", "NO_PROXY"])
def test_no_proxy_sends_matching_hosts_direct_past_a_dead_proxy(variable, make_fake, make_gateway):
    fake = make_fake("openai")
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    cfg = config_for(fake, retry={"max_attempts": 1})
    gw = make_gateway(config=cfg, env={KEY_ENV: fake.api_key, "http_proxy": dead_proxy, variable: "127.0.0.1"},
                      unset=PROXY_VARIABLES)
    r = direct_session().post(gw.base_url + CHAT, timeout=30,
                              json={"model": "m1", "messages": [{"role": "user", "content": "skip the proxy"}]})
    assert r.status_code == 200, r.text
    assert len(fake.chat_requests()) == 1
    # The control: without no_proxy the same call goes to the dead proxy and fails.
    gw = make_gateway(config=cfg, env={KEY_ENV: fake.api_key, "http_proxy": dead_proxy}, unset=PROXY_VARIABLES)
    r = direct_session().post(gw.base_url + CHAT, timeout=30,
                              json={"model": "m1", "messages": [{"role": "user", "content": "through the proxy"}]})
    assert r.status_code == 502, r.text
    assert len(fake.chat_requests()) == 1


# -- /health?deep=1 with every model up ---------------------------------------------------------

def test_deep_health_is_200_when_every_model_answers(make_fake, make_gateway):
    fakes = {kind: make_fake(kind, api_key=f"key-{kind}-0005") for kind in KINDS}
    cfg = {"providers": {f"p_{k}": {"type": k, "base_url": f.base_url, "api_key": f.api_key}
                         for k, f in fakes.items()},
           "models": {f"{k}-model": {"provider": f"p_{k}", "model": f"{k}-upstream"} for k in KINDS}}
    gw = make_gateway(config=cfg)
    r = direct_session().get(gw.base_url + "/health?deep=1", timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    by_model = {m["model"]: m for m in body["models"]}
    assert set(by_model) == {f"{k}-model" for k in KINDS}
    for kind, fake in fakes.items():
        report = by_model[f"{kind}-model"]
        assert (report["provider"], report["available"], report["error"]) == (f"p_{kind}", True, None)
        assert report["latency_ms"] >= 0
        (rec,) = fake.chat_requests()  # asked once each, in its own wire format
        expected_path = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages",
                         "gemini": f"/v1beta/models/{kind}-upstream:generateContent"}[kind]
        assert rec.path == expected_path
