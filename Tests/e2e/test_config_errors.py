"""A config file that cannot be used stops `ultragate serve` at start-up with exit code 2 and a
message naming the key; nothing is served half-configured."""
import json
import os
import subprocess
import tempfile

import pytest

from conftest import BINARY

CASES = [
    ("{not json", "not valid JSON"),
    ('{"server": {"port": 8080, "port": 9090}}', "duplicate key `port` at 'server.port'"),
    (json.dumps({"servr": {}}), "unknown config key `servr`"),
    # Every level is checked against the schema; the message names the key's full path.
    (json.dumps({"server": {"master_key": "sk-1"}}), "unknown config key `server.master_key`; `server` takes "),
    (json.dumps({"cache": {"directory": "/tmp/x"}}), "unknown config key `cache.directory`"),
    (json.dumps({"mock": {"latency": 5}}), "unknown config key `mock.latency`"),
    (json.dumps({"retry": {"attempts": 2}}), "unknown config key `retry.attempts`"),
    (json.dumps({"providers": {"openai": {"type": "openai", "retry": {"foo": 1}}}}),
     "unknown config key `providers.openai.retry.foo`"),
    (json.dumps({"providers": {"openai": {"type": "openai", "timeouts": {"read": 1}}}}),
     "unknown config key `providers.openai.timeouts.read`"),
    (json.dumps({"providers": {"openai": {"type": "openai", "apikey": "k"}}}), "unknown config key `providers.openai.apikey`"),
    (json.dumps({"providers": {"m": {"type": "mock"}}, "models": {"a": {"provider": "m", "fallback": []}}}),
     "unknown config key `models.a.fallback`"),
    (json.dumps({"providers": {"m": {"type": "mock"}}, "models": {"a": {"provider": "m", "price": {"inputs": 1}}}}),
     "unknown config key `models.a.price.inputs`"),
    (json.dumps({"providers": {"p": {"type": "openai", "retry": {"max_attempts": "3"}}}}),
     "providers.p.retry.max_attempts must be an integer"),
    (json.dumps({"providers": {"p": {"type": "openai", "timeouts": 5}}}), "providers.p.timeouts must be an object"),
    (json.dumps({"mock": {"enabled": "no"}}), "mock.enabled must be a boolean"),
    (json.dumps({"server": {"health_cache_seconds": "10"}}), "server.health_cache_seconds must be a number"),
    (json.dumps({"providers": {"m": {"type": "mock"}}, "models": {"a": {"provider": "m", "params": [1]}}}),
     "models.a.params must be an object"),
    (json.dumps({"server": {"port": "eighty"}}), "server.port must be an integer"),
    (json.dumps({"cache": {"commit_before_answer": "yes"}}), "cache.commit_before_answer must be a boolean"),
    (json.dumps({"providers": {"x": {"type": "bedrock"}}}), "providers.x.type"),
    (json.dumps({"providers": {"x": {"type": "azure"}}}), "providers.x.base_url is required for type azure"),
    (json.dumps({"providers": {"m": {"type": "mock"}}, "models": {"a": {"provider": "nope"}}}), "`nope` is not defined"),
    (json.dumps({"providers": {"m": {"type": "mock"}}, "models": {"a": {"provider": "m", "fallbacks": ["ghost"]}}}), "ghost"),
    (json.dumps({"providers": {"m": {"type": "mock"}},
                 "models": {"a": {"provider": "m", "model": "mock-gpt"}, "e": {"ensemble": ["a", "a"], "pattern": "poll"}}}),
     "models.e"),
    # Listed by /v1/models but unable to answer: an empty ensemble, and ensembles as members.
    (json.dumps({"providers": {"m": {"type": "mock"}}, "models": {"a": {"provider": "m"}, "empty": {"ensemble": []}}}),
     "models.empty.ensemble must name at least one model"),
    (json.dumps({"providers": {"m": {"type": "mock"}},
                 "models": {"a": {"provider": "m", "model": "mock-gpt"}, "selfref": {"ensemble": ["selfref", "a"]}}}),
     "models.selfref.ensemble names `selfref`, which is this ensemble itself"),
    (json.dumps({"providers": {"m": {"type": "mock"}},
                 "models": {"a": {"provider": "m", "model": "mock-gpt"}, "ok": {"ensemble": ["a", "a"]},
                            "outer": {"ensemble": ["ok", "a"]}}}),
     "models.outer.ensemble names `ok`, which is an ensemble; an ensemble cannot be a member of an ensemble"),
    (json.dumps({"providers": {"m": {"type": "mock"}},
                 "models": {"a": {"provider": "m", "model": "mock-gpt", "fallbacks": ["ok"]}, "ok": {"ensemble": ["a"]}}}),
     "models.a.fallbacks names `ok`, which is an ensemble; a fallback is a model, not an ensemble"),
    (json.dumps({"providers": {"m": {"type": "mock"}},
                 "models": {"a": {"provider": "m", "model": "mock-gpt"}, "ok": {"ensemble": ["a"], "synthesizer": "ghost"}}}),
     "models.ok.synthesizer names `ghost`, which is not a model"),
]


@pytest.mark.parametrize("text,message", CASES)
def test_bad_config_exits_2_naming_the_problem(text, message):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "config.json")
        with open(path, "w") as f:
            f.write(text)
        run = subprocess.run([BINARY, "serve", "--port", "0", "--cache-dir", os.path.join(tmp, "c"), "--config", path],
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr


def test_a_cache_dir_that_cannot_be_made_is_named_in_one_line():
    with tempfile.TemporaryDirectory() as tmp:
        taken = os.path.join(tmp, "a-file")
        open(taken, "w").close()
        run = subprocess.run([BINARY, "serve", "--port", "0", "--cache-dir", taken],
                             capture_output=True, text=True, timeout=30)
    assert run.returncode == 1, run.stderr
    [line] = [l for l in run.stderr.splitlines() if "cannot open the cache" in l]
    assert f"cannot open the cache in {taken} (`cache.dir`, `--cache-dir`): " in line
    assert "NSCocoaErrorDomain" not in run.stderr and "UserInfo" not in run.stderr


def test_params_are_free_form():
    """`models.NAME.params` is passed upstream as it is: any keys, nested too, start fine."""
    from conftest import Gateway
    config = {"providers": {"m": {"type": "mock"}},
              "models": {"a": {"provider": "m", "model": "mock-gpt", "params": {"anything": {"nested": [1]}, "top_k": 3}}}}
    g = Gateway(config=config)
    try:
        assert g.proc.poll() is None
    finally:
        g.close()
