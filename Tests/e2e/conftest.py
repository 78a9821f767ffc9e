"""Fixtures for end-to-end tests: the real `ultragate` binary on an ephemeral loopback port,
with its LMDB cache in a temporary directory, driven by real clients."""
import copy
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import jsonschema
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("ULTRAGATE_BIN", str(ROOT / ".build" / "debug" / "ultragate"))
SCHEMAS = json.loads((Path(__file__).with_name("openai-schemas.json")).read_text())["schemas"]


#: Text that only a crashed Swift process writes to stderr.
CRASH_MARKERS = ("Fatal error:", "Current stack trace:", "Segmentation fault", "Illegal instruction",
                 "Stack dump:", "💣 Program crashed", "AddressSanitizer", "ThreadSanitizer", "double free")


def _openapi_to_jsonschema(node):
    """OpenAPI 3.0 `nullable: true` becomes a `null` branch; `$ref`s point into `$defs`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref":
                out["$ref"] = value.replace("#/components/schemas/", "#/$defs/")
            elif key in ("nullable", "x-oaiMeta", "x-oaiTypeLabel", "x-oaiExpandable", "example", "examples", "deprecated", "discriminator"):
                continue
            else:
                out[key] = _openapi_to_jsonschema(value)
        if node.get("nullable"):
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    return node


_DEFS = {name: _openapi_to_jsonschema(schema) for name, schema in SCHEMAS.items()}


def scrape(gateway, session=requests):
    """`/metrics`, parsed by the Prometheus client's parser: {family name: family}. With a
    `requests.Session`, every scrape goes over its one keep-alive connection."""
    r = session.get(gateway.base_url + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def scrape_until(gateway, ready, session=requests, timeout=2.0):
    """`scrape` again until `ready(families)` holds (or `timeout` passes; the caller's assertions
    then say what is missing): a request is counted when its exchange ends, which may be just
    after the client read its answer."""
    deadline = time.monotonic() + timeout
    families = scrape(gateway, session)
    while not ready(families) and time.monotonic() < deadline:
        time.sleep(0.02)
        families = scrape(gateway, session)
    return families


def validate(instance, schema_name):
    """Validates a response object against OpenAI's published schema of that name."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": _DEFS, "$ref": f"#/$defs/{schema_name}"}
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)


class Gateway:
    def __init__(self, args=(), env=None, cache_dir=None, config=None, unset=(), preexec_fn=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="ultragate-e2e-")
        self.cache_dir = cache_dir or os.path.join(self.tmp.name, "cache")
        self.config_path = None
        cmd = [BINARY, "serve", "--port", "0", "--cache-dir", self.cache_dir, *args]
        if config is not None:
            self.config_path = os.path.join(self.tmp.name, "config.json")
            Path(self.config_path).write_text(json.dumps(config))
            cmd += ["--config", self.config_path]
        full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        for name in unset:
            full_env.pop(name, None)
        full_env.update(env or {})
        self.killed = False
        self.hung_at_shutdown = False
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self.stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr, env=full_env, preexec_fn=preexec_fn)
        self.port = self._wait_for_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _wait_for_port(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            text = Path(self.stderr_path).read_text()
            m = re.search(r"listening on http://(?:\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d+)", text)
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"ultragate exited with {self.proc.returncode}: {text}")
            time.sleep(0.05)
        raise RuntimeError("ultragate did not start in time: " + Path(self.stderr_path).read_text())

    def log(self):
        return Path(self.stderr_path).read_text()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            if sig == signal.SIGKILL:
                self.killed = True
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.hung_at_shutdown = True
        return self.proc.returncode

    def close(self):
        """Stops the gateway and fails the owning test when it crashed, hung at shutdown or exited
        non-zero (a test that kills it on purpose with SIGKILL is exempt from the exit code check)."""
        exited_before = self.proc.poll() is not None
        code = self.stop()
        self.stderr.close()
        log = Path(self.stderr_path).read_text(errors="replace")
        self.tmp.cleanup()
        problems = []
        traces = [marker for marker in CRASH_MARKERS if marker in log]
        if traces:
            problems.append(f"crash trace in stderr ({', '.join(traces)})")
        if self.hung_at_shutdown:
            problems.append("did not stop within 30 s of SIGTERM")
        elif not self.killed and code != 0:
            problems.append(f"exited with {code}" + (" before the test ended" if exited_before else " at shutdown"))
        if problems:
            pytest.fail("ultragate: " + "; ".join(problems) + "\n--- stderr (last 4000 chars) ---\n" + log[-4000:],
                        pytrace=False)


@pytest.fixture
def gateway():
    g = Gateway()
    yield g
    g.close()


@pytest.fixture
def make_gateway():
    started = []

    def make(**kwargs):
        g = Gateway(**kwargs)
        started.append(g)
        return g

    yield make
    for g in started:
        g.close()


def deep_copy(x):
    return copy.deepcopy(x)


@pytest.fixture
def make_fake():
    """Starts fake providers (see fake_providers.py) speaking a real provider's wire format."""
    from fake_providers import FakeProvider
    fakes = []

    def make(kind, **kwargs):
        f = FakeProvider(kind, **kwargs)
        fakes.append(f)
        return f

    yield make
    for f in fakes:
        f.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ULTRAGATE_NO_SKIPS=1 (scripts/test.sh), a skipped test fails: CI must run everything."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("ULTRAGATE_NO_SKIPS") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped, but scripts/test.sh runs every test: {reason}"
