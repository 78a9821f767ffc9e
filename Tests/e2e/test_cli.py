"""The command line's own behaviour: `ultragate bench` with several models, repeated
single-value flags, and `ultragate cache stats|clear` on a directory that holds no cache."""
import json
import time
import os
import subprocess

import pytest

from conftest import BINARY, scrape


def run_cli(*args, timeout=120, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def requests_by_model(gw):
    family = scrape(gw)["ultragate_requests"]
    out = {}
    for s in family.samples:
        if s.name == "ultragate_requests_total" and s.labels["route"] == "/v1/chat/completions":
            out[s.labels["model"]] = out.get(s.labels["model"], 0) + s.value
    return out


def test_bench_runs_each_model_in_turn_and_reports_one_entry_per_model(gateway):
    url = gateway.base_url + "/v1"
    out = run_cli("bench", "--url", url, "--model", "mock-gpt", "--model", "mock-claude", "-n", "12", "-c", "2",
                  "--mode", "miss", "--json", "--no-progress")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [run["model"] for run in report["runs"]] == ["mock-gpt", "mock-claude"]
    assert all(run["requests"] == 12 and run["succeeded"] == 12 for run in report["runs"])
    # The gateway counts a request just after its answer went out: give the last one a moment.
    deadline = time.time() + 10
    while requests_by_model(gateway) != {"mock-gpt": 12, "mock-claude": 12} and time.time() < deadline:
        time.sleep(0.05)
    assert requests_by_model(gateway) == {"mock-gpt": 12, "mock-claude": 12}

    table = run_cli("bench", "--url", url, "-m", "mock-gpt", "--model=mock-gemini", "-n", "5", "--no-progress")
    assert table.returncode == 0, table.stderr
    [models] = [line for line in table.stdout.splitlines() if line.startswith("model ")]
    assert models.split() == ["model", "mock-gpt", "mock-gemini"]
    [counts] = [line for line in table.stdout.splitlines() if line.startswith("requests ")]
    assert counts.split() == ["requests", "5", "5"]
    deadline = time.time() + 10
    while requests_by_model(gateway).get("mock-gemini") != 5 and time.time() < deadline:
        time.sleep(0.05)
    assert requests_by_model(gateway)["mock-gemini"] == 5


def test_bench_with_one_model_keeps_its_report_shape(gateway):
    out = run_cli("bench", "--url", gateway.base_url + "/v1", "--model", "mock-claude", "-n", "3", "--json", "--no-progress")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "runs" not in report
    assert report["model"] == "mock-claude" and report["succeeded"] == 3


@pytest.mark.parametrize("args,flag", [
    (["bench", "--url", "http://127.0.0.1:9/v1", "-c", "2", "--concurrency", "3"], "--concurrency"),
    (["bench", "--url", "http://127.0.0.1:9/v1", "--url", "http://127.0.0.1:8/v1"], "--url"),
    (["bench", "--url", "http://127.0.0.1:9/v1", "-n", "5", "--requests=6"], "--requests"),
    (["serve", "--port", "0", "-p", "1"], "--port"),
    (["serve", "--config", "a.json", "--config", "b.json"], "--config"),
    (["cache", "stats", "--cache-dir", "a", "--cache-dir", "b"], "--cache-dir"),
    (["check", "--config", "a.json", "--config=b.json"], "--config"),
])
def test_a_repeated_single_value_flag_is_refused(args, flag, tmp_path):
    out = run_cli(*args, cwd=tmp_path)  # relative paths land there if a flag were taken
    assert out.returncode == 2, out.stderr
    assert f"{flag} was given more than once" in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("command", ["stats", "clear"])
def test_cache_commands_on_a_directory_without_a_cache_say_so_and_create_nothing(command, tmp_path):
    typo = tmp_path / "no-such-cache"
    out = run_cli("cache", command, "--cache-dir", str(typo))
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"cannot open the cache in {typo} (`cache.dir`, `--cache-dir`): no cache exists there" in out.stderr
    assert not typo.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    out = run_cli("cache", command, "--cache-dir", str(empty))
    assert out.returncode == 1 and "no cache exists there" in out.stderr
    assert list(empty.iterdir()) == []


def test_a_one_letter_relative_cache_directory_works(tmp_path):
    """`--cache-dir c` (relative, one character) once crashed Foundation's path handling."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ULTRAGATE_")}
    made = subprocess.run([BINARY, "keys", "create", "--name", "a", "--cache-dir", "c"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "c" / "data.mdb").exists()
    stats = subprocess.run([BINARY, "cache", "stats", "--cache-dir", "c"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=30)
    assert stats.returncode == 0, stats.stderr
