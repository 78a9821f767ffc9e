"""Durability of the LMDB response cache across crashes and restarts, sharing one cache directory
between processes and the CLI, command-line errors, and graceful shutdown — all with the real
binary serving the built-in mock provider."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import BINARY, Gateway, scrape


def chat(gw, prompt, model="mock-gpt", timeout=60, session=None):
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    return (session or requests).post(gw.base_url + "/v1/chat/completions", json=body, timeout=timeout)


def run_cli(*args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout, env=env)


def upstream_calls(gw):
    """Upstream calls made so far, all providers and models (the duration histogram's counts)."""
    family = scrape(gw)["ultragate_upstream_request_duration_seconds"]
    return sum(s.value for s in family.samples if s.name == "ultragate_upstream_request_duration_seconds_count")


def cache_entries(cache_dir):
    out = run_cli("cache", "stats", "--cache-dir", cache_dir)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("entries:"))
    return int(line.split(":")[1])


def hammer_then_kill(gw, total=400, threads_n=6, kill_after=150):
    """Six clients send unique prompts; the gateway gets SIGKILL once `kill_after` were answered.
    Returns {prompt: body} of every 200 answer."""
    answered = {}
    lock = threading.Lock()
    stop = threading.Event()

    def worker(w):
        s = requests.Session()
        for i in range(w, total, threads_n):
            if stop.is_set():
                return
            prompt = f"durability request {i} from worker {w}"
            try:
                r = chat(gw, prompt, session=s, timeout=30)
            except requests.RequestException:
                return  # the server died under us
            if r.status_code == 200:
                with lock:
                    answered[prompt] = r.json()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(threads_n)]
    for t in threads:
        t.start()
    deadline = time.time() + 120
    while time.time() < deadline:
        with lock:
            if len(answered) >= kill_after:
                break
        time.sleep(0.005)
    gw.stop(signal.SIGKILL)
    assert gw.proc.returncode == -signal.SIGKILL
    stop.set()
    for t in threads:
        t.join(60)
    with lock:
        snapshot = dict(answered)
    assert len(snapshot) >= kill_after
    assert len(snapshot) < total, "the kill came too late to interrupt the writes"
    return snapshot


def replay(gw, snapshot):
    """Asks every answered prompt again; returns the prompts that missed. A hit must carry
    exactly the body first answered (no torn or mixed-up entry)."""
    s = requests.Session()
    misses = []
    for prompt, body in snapshot.items():
        r = chat(gw, prompt, session=s)
        assert r.status_code == 200
        if r.headers["x-cache"] != "HIT":
            misses.append(prompt)
            continue
        assert r.json() == body, f"cached content changed for {prompt!r}"
    return misses


def test_sigkill_with_commit_before_answer_loses_no_answered_request(make_gateway, tmp_path):
    cache_dir = str(tmp_path / "cache")
    gw = make_gateway(cache_dir=cache_dir, config={"cache": {"commit_before_answer": True}})
    snapshot = hammer_then_kill(gw)
    # The store opens cleanly after the crash.
    assert cache_entries(cache_dir) >= len(snapshot)
    misses = replay(make_gateway(cache_dir=cache_dir), snapshot)
    assert not misses, f"{len(misses)} of {len(snapshot)} answered requests were lost by kill -9, e.g. {misses[:3]}"


def test_sigkill_by_default_loses_at_most_the_answers_still_committing(make_gateway, tmp_path):
    """By default a miss is answered first and committed right after: a kill can only lose the
    entries of answers still in that window (at most one per client here, as each client waits
    for its answer before sending again, plus one writer-thread batch), and never tears one."""
    cache_dir = str(tmp_path / "cache")
    gw = make_gateway(cache_dir=cache_dir)
    snapshot = hammer_then_kill(gw, threads_n=6)
    misses = replay(make_gateway(cache_dir=cache_dir), snapshot)
    assert len(misses) <= 2 * 6, f"{len(misses)} of {len(snapshot)} answered requests were lost by kill -9"


def test_an_answered_miss_is_a_hit_for_the_very_next_request(make_gateway):
    """Answering before committing must not open a gap: a repeat sent the moment the answer
    arrives either finds the committed entry or joins the finished flight; it never goes upstream."""
    gw = make_gateway()
    s = requests.Session()
    for i in range(200):
        first = chat(gw, f"back to back {i}", session=s)
        assert first.status_code == 200 and first.headers["x-cache"] == "MISS"
        again = chat(gw, f"back to back {i}", session=s)
        assert again.status_code == 200
        assert again.headers["x-cache"] == "HIT"
        assert again.json() == first.json()
    # Every repeat was served without an upstream call: the mock saw 200 requests, not 400.
    assert upstream_calls(gw) == 200


