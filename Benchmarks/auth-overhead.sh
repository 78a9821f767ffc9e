#!/usr/bin/env bash
# What authentication costs on the cache-hit path: one gateway without auth and one with a master
# key, asked with a virtual key, same machine, same run. KEY_FLAGS sets the key's limits (default:
# none, a plain key); e.g. KEY_FLAGS="--rpm 100000000 --tpm 2000000000 --budget 1000000" makes every
# check run. The two are measured in alternation, ROUNDS times each, and the medians compared, so a
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
KEY=$("$UG" keys create --name bench --team perf ${KEY_FLAGS:-} --cache-dir "$TMP/auth" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
ULTRAGATE_MASTER_KEY="$MASTER" "$UG" serve --port "$AUTH_PORT" --cache-dir "$TMP/auth" --mock --threads 1 2>"$TMP/auth.log" & PIDS+=($!)
wait_port "$OPEN_PORT"; wait_port "$AUTH_PORT"
# Each run prints "req/s µs-of-gateway-CPU-per-request": CPU time (utime + stime from /proc) is
# what authentication adds; throughput on this shared 2-core machine swings with its neighbours.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {  # port key pid
  local before after out
  before=$(cpu_ticks "$3")
  out=$(WRK_API_KEY="$2" wrk -t1 -c"$CONNS" -d"${DUR}s" -s Benchmarks/chat-post.lua "http://127.0.0.1:$1/v1/chat/completions")
  after=$(cpu_ticks "$3")
  echo "$out" | awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    '/requests in/ {n=$1} /Requests\/sec/ {r=$2} END {printf "%s %.3f\n", r, t / hz / n * 1e6}'
}
OPEN_PID=${PIDS[0]}; AUTH_PID=${PIDS[1]}
# Warm both (the first request is the miss that fills each cache) and check the key works.
run "$OPEN_PORT" "" "$OPEN_PID" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$AUTH_PORT/v1/models")" = 200 ] \
  || { echo "the virtual key was refused" >&2; exit 1; }
run "$AUTH_PORT" "$KEY" "$AUTH_PID" >/dev/null
OPEN=(); AUTH=(); OPEN_CPU=(); AUTH_CPU=(); PAIRED=()
for i in $(seq "$ROUNDS"); do
  # The same requests to both: an OpenAI client sends its Authorization header whether or not the
  # gateway checks it, so parsing the header is not what auth costs. They take turns going first.
  if [ $((i % 2)) = 1 ]; then
    read -r r c < <(run "$OPEN_PORT" "$KEY" "$OPEN_PID"); OPEN+=("$r"); OPEN_CPU+=("$c")
    read -r r c < <(run "$AUTH_PORT" "$KEY" "$AUTH_PID"); AUTH+=("$r"); AUTH_CPU+=("$c")
  else
    read -r r c < <(run "$AUTH_PORT" "$KEY" "$AUTH_PID"); AUTH+=("$r"); AUTH_CPU+=("$c")
    read -r r c < <(run "$OPEN_PORT" "$KEY" "$OPEN_PID"); OPEN+=("$r"); OPEN_CPU+=("$c")
  fi
  # Each round's two runs are next to each other in time: their ratio is the least disturbed figure.
  PAIRED+=("$(awk -v a="${AUTH_CPU[-1]}" -v o="${OPEN_CPU[-1]}" 'BEGIN { printf "%.2f", (a - o) / o * 100 }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
MO=$(median "${OPEN[@]}"); MA=$(median "${AUTH[@]}"); CO=$(median "${OPEN_CPU[@]}"); CA=$(median "${AUTH_CPU[@]}")
echo "no auth:      ${OPEN[*]} req/s (median $MO); CPU µs/request ${OPEN_CPU[*]} (median $CO)"
echo "virtual key:  ${AUTH[*]} req/s (median $MA); CPU µs/request ${AUTH_CPU[*]} (median $CA)"
awk -v a="$MA" -v o="$MO" 'BEGIN { printf "throughput: auth costs %.1f%%\n", (o - a) / o * 100 }'
awk -v a="$CA" -v o="$CO" 'BEGIN { printf "gateway CPU per request, medians: auth adds %.1f%%\n", (a - o) / o * 100 }'
MP=$(median "${PAIRED[@]}")
echo "gateway CPU per request, each round's auth run against its no-auth run: ${PAIRED[*]} %"
awk -v d="$MP" 'BEGIN { printf "gateway CPU per request: auth adds %.1f%% (median of the rounds; target < 5%%): %s\n", d, (d < 5 ? "met" : "MISSED") }'
