"""A stop signal (SIGTERM, SIGINT, SIGHUP) stops the gateway gracefully whenever it arrives after
the process started: during start-up before the port opens, the instant the port accepts, or
later. Each case is repeated, since the failures it guards against were races."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BINARY

RUNS = 20
SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_blocked(pid, sig):
    """Whether the gateway has blocked `sig` (its first act): the main thread's mask says so
    (/proc/PID/status `SigBlk`) or, once it waits for the signal in `sigwait` (which unblocks it in
    that thread meanwhile), the process has more threads than its first, all made after it."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    return int(fields["SigBlk"].strip(), 16) & (1 << (sig - 1)) != 0 or int(fields["Threads"].strip()) > 1


def port_accepts(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(tmp, port):
    return subprocess.Popen([BINARY, "serve", "--port", str(port), "--cache-dir", os.path.join(tmp, "cache")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_exit(proc, what):
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{what}: the gateway kept serving after the stop signal")
    return proc.returncode


def run_once(sig, moment):
    """Starts the gateway, sends `sig` at `moment`, and returns (exit code, stderr)."""
    with tempfile.TemporaryDirectory(prefix="ultragate-e2e-") as tmp:
        for _ in range(5):  # another process may take the free port first: pick a new one
            port = free_port()
            proc = start(tmp, port)
            deadline = time.time() + 20
            if moment == "start-up":
                # As soon as the process runs its own code (it blocks the stop signals first thing;
                # before that the dynamic loader is still mapping libraries, and a signal has its
                # default effect on any program). Still well before the port opens.
                while time.time() < deadline and proc.poll() is None and not has_blocked(proc.pid, sig):
                    pass
            else:
                while time.time() < deadline and proc.poll() is None and not port_accepts(port):
                    pass
            if proc.poll() is None:
                proc.send_signal(sig)
            code = wait_for_exit(proc, f"{sig.name} at {moment}")
            err = proc.stderr.read()
            if code == 1 and "bind" in err:
                continue
            return code, err
    pytest.fail("no free port")


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("moment", ["start-up", "port-open"])
def test_a_stop_signal_at_any_moment_of_start_up_stops_gracefully(sig, moment):
    for run in range(RUNS):
        code, err = run_once(sig, moment)
        assert code == 0, f"run {run}: {sig.name} at {moment} ended with {code} (negative: killed by the signal); stderr: {err}"
        assert "shutting down" in err, err