def test_under_concurrency_answered_misses_are_never_fetched_twice(make_gateway):
    """With other calls in flight the entry goes to the writer's group commit after the answer;
    the finished call stays joinable until then, so a repeat never reaches the upstream."""
    gw = make_gateway()
    errors = []

    def worker(w):
        s = requests.Session()
        for i in range(60):
            prompt = f"concurrent back to back {w}/{i}"
            first = chat(gw, prompt, session=s)
            again = chat(gw, prompt, session=s)
            if (first.status_code != 200 or again.status_code != 200 or again.json() != first.json()
                    or again.headers["x-cache"] != "HIT"):
                errors.append(prompt)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    calls = upstream_calls(gw)
    assert calls == 8 * 60, f"{calls} upstream calls for {8 * 60} distinct prompts"


def test_answers_survive_a_graceful_restart(make_gateway, tmp_path):
    cache_dir = str(tmp_path / "cache")
    gw = make_gateway(cache_dir=cache_dir)
    bodies = {}
    for i in range(20):
        r = chat(gw, f"persist me {i}", model="mock-claude")
        assert r.status_code == 200 and r.headers["x-cache"] == "MISS"
        bodies[i] = r.json()
    assert gw.stop(signal.SIGTERM) == 0
    assert "shutting down" in gw.log()
    again = make_gateway(cache_dir=cache_dir)
    for i, body in bodies.items():
        r = chat(again, f"persist me {i}", model="mock-claude")
        assert r.headers["x-cache"] == "HIT"
        assert r.json() == body


def test_two_servers_share_one_cache_directory(make_gateway, tmp_path):
    cache_dir = str(tmp_path / "cache")
    a = make_gateway(cache_dir=cache_dir)
    b = make_gateway(cache_dir=cache_dir)
    for i in range(5):
        first = chat(a, f"shared between servers {i}")
        assert first.headers["x-cache"] == "MISS"
        second = chat(b, f"shared between servers {i}")
        assert second.headers["x-cache"] == "HIT", "B must see what A stored"
        assert second.json() == first.json()
    # And the other way round.
    r = chat(b, "stored by B")
    assert r.headers["x-cache"] == "MISS"
    assert chat(a, "stored by B").headers["x-cache"] == "HIT"


def test_cache_cli_while_a_server_uses_the_directory(make_gateway, tmp_path):
    cache_dir = str(tmp_path / "cache")
    gw = make_gateway(cache_dir=cache_dir)
    for i in range(7):
        assert chat(gw, f"cli stats {i}").status_code == 200
    assert chat(gw, "cli stats 0").headers["x-cache"] == "HIT"
    assert cache_entries(cache_dir) == 7

    out = run_cli("cache", "clear", "--cache-dir", cache_dir)
    assert out.returncode == 0, out.stderr
    assert "cleared 7" in out.stdout
    assert cache_entries(cache_dir) == 0
    r = chat(gw, "cli stats 0")
    assert r.status_code == 200
    assert r.headers["x-cache"] == "MISS", "a cleared cache must not answer from memory"
    assert cache_entries(cache_dir) == 1
    assert chat(gw, "cli stats 0").headers["x-cache"] == "HIT"


def test_cli_usage_errors_exit_2_and_info_flags_exit_0(tmp_path):
    for args, needle in [(["serve", "--bogus-flag"], "--bogus-flag"),
                         (["serve", "--port", "not-a-port"], "--port"),
                         (["serve", "--port", "70000"], "--port"),
                         (["serve", "--port"], "--port"),
                         (["cache", "stats", "--nope"], "--nope"),
                         (["frobnicate"], "frobnicate")]:
        out = run_cli(*args, "--cache-dir", str(tmp_path / "c")) if args[0] == "serve" and args[-1] != "--port" else run_cli(*args)
        assert out.returncode == 2, (args, out.returncode, out.stderr)
        assert needle in out.stderr, (args, out.stderr)
        assert out.stdout == "", (args, out.stdout)
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("ultragate ")
    for flag in ("--help", "-h"):
        helped = run_cli(flag)
        assert helped.returncode == 0
        assert "USAGE" in helped.stdout and "serve" in helped.stdout
    assert run_cli("serve", "--help").returncode == 0


def test_bad_config_file_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"providers": {"x": {"type": "nope"}}}))
    out = run_cli("serve", "--port", "0", "--config", str(cfg), "--cache-dir", str(tmp_path / "c"))
    assert out.returncode == 2
    assert "providers.x.type" in out.stderr


