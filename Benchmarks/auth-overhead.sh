#!/usr/bin/env bash
# What authentication costs on the cache-hit path: one gateway without auth and one with a master
# key, asked with a virtual key, same machine, same run, the same requests (both get the same
# `Authorization` header: an OpenAI client sends it whether or not the gateway checks it, so
# parsing the header is not what auth costs). KEY_FLAGS sets the key's limits (default: none, a
# plain key); e.g. KEY_FLAGS="--rpm 100000000 --tpm 2000000000 --budget 1000000" makes every check
# run. The figure is the gateway CPU time per request: what its threads ran (nanoseconds, from
# /proc/PID/task/*/schedstat).
#
#   [METHOD=paired|wrk] [ULTRAGATE_BIN=path] Benchmarks/auth-overhead.sh [seconds=20] [rounds=10] [batch or connections]
#
# METHOD=paired (default): both gateways run on the same CPU (taskset) and Benchmarks/paired-load.py,
# on the other CPU, writes BATCH (default 32) pipelined requests to each in turn and reads the
# answers, ROUNDS times SECONDS/ROUNDS. The two gateways do the same work at the same moments on
# the same core, so what the neighbours on this shared machine do hits both alike, and the client
# fixes the batching (which decides the system calls a request costs). Measured in turns or on
# separate CPUs instead, single rounds differed by -15 % to +78 %; this way by about ±1 %.
#
# METHOD=wrk: wrk at saturation (CONNS connections, default 64), both loaded at the same time,
# unpinned; rounds vary by tens of percent, so it takes many rounds to say anything.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
METHOD="${METHOD:-paired}"
DUR="${1:-20}"; ROUNDS="${2:-10}"
case "$METHOD" in
  paired) BATCH="${3:-32}"; command -v taskset >/dev/null || { echo "needs taskset (util-linux)" >&2; exit 1; } ;;
  wrk) CONNS="${3:-64}"; command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 1; } ;;
  *) echo "METHOD is paired or wrk" >&2; exit 2 ;;
esac
bench_setup
UG="${ULTRAGATE_BIN:-$UG}"
# Both gateways on the last CPU, the load on the others (one CPU: everything shares it).
LAST_CPU=$(( $(nproc) - 1 ))
GATEWAY_CPU=(); CLIENT_CPU=()
if [ "$METHOD" = paired ]; then
  GATEWAY_CPU=(taskset -c "$LAST_CPU")
  [ "$LAST_CPU" -gt 0 ] && CLIENT_CPU=(taskset -c "0-$((LAST_CPU - 1))")
fi
OPEN_PORT=$(free_port); AUTH_PORT=$(free_port)
MASTER=$(openssl rand -hex 24)
"${GATEWAY_CPU[@]}" "$UG" serve --port "$OPEN_PORT" --cache-dir "$TMP/open" --mock --threads 1 2>"$TMP/open.log" & PIDS+=($!)
# The key exists before the gateway starts; a running gateway would see it within a second anyway.
KEY=$("$UG" keys create --name bench --team perf ${KEY_FLAGS:-} --cache-dir "$TMP/auth" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
ULTRAGATE_MASTER_KEY="$MASTER" "${GATEWAY_CPU[@]}" "$UG" serve --port "$AUTH_PORT" --cache-dir "$TMP/auth" --mock --threads 1 2>"$TMP/auth.log" & PIDS+=($!)
OPEN_PID=${PIDS[0]}; AUTH_PID=${PIDS[1]}
wait_port "$OPEN_PORT"; wait_port "$AUTH_PORT"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$AUTH_PORT/v1/models")" = 200 ] \
  || { echo "the virtual key was refused" >&2; exit 1; }
echo "binary: $UG; method: $METHOD; key flags: ${KEY_FLAGS:-none}"

if [ "$METHOD" = paired ]; then
  # The body of Benchmarks/chat-post.lua: a fixed ~2 KB chat request, a hit after the first.
  python3 - "$TMP/body.json" <<'EOF'
