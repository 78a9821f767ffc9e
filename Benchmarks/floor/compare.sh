#!/usr/bin/env bash
# One miss-path load, four ways side by side: straight at the fake upstream (direct), through an
# nginx reverse proxy, through the libcurl floor (curl-forwarder.c) and through the gateway, with
# each middle process's CPU per request (user and system, from /proc/PID/stat).
#   Benchmarks/floor/compare.sh json|stream [ultragate bench options...]    e.g. json -c 1 -d 5
set -euo pipefail
cd "$(dirname "$0")/../.."
source Benchmarks/lib.sh
KIND=${1:?json or stream}; shift
ARGS=("$@"); [ ${#ARGS[@]} -gt 0 ] || ARGS=(-c 1 -d 5)
bench_setup

UP_JSON=$(free_port); UP_SSE=$(free_port); PX_JSON=$(free_port); PX_SSE=$(free_port); FL=$(free_port); GW=$(free_port)
mkdir -p "$TMP/up" "$TMP/px"
render Benchmarks/nginx-upstream.conf "$TMP/up/nginx.conf" "127.0.0.1:18082=127.0.0.1:$UP_JSON" "127.0.0.1:18083=127.0.0.1:$UP_SSE" \
  "/tmp/ultragate-bench-nginx-upstream.pid=$TMP/up/nginx.pid"
render Benchmarks/nginx-proxy.conf "$TMP/px/nginx.conf" "127.0.0.1:18082=127.0.0.1:$UP_JSON" "127.0.0.1:18083=127.0.0.1:$UP_SSE" \
  "127.0.0.1:18084=127.0.0.1:$PX_JSON" "127.0.0.1:18085=127.0.0.1:$PX_SSE" "/tmp/ultragate-bench-nginx-proxy.pid=$TMP/px/nginx.pid"
nginx -c "$TMP/up/nginx.conf" -p "$TMP/up" & PIDS+=($!)
nginx -c "$TMP/px/nginx.conf" -p "$TMP/px" & PX_PID=$!; PIDS+=("$PX_PID")
UP=$UP_JSON; PX=$PX_JSON; STREAM=""; KEY=latency_ms
[ "$KIND" = stream ] && { UP=$UP_SSE; PX=$PX_SSE; STREAM=--stream; KEY=ttft_ms; }
"$TMP/curl-forwarder" "$FL" "http://127.0.0.1:$UP" & FL_PID=$!; PIDS+=("$FL_PID")
render "Benchmarks/configs/miss-$KIND.json" "$TMP/gw.json" "127.0.0.1:18082=127.0.0.1:$UP_JSON" "127.0.0.1:18083=127.0.0.1:$UP_SSE"
"$UG" serve --config "$TMP/gw.json" --port "$GW" --cache-dir "$TMP/cache" 2>"$TMP/gw.log" & GW_PID=$!; PIDS+=("$GW_PID")
for p in "$UP" "$PX" "$FL" "$GW"; do wait_port "$p"; done
PX_WORKER=$(pgrep -P "$PX_PID" | head -1)

bench() { "$UG" bench --no-progress --json --threads 1 --model gpt-bench --mode miss $STREAM --url "http://127.0.0.1:$1/v1" "${@:2}"; }
for p in "$PX" "$FL" "$GW"; do bench "$p" -n 200 -c 8 > /dev/null; done  # warm connections
cpu() { if [ -n "$1" ]; then awk '{print $14, $15}' "/proc/$1/stat"; else echo 0 0; fi; }
measure() {  # name port [pid]
  local before after
  before=$(cpu "${3:-}"); bench "$2" "${ARGS[@]}" > "$TMP/$1.json"; after=$(cpu "${3:-}")
  echo "$before $after" > "$TMP/$1.cpu"
}
measure direct "$UP"; measure nginx "$PX" "$PX_WORKER"; measure floor "$FL" "$FL_PID"; measure gateway "$GW" "$GW_PID"
python3 - "$TMP" "$KEY" <<'PY'
import json, os, sys
tmp, key = sys.argv[1], sys.argv[2]
tick = 1e6 / os.sysconf("SC_CLK_TCK")
direct = json.load(open(f"{tmp}/direct.json"))[key]
for name in ["direct", "nginx", "floor", "gateway"]:
    j = json.load(open(f"{tmp}/{name}.json")); l = j[key]
    u0, s0, u1, s1 = map(int, open(f"{tmp}/{name}.cpu").read().split())
    n = max(1, j["succeeded"])
    cpu = "" if name == "direct" else f"  CPU/request user {(u1 - u0) * tick / n:.1f} system {(s1 - s0) * tick / n:.1f} µs"
    print(f"{name:8} {key[:-3]} p50 {l['p50']:.3f} p99 {l['p99']:.3f} ms  added p50 {l['p50'] - direct['p50']:+.3f} "
          f"p99 {l['p99'] - direct['p99']:+.3f}  {j['throughput_rps']:.0f} req/s  failed {j['failed']}{cpu}")
PY