def probe_new_connection(port):
    """Opens a connection and asks for /health: how it ended and how long that took."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.settimeout(1.5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = s.recv(4096)
            status = data.split(b"\r\n", 1)[0]
            outcome = "eof" if data == b"" else ("503" if b" 503 " in status else "served " + status.decode())
    except ConnectionRefusedError:
        outcome = "refused"
    except ConnectionResetError:
        outcome = "reset"
    except socket.timeout:
        outcome = "hung"
    return outcome, time.monotonic() - t0


def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(make_gateway):
    gw = make_gateway(config={"mock": {"latency_ms": 4000}})
    result = {}

    def slow():
        try:
            result["r"] = chat(gw, "slow request during shutdown")
        except Exception as e:  # noqa: BLE001
            result["e"] = e

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.8)  # the request is in flight (the mock takes 4 s)
    gw.proc.send_signal(signal.SIGTERM)
    time.sleep(0.4)
    assert gw.proc.poll() is None, "the server must wait for the request in flight"

    # While draining, a new connection is refused at once rather than left waiting in the backlog.
    outcome, waited = probe_new_connection(gw.port)
    assert gw.proc.poll() is None, "the probe must happen while the request is still in flight"

    t.join(60)
    assert "e" not in result, result.get("e")
    assert result["r"].status_code == 200
    assert result["r"].json()["choices"][0]["message"]["content"]
    assert gw.proc.wait(timeout=30) == 0
    try:
        socket.create_connection(("127.0.0.1", gw.port), timeout=5).close()
        after_exit = False
    except ConnectionRefusedError:
        after_exit = True
    assert after_exit
    assert outcome in ("refused", "reset", "eof", "503") and waited < 1.0, (
        f"a connection opened during shutdown got `{outcome}` after {waited:.2f} s: it should be refused at once")


def test_a_cache_that_cannot_grow_costs_no_answer_and_is_reported():
    """The cache file may not grow past 192 KiB (RLIMIT_FSIZE: LMDB's writes then fail with EFBIG,
    as on a full disk). Every request is still answered, entries stored before the limit still hit,
    the failures are counted in /v1/stats and /metrics, and reported on stderr once, not per miss."""
    import resource

    limit = 192 << 10

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    gw = Gateway(preexec_fn=limit_file_size)
    try:
        s = requests.Session()
        statuses = []
        for i in range(400):
            r = s.post(gw.base_url + "/v1/chat/completions", timeout=30, json={
                "model": "mock-gpt", "stream": i % 4 == 0,
                "messages": [{"role": "user", "content": f"fill the cache {i}"}], "max_tokens": 400})
            statuses.append(r.status_code)
            if i % 4 == 0:
                assert r.text.rstrip().endswith("data: [DONE]"), r.text[-200:]
            else:
                assert r.json()["choices"][0]["message"]["content"], r.text
        assert statuses == [200] * 400
        assert gw.proc.poll() is None, gw.log()

        stats = s.get(gw.base_url + "/v1/stats", timeout=10).json()["cache"]
        assert stats["write_errors"] > 0, stats
        assert "File too large" in stats["last_write_error"], stats
        assert 0 < stats["entries"] < 400, stats
        assert os.path.getsize(os.path.join(gw.cache_dir, "data.mdb")) <= limit
        metric = scrape(gw)["ultragate_cache_write_errors"]
        assert [x.value for x in metric.samples if x.name == "ultragate_cache_write_errors_total"] == [stats["write_errors"]]
        reports = [line for line in gw.log().splitlines() if "cache write failed" in line]
        assert len(reports) == 1, gw.log()
        assert "answers are still served" in reports[0]

        # What went in before the limit still answers from the cache, the process still works.
        r = s.post(gw.base_url + "/v1/chat/completions", timeout=30, json={
            "model": "mock-gpt", "messages": [{"role": "user", "content": "fill the cache 1"}], "max_tokens": 400})
        assert r.status_code == 200 and r.headers["X-Cache"] == "HIT", r.headers
        assert gw.stop() == 0, gw.log()
    finally:
        gw.close()


def test_requests_outliving_the_grace_period_still_end_within_the_protocol(make_gateway):
    """At the end of the shutdown grace period a request still waiting gets a 503 (not a dropped
    connection), and a stream under way gets an error event, `[DONE]` and its last chunk (not a cut
    body); SIGHUP stops the gateway like SIGTERM."""
    gw = make_gateway(config={"mock": {"latency_ms": 8000, "ttft_ms": 200}, "server": {"shutdown_grace_period": 1}})
    result = {}

    def whole():
        result["whole"] = chat(gw, "a slow answer during shutdown", timeout=30)

    def stream():
        body = {"model": "mock-gpt", "stream": True, "messages": [{"role": "user", "content": "a slow stream"}]}
        with requests.post(gw.base_url + "/v1/chat/completions", json=body, stream=True, timeout=30) as r:
            result["stream_status"] = r.status_code
            result["stream"] = b"".join(r.iter_content(None)).decode()  # raises if the chunked body is cut

    threads = [threading.Thread(target=whole), threading.Thread(target=stream)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # both in flight; the stream has sent its first chunks
    gw.proc.send_signal(signal.SIGHUP)
    for t in threads:
        t.join(30)
    assert gw.proc.wait(timeout=30) == 0
    whole_answer = result["whole"]
    assert whole_answer.status_code == 503, whole_answer.text
    assert set(whole_answer.json()["error"]) == {"message", "type", "param", "code"}
    assert whole_answer.json()["error"]["code"] == "server_shutting_down"
    assert whole_answer.json()["error"]["type"] == "server_error"
    assert whole_answer.headers.get("x-request-id")
    assert result["stream_status"] == 200
    events = [line[6:] for line in result["stream"].splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]", events[-3:]
    assert json.loads(events[-2])["error"]["code"] == "server_shutting_down"