import sys
filler = "The quick brown fox jumps over the lazy dog. " * 36
open(sys.argv[1], "w").write('{"model":"mock-gpt","temperature":0.2,"messages":[{"role":"system","content":"You are a benchmark. '
                             + filler + '"},{"role":"user","content":"Answer from the cache, please."}]}')
EOF
  OUT=$("${CLIENT_CPU[@]}" python3 Benchmarks/paired-load.py --seconds "$DUR" --rounds "$ROUNDS" --batch "$BATCH" \
    --body "$TMP/body.json" --header "Authorization: Bearer $KEY" \
    --target "no-auth=$OPEN_PORT:$OPEN_PID" --target "virtual-key=$AUTH_PORT:$AUTH_PID")
  echo "$OUT"
  MEDIAN=$(echo "$OUT" | awk '/^virtual-key vs no-auth:/ { sub("%", "", $4); print $4 }')
  awk -v d="$MEDIAN" 'BEGIN { printf "gateway CPU per request: auth adds %+.1f%% (median of the rounds; target < 5%%): %s\n", d, (d < 5 ? "met" : "MISSED") }'
  exit 0
fi

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f\n", t }'; }
run() {  # port key pid: prints "req/s µs-of-gateway-CPU-per-request"
  local before after out
  before=$(cpu_ns "$3")
  out=$(WRK_API_KEY="$2" wrk -t1 -c"$CONNS" -d"${PER_ROUND}s" -s Benchmarks/chat-post.lua "http://127.0.0.1:$1/v1/chat/completions")
  after=$(cpu_ns "$3")
  echo "$out" | awk -v t=$((after - before)) '/requests in/ {n=$1} /Requests\/sec/ {r=$2} END {printf "%s %.3f\n", r, t / n / 1e3}'
}
PER_ROUND=$(( DUR / ROUNDS > 0 ? DUR / ROUNDS : 1 ))
# Warm both (the first request is the miss that fills each cache).
run "$OPEN_PORT" "$KEY" "$OPEN_PID" >/dev/null
run "$AUTH_PORT" "$KEY" "$AUTH_PID" >/dev/null
OPEN=(); AUTH=(); OPEN_CPU=(); AUTH_CPU=(); PAIRED=()
for i in $(seq "$ROUNDS"); do
  run "$OPEN_PORT" "$KEY" "$OPEN_PID" >"$TMP/open.round" & OPEN_RUN=$!
  run "$AUTH_PORT" "$KEY" "$AUTH_PID" >"$TMP/auth.round" & AUTH_RUN=$!
  wait "$OPEN_RUN" "$AUTH_RUN"
  read -r r c <"$TMP/open.round"; OPEN+=("$r"); OPEN_CPU+=("$c")
  read -r r c <"$TMP/auth.round"; AUTH+=("$r"); AUTH_CPU+=("$c")
  PAIRED+=("$(awk -v a="${AUTH_CPU[-1]}" -v o="${OPEN_CPU[-1]}" 'BEGIN { printf "%.2f", (a - o) / o * 100 }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
MO=$(median "${OPEN[@]}"); MA=$(median "${AUTH[@]}"); CO=$(median "${OPEN_CPU[@]}"); CA=$(median "${AUTH_CPU[@]}")
echo "no auth:      ${OPEN[*]} req/s (median $MO); CPU µs/request ${OPEN_CPU[*]} (median $CO)"
echo "virtual key:  ${AUTH[*]} req/s (median $MA); CPU µs/request ${AUTH_CPU[*]} (median $CA)"
awk -v a="$MA" -v o="$MO" 'BEGIN { printf "throughput: auth costs %.1f%%\n", (o - a) / o * 100 }'
MP=$(median "${PAIRED[@]}")
echo "gateway CPU per request, each round's auth run against its no-auth run: ${PAIRED[*]} %"
awk -v d="$MP" 'BEGIN { printf "gateway CPU per request: auth adds %+.1f%% (median of the rounds; target < 5%%): %s\n", d, (d < 5 ? "met" : "MISSED") }'
