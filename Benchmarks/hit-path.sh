#!/usr/bin/env bash
# Cache-hit throughput and latency of UltraGate vs nginx serving a fixed JSON body, same machine,
# same run, same wrk settings. Prints both and the ratio.
#   Benchmarks/hit-path.sh [duration_seconds=10] [connections=64] [threads=1]
# Ports: UG_PORT (default 18080) and NG_PORT (default 18081); run-all.sh passes free ones.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
UG_PORT="${UG_PORT:-18080}"; NG_PORT="${NG_PORT:-18081}"
DURATION="${1:-10}"; CONNS="${2:-64}"; WRK_THREADS="${3:-1}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
command -v nginx >/dev/null || { apt-get install -y -qq nginx-light >/dev/null; }
./scripts/ensure-deps.sh
swift build -c release --product ultragate >&2

TMP=$(mktemp -d)
trap 'kill $UG_PID $NG_PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
render Benchmarks/nginx.conf "$TMP/nginx.conf" "127.0.0.1:18081=127.0.0.1:$NG_PORT" "/tmp/ultragate-bench-nginx.pid=$TMP/nginx.pid"
./.build/release/ultragate serve --port "$UG_PORT" --cache-dir "$TMP/cache" --mock --threads "${UG_THREADS:-1}" 2>"$TMP/ug.log" &
UG_PID=$!
nginx -c "$TMP/nginx.conf" -p "$TMP" &
NG_PID=$!
wait_port "$UG_PORT"; wait_port "$NG_PORT"
# Warm: the first request is a miss that fills the cache.
wrk -t1 -c1 -d1s -s Benchmarks/chat-post.lua http://127.0.0.1:$UG_PORT/v1/chat/completions >/dev/null

run() { wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$2" "$1"; }
echo "== nginx (fixed JSON body)"; NG=$(run http://127.0.0.1:$NG_PORT/ Benchmarks/chat-post.lua); echo "$NG"
echo "== ultragate (cache hit, 2 KB request)"; UG=$(run http://127.0.0.1:$UG_PORT/v1/chat/completions Benchmarks/chat-post.lua); echo "$UG"
rps() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
p99() { echo "$1" | awk '$1=="99%" {print $2}'; }
echo
echo "nginx:     $(rps "$NG") req/s, p99 $(p99 "$NG")"
echo "ultragate: $(rps "$UG") req/s, p99 $(p99 "$UG")"
awk -v a="$(rps "$UG")" -v b="$(rps "$NG")" 'BEGIN { printf "ratio ultragate/nginx: %.2f\n", a / b }'
