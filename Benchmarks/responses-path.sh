#!/usr/bin/env bash
# The Responses API beside chat completions, same gateway, same run, same wrk settings: the
# cache-hit path and the miss path (built-in mock upstream, so the gateway's own work is what
# differs: translation to the hub and back, the Response object, the stored response).
#   Benchmarks/responses-path.sh [duration_seconds=5] [connections=64]
# Prints req/s and p99 for each and the responses/chat ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
DURATION="${1:-5}"; CONNS="${2:-64}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
UG_BIN="${UG_BIN:-./.build/release/ultragate}"
[ -x "$UG_BIN" ] || swift build -c release --product ultragate >&2
PORT="${UG_PORT:-$(free_port)}"
TMP=$(mktemp -d)
trap 'kill $UG_PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
"$UG_BIN" serve --port "$PORT" --cache-dir "$TMP/cache" --mock 2>"$TMP/ug.log" & UG_PID=$!
wait_port "$PORT"

run() {  # api path mode
  WRK_API=$1 WRK_MODE=$3 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s Benchmarks/responses-post.lua "http://127.0.0.1:$PORT$2"
}
rps() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
p99() { echo "$1" | awk '$1=="99%" {print $2}'; }
for mode in hit miss; do
  # Warm: the first request of the hit path fills the cache.
  WRK_API=chat WRK_MODE=$mode wrk -t1 -c1 -d1s -s Benchmarks/responses-post.lua "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null
  WRK_API=responses WRK_MODE=$mode wrk -t1 -c1 -d1s -s Benchmarks/responses-post.lua "http://127.0.0.1:$PORT/v1/responses" >/dev/null
  CHAT=$(run chat /v1/chat/completions "$mode")
  RESP=$(run responses /v1/responses "$mode")
  echo "$mode chat:      $(rps "$CHAT") req/s, p99 $(p99 "$CHAT")"
  echo "$mode responses: $(rps "$RESP") req/s, p99 $(p99 "$RESP")"
  awk -v a="$(rps "$RESP")" -v b="$(rps "$CHAT")" -v m="$mode" 'BEGIN { printf "%s ratio responses/chat: %.2f\n", m, a / b }'
done
