#!/usr/bin/env bash
# Orchestration overhead of a 3-member ensemble: the gateway's own time for the request
# (Server-Timing `total`) minus (slowest member call + synthesis call), both as measured around
# the upstream calls and reported in the `ultra` detail. Members and synthesizer are mock models
# with a fixed latency; every request has a new prompt, so each one is a full miss (members called,
# answers stored, synthesis called). Reports p50/p90/p99/max in ms.
#
#   Benchmarks/ensemble-overhead.sh [requests=300] [member_latency_ms=20]
# Uses $ULTRAGATE_BIN, else builds and uses the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
LATENCY=${2:-20}
BIN=${ULTRAGATE_BIN:-}
if [ -z "$BIN" ]; then
  swift build -c release --product ultragate >/dev/null
  BIN=.build/release/ultragate
fi
TMP=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
cat > "$TMP/config.json" <<JSON
{
  "mock": {"latency_ms": $LATENCY},
  "retry": {"max_attempts": 1},
  "models": {
    "m1": {"provider": "mock", "model": "mock-gpt"},
    "m2": {"provider": "mock", "model": "mock-claude"},
    "m3": {"provider": "mock", "model": "mock-gemini"},
    "council": {"ensemble": ["m1", "m2", "m3"], "synthesizer": "m2"}
  }
}
JSON
"$BIN" serve --port 0 --cache-dir "$TMP/cache" --config "$TMP/config.json" 2> "$TMP/log" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$TMP/log" 2>/dev/null && break; sleep 0.05; done
PORT=$(grep -o 'listening on http://[^ ]*' "$TMP/log" | sed 's/.*://')
python3 - "$PORT" "$N" "$LATENCY" <<'PY'
import http.client, json, re, sys, time
port, n, latency = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
overheads, totals, clients = [], [], []
for i in range(n + 20):
    body = json.dumps({"model": "council", "messages": [{"role": "user", "content": f"question {i} {time.time()}"}]})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read())
    client_ms = (time.perf_counter() - t0) * 1000
    assert r.status == 200, data
    total = float(re.search(r"total;dur=([0-9.]+)", r.getheader("Server-Timing")).group(1))
    ultra = data["ultra"]
    assert ultra["is_synthesized"] and all(m["status"] == "ok" and not m["cached"] for m in ultra["members"])
    critical = max(m["latency_ms"] for m in ultra["members"]) + ultra["synthesis_latency_ms"]
    if i >= 20:  # warm-up
        overheads.append(total - critical)
        totals.append(total)
        clients.append(client_ms)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
print(f"3-member ensemble, mock latency {latency:g} ms per call, {n} full-miss requests")
print("overhead = Server-Timing total - (slowest member + synthesis), ms")
for name, xs in [("overhead", overheads), ("server total", totals), ("client total", clients)]:
    print(f"  {name:13s} p50 {pct(xs,50):7.3f}  p90 {pct(xs,90):7.3f}  p99 {pct(xs,99):7.3f}  max {max(xs):7.3f}")
PY
