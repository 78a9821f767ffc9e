"""`ultragate check` and `GET /health?deep=1`: every configured model asked a tiny prompt."""
import concurrent.futures
import json
import os
import subprocess
import tempfile

import requests

from conftest import BINARY


def config_for(fakes):
    providers = {f"p_{f.kind}": {"type": f.kind, "base_url": f.base_url, "api_key": f.api_key} for f in fakes}
    providers["down"] = {"type": "openai", "base_url": "http://127.0.0.1:1/v1", "api_key": "k",
                         "timeouts": {"connect": 2, "total": 5}}
    models = {f"{f.kind}-model": {"provider": f"p_{f.kind}", "model": f"{f.kind}-upstream"} for f in fakes}
    models["broken"] = {"provider": "down", "model": "nothing"}
    return {"providers": providers, "models": models}


def test_check_command_prints_a_table_and_fails_when_a_model_is_down(make_fake):
    fakes = [make_fake(kind) for kind in ("openai", "anthropic", "gemini")]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "config.json")
        with open(path, "w") as f:
            json.dump(config_for(fakes), f)
        run = subprocess.run([BINARY, "check", "--config", path], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines()[1:]}
    for kind in ("openai", "anthropic", "gemini"):
        assert " yes " in lines[f"{kind}-model"], run.stdout
    assert " no " in lines["broken"]
    assert all(len(f.requests) == 1 for f in fakes)
    assert "test-key" not in run.stdout + run.stderr


def test_deep_health_reports_each_model(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = make_gateway(config=config_for([fake]))
    r = requests.get(gw.base_url + "/health?deep=1", timeout=60)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded"
    by_model = {m["model"]: m for m in body["models"]}
    assert by_model["openai-model"]["available"] is True
    assert by_model["openai-model"]["latency_ms"] >= 0
    assert by_model["broken"]["available"] is False and by_model["broken"]["error"]
    assert requests.get(gw.base_url + "/health", timeout=10).json() == {"status": "ok"}


def test_check_with_mock_passes():
    run = subprocess.run([BINARY, "check", "--mock"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert "mock-gpt" in run.stdout and " yes " in run.stdout


def test_deep_health_asks_each_model_once_per_period_however_many_callers(make_fake, make_gateway):
    from fake_providers import Behaviour
    fake = make_fake("openai")
    fake.default = Behaviour(delay=0.5)  # long enough for every caller to arrive while it runs
    config = {"server": {"health_cache_seconds": 300},
              "providers": {"up": {"type": "openai", "base_url": fake.base_url, "api_key": fake.api_key}},
              "models": {"a": {"provider": "up", "model": "model-a"}, "b": {"provider": "up", "model": "model-b"}}}
    gw = make_gateway(config=config)

    def deep(_):
        r = requests.get(gw.base_url + "/health?deep=1", timeout=60)
        assert r.status_code == 200, r.text
        return sorted(m["model"] for m in r.json()["models"])

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        assert list(pool.map(deep, range(12))) == [["a", "b"]] * 12
    for _ in range(5):
        assert deep(None) == ["a", "b"]
    assert sorted(r.body["model"] for r in fake.chat_requests()) == ["model-a", "model-b"]
    assert requests.get(gw.base_url + "/health", timeout=10).json() == {"status": "ok"}


def test_deep_health_with_period_zero_asks_anew_each_time(make_fake, make_gateway):
    fake = make_fake("openai")
    config = {"server": {"health_cache_seconds": 0},
              "providers": {"up": {"type": "openai", "base_url": fake.base_url, "api_key": fake.api_key}},
              "models": {"a": {"provider": "up", "model": "model-a"}}}
    gw = make_gateway(config=config)
    for _ in range(3):
        assert requests.get(gw.base_url + "/health?deep=1", timeout=60).status_code == 200
    assert len(fake.chat_requests()) == 3  # nothing reused: each call after the last one ended asks again
