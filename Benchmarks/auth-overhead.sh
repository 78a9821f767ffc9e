#!/usr/bin/env bash
# What authentication costs on the cache-hit path: one gateway without auth and one with a master
# key, asked with a virtual key (rpm/tpm limits and a budget, so every check runs), same machine,
# same run. The two are measured in alternation, ROUNDS times each, and the medians compared, so a
# noisy neighbour slows both alike.
#   Benchmarks/auth-overhead.sh [seconds=5] [rounds=3] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
DUR="${1:-5}"; ROUNDS="${2:-3}"; CONNS="${3:-64}"
command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 1; }
bench_setup
OPEN_PORT=$(free_port); AUTH_PORT=$(free_port)
MASTER=$(openssl rand -hex 24)
"$UG" serve --port "$OPEN_PORT" --cache-dir "$TMP/open" --mock --threads 1 2>"$TMP/open.log" & PIDS+=($!)
# The key exists before the gateway starts; a running gateway would see it within a second anyway.
KEY=$("$UG" keys create --name bench --team perf --rpm 100000000 --tpm 2000000000 --budget 1000000 \
  --budget-period 30d --cache-dir "$TMP/auth" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
ULTRAGATE_MASTER_KEY="$MASTER" "$UG" serve --port "$AUTH_PORT" --cache-dir "$TMP/auth" --mock --threads 1 2>"$TMP/auth.log" & PIDS+=($!)
wait_port "$OPEN_PORT"; wait_port "$AUTH_PORT"
run() { WRK_API_KEY="$2" wrk -t1 -c"$CONNS" -d"${DUR}s" -s Benchmarks/chat-post.lua "http://127.0.0.1:$1/v1/chat/completions" | awk '/Requests\/sec/ {print $2}'; }
# Warm both (the first request is the miss that fills each cache) and check the key works.
run "$OPEN_PORT" "" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$AUTH_PORT/v1/models")" = 200 ] \
  || { echo "the virtual key was refused" >&2; exit 1; }
run "$AUTH_PORT" "$KEY" >/dev/null
OPEN=(); AUTH=()
for i in $(seq "$ROUNDS"); do
  OPEN+=("$(run "$OPEN_PORT" "")"); AUTH+=("$(run "$AUTH_PORT" "$KEY")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
MO=$(median "${OPEN[@]}"); MA=$(median "${AUTH[@]}")
echo "no auth:           ${OPEN[*]} req/s (median $MO)"
echo "virtual key:       ${AUTH[*]} req/s (median $MA)"
awk -v a="$MA" -v o="$MO" 'BEGIN { d = (o - a) / o * 100; printf "auth costs %.1f%% of hit-path throughput (target < 5%%): %s\n", d, (d < 5 ? "met" : "MISSED") }'
