#!/usr/bin/env bash
# Every UltraGate benchmark, each against a baseline measured in the same run, loopback only,
# a few minutes in all. Free ports are picked at random; every process started is stopped on exit.
#   Benchmarks/run-all.sh [seconds_per_measurement=5]
# Results are also written as JSON to $RESULTS (default /tmp/ultragate-bench-results.json).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
DUR="${1:-5}"
RESULTS="${RESULTS:-/tmp/ultragate-bench-results.json}"
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx" >&2; exit 1; }
bench_setup  # UG, TMP, PIDS, $TMP/curl-forwarder (the libcurl floor, Benchmarks/floor/)
started=$(date +%s)

bench() { "$UG" bench --no-progress --json --threads 1 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
diffms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t ? "met" : "MISSED") }'; }
# noworse A B: A is no worse than B, within the noise of a shared machine (20 % and 0.05 ms).
noworse() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b * 1.2 + 0.05 ? "met" : "MISSED") }'; }
declare -A R

# Fixed-body nginx (the hit-path baseline), the fake upstream (JSON and SSE) and an nginx reverse
# proxy in front of it (the "proxy floor": what forwarding alone costs on this machine).
NG_PORT=$(free_port); UP_JSON=$(free_port); UP_SSE=$(free_port); PX_JSON=$(free_port); PX_SSE=$(free_port)
mkdir -p "$TMP/ng" "$TMP/up" "$TMP/px"
render Benchmarks/nginx.conf "$TMP/ng/nginx.conf" "127.0.0.1:18081=127.0.0.1:$NG_PORT" "/tmp/ultragate-bench-nginx.pid=$TMP/ng/nginx.pid"
render Benchmarks/nginx-upstream.conf "$TMP/up/nginx.conf" "127.0.0.1:18082=127.0.0.1:$UP_JSON" "127.0.0.1:18083=127.0.0.1:$UP_SSE" \
  "/tmp/ultragate-bench-nginx-upstream.pid=$TMP/up/nginx.pid"
render Benchmarks/nginx-proxy.conf "$TMP/px/nginx.conf" "127.0.0.1:18082=127.0.0.1:$UP_JSON" "127.0.0.1:18083=127.0.0.1:$UP_SSE" \
  "127.0.0.1:18084=127.0.0.1:$PX_JSON" "127.0.0.1:18085=127.0.0.1:$PX_SSE" "/tmp/ultragate-bench-nginx-proxy.pid=$TMP/px/nginx.pid"
nginx -c "$TMP/ng/nginx.conf" -p "$TMP/ng" & PIDS+=($!)
nginx -c "$TMP/up/nginx.conf" -p "$TMP/up" & PIDS+=($!)
nginx -c "$TMP/px/nginx.conf" -p "$TMP/px" & PIDS+=($!)
wait_port "$NG_PORT"; wait_port "$UP_JSON"; wait_port "$UP_SSE"; wait_port "$PX_JSON"; wait_port "$PX_SSE"

echo "== 0. load generator overhead: ultragate bench vs wrk, nginx fixed body, 64 connections, 1 thread each"
W=$(wrk -t1 -c64 -d"${DUR}s" -s Benchmarks/chat-post.lua "http://127.0.0.1:$NG_PORT/" | awk '/Requests\/sec/ {print $2}')
bench --url "http://127.0.0.1:$NG_PORT/v1" --prompts Benchmarks/prompts/hit-2k.jsonl -c 64 -d "$DUR" > "$TMP/b0.json"
B=$(json_get "$TMP/b0.json" 'j["throughput_rps"]')
R[client_wrk_rps]=$W; R[client_bench_rps]=$B
echo "wrk: $W req/s   ultragate bench: $B req/s   ratio bench/wrk: $(ratio "$B" "$W")"

echo; echo "== 1. hit path (Benchmarks/hit-path.sh, wrk, 64 connections)"
HIT=$(UG_PORT=$(free_port) NG_PORT=$(free_port) Benchmarks/hit-path.sh "$DUR" 64 1 2>/dev/null | tail -3)
echo "$HIT"
R[hit_ratio]=$(echo "$HIT" | awk '/ratio/ {print $3}')

echo; echo "== 1b. Responses API beside chat completions, hit and miss paths (Benchmarks/responses-path.sh, mock upstream)"
RESP=$(UG_BIN="$UG" UG_PORT=$(free_port) Benchmarks/responses-path.sh "$DUR" 64 2>/dev/null)
echo "$RESP"
R[responses_hit_ratio]=$(echo "$RESP" | awk '/^hit ratio/ {print $4}')
R[responses_miss_ratio]=$(echo "$RESP" | awk '/^miss ratio/ {print $4}')

# Gateway miss paths: each request unique (bench --mode miss), upstream = local nginx. miss_path asks
# MP_MODEL through MP_API (chat completions; sections 5 and 6 switch to the Messages pass-through).
MP_MODEL=gpt-bench; MP_API=chat
start_gateway() {  # config, port -> pid in GW_PID
  render "$1" "$TMP/gw-$2.json" "127.0.0.1:18082=127.0.0.1:$UP_JSON" "127.0.0.1:18083=127.0.0.1:$UP_SSE"
  "$UG" serve --config "$TMP/gw-$2.json" --port "$2" --cache-dir "$TMP/cache-$2" 2>"$TMP/gw-$2.log" & GW_PID=$!
  PIDS+=("$GW_PID")
  wait_port "$2"
}

miss_path() {  # label config upstream_port proxy_port stream_flag rates
  local label=$1 config=$2 up=$3 px=$4 stream=$5 rates=$6 port fl fl_pid c rate
  port=$(free_port); start_gateway "$config" "$port"
  fl=$(free_port); "$TMP/curl-forwarder" "$fl" "http://127.0.0.1:$up" & fl_pid=$!; PIDS+=("$fl_pid"); wait_port "$fl"
  bench --url "http://127.0.0.1:$port/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream -n 200 -c 8 > /dev/null  # warm connections
  bench --url "http://127.0.0.1:$px/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream -n 200 -c 8 > /dev/null
  bench --url "http://127.0.0.1:$fl/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream -n 200 -c 8 > /dev/null
  local key=latency_ms; [ -n "$stream" ] && key=ttft_ms
  # measure NAME ARGS...: the same bench at the upstream (direct), through nginx (proxy), through the
  # libcurl floor and through the gateway.
  measure() {
    local name=$1; shift
    bench --url "http://127.0.0.1:$up/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream "$@" -d "$DUR" > "$TMP/$label-direct-$name.json"
    bench --url "http://127.0.0.1:$px/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream "$@" -d "$DUR" > "$TMP/$label-proxy-$name.json"
    bench --url "http://127.0.0.1:$fl/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream "$@" -d "$DUR" > "$TMP/$label-floor-$name.json"
    bench --url "http://127.0.0.1:$port/v1" --model "$MP_MODEL" --api "$MP_API" --mode miss $stream "$@" -d "$DUR" > "$TMP/$label-gw-$name.json"
    local d50 d99 p50 p99 f50 f99 g50 g99 drps prps frps grps errs late
    d50=$(json_get "$TMP/$label-direct-$name.json" "j['$key']['p50']"); d99=$(json_get "$TMP/$label-direct-$name.json" "j['$key']['p99']")
    p50=$(json_get "$TMP/$label-proxy-$name.json" "j['$key']['p50']"); p99=$(json_get "$TMP/$label-proxy-$name.json" "j['$key']['p99']")
    f50=$(json_get "$TMP/$label-floor-$name.json" "j['$key']['p50']"); f99=$(json_get "$TMP/$label-floor-$name.json" "j['$key']['p99']")
    g50=$(json_get "$TMP/$label-gw-$name.json" "j['$key']['p50']"); g99=$(json_get "$TMP/$label-gw-$name.json" "j['$key']['p99']")
    drps=$(json_get "$TMP/$label-direct-$name.json" "j['throughput_rps']"); prps=$(json_get "$TMP/$label-proxy-$name.json" "j['throughput_rps']")
    frps=$(json_get "$TMP/$label-floor-$name.json" "j['throughput_rps']"); grps=$(json_get "$TMP/$label-gw-$name.json" "j['throughput_rps']")
    errs=$(json_get "$TMP/$label-gw-$name.json" "j['failed']"); late=$(json_get "$TMP/$label-gw-$name.json" "j.get('late_sends')")
    R[${label}_${name}_added_p50]=$(diffms "$g50" "$d50"); R[${label}_${name}_added_p99]=$(diffms "$g99" "$d99")
    R[${label}_${name}_proxy_added_p99]=$(diffms "$p99" "$d99"); R[${label}_${name}_floor_added_p99]=$(diffms "$f99" "$d99")
    echo "$name  ${key%_ms}: direct p50 $d50 p99 $d99 | nginx proxy p50 $p50 p99 $p99 | libcurl floor p50 $f50 p99 $f99 | gateway p50 $g50 p99 $g99 ms"
    echo "      added p50 / p99: nginx proxy $(diffms "$p50" "$d50") / ${R[${label}_${name}_proxy_added_p99]}, libcurl floor $(diffms "$f50" "$d50") / ${R[${label}_${name}_floor_added_p99]}, gateway ${R[${label}_${name}_added_p50]} / ${R[${label}_${name}_added_p99]} ms"
    echo "      throughput: direct $drps, proxy $prps, floor $frps, gateway $grps req/s; gateway errors: $errs, late sends: $late"
  }
  for c in 1 64; do measure "c$c" -c "$c"; done
  # Open loop (fixed offered rate, latency from each request's due time), 64 connections.
  for rate in $rates; do measure "r$rate" -c 64 --rate "$rate"; done
  kill "$GW_PID" "$fl_pid"; wait "$GW_PID" "$fl_pid" 2>/dev/null || true
}

echo; echo "== 2. miss path, non-streaming (gateway -> openai provider -> nginx JSON), unique prompts"
miss_path json Benchmarks/configs/miss-json.json "$UP_JSON" "$PX_JSON" "" "1000 5000"
echo "targets: added p99 < 0.1 ms at c=1: $(verdict "${R[json_c1_added_p99]}" 0.1) (libcurl floor $(verdict "${R[json_c1_floor_added_p99]}" 0.1)); < 2 ms at 64 connections: closed loop $(verdict "${R[json_c64_added_p99]}" 2) (libcurl floor $(verdict "${R[json_c64_floor_added_p99]}" 2)), open loop 1000/s $(verdict "${R[json_r1000_added_p99]}" 2), 5000/s $(verdict "${R[json_r5000_added_p99]}" 2)"

echo; echo "== 3. miss path, streaming (gateway -> openai provider -> nginx SSE), unique prompts"
miss_path sse Benchmarks/configs/miss-stream.json "$UP_SSE" "$PX_SSE" "--stream" "1000 2500"
echo "target: added TTFT p99 < 0.3 ms: c=1 $(verdict "${R[sse_c1_added_p99]}" 0.3) (libcurl floor $(verdict "${R[sse_c1_floor_added_p99]}" 0.3)), c=64 closed loop $(verdict "${R[sse_c64_added_p99]}" 0.3) (floor $(verdict "${R[sse_c64_floor_added_p99]}" 0.3)), open loop 1000/s $(verdict "${R[sse_r1000_added_p99]}" 0.3) (floor $(verdict "${R[sse_r1000_floor_added_p99]}" 0.3)), 2500/s $(verdict "${R[sse_r2500_added_p99]}" 0.3) (floor $(verdict "${R[sse_r2500_floor_added_p99]}" 0.3))"

echo; echo "== 4. gateway RSS with 1,000 concurrent streams (mock provider, 3 s streams)"
port=$(free_port); start_gateway Benchmarks/configs/rss-streams.json "$port"
sleep 0.3
idle=$(awk '/VmRSS/ {print $2}' /proc/$GW_PID/status)
bench --url "http://127.0.0.1:$port/v1" --model mock-gpt --mode miss --stream -c 1000 -n 1000 --timeout 30 > "$TMP/rss.json" &
BP=$!; PIDS+=("$BP")
peak=0
while kill -0 "$BP" 2>/dev/null; do
  r=$(awk '/VmRSS/ {print $2}' /proc/$GW_PID/status); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.1
done
wait "$BP" || true
hwm=$(awk '/VmHWM/ {print $2}' /proc/$GW_PID/status)
ok=$(json_get "$TMP/rss.json" 'j["succeeded"]'); ttft99=$(json_get "$TMP/rss.json" 'j["ttft_ms"]["p99"] if j["ttft_ms"] else "n/a"')
R[rss_idle_kb]=$idle; R[rss_peak_kb]=$peak; R[rss_hwm_kb]=$hwm
echo "idle $((idle / 1024)) MB, peak VmRSS $((peak / 1024)) MB, VmHWM $((hwm / 1024)) MB with 1000 streams ($ok completed, ttft p99 $ttft99 ms)"
echo "target < 100 MB: $(verdict "$((hwm / 1024))" 100) (ratio to target $(ratio "$hwm" 102400))"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo; echo "== 5. Messages pass-through miss path, non-streaming (gateway -> anthropic provider -> nginx Message JSON), unique prompts"
MP_MODEL=claude-bench; MP_API=messages
miss_path msg_json Benchmarks/configs/miss-messages-json.json "$UP_JSON" "$PX_JSON" "" "1000 5000"
echo "target: the pass-through adds no more than the chat path (section 2, same run), added p99: c=1 ${R[msg_json_c1_added_p99]} vs ${R[json_c1_added_p99]} ms $(noworse "${R[msg_json_c1_added_p99]}" "${R[json_c1_added_p99]}"); c=64 ${R[msg_json_c64_added_p99]} vs ${R[json_c64_added_p99]} ms here, minutes apart: section 6b compares them side by side"

echo; echo "== 6. Messages pass-through miss path, streaming (gateway -> anthropic provider -> nginx Message events), unique prompts"
miss_path msg_sse Benchmarks/configs/miss-messages-stream.json "$UP_SSE" "$PX_SSE" "--stream" "1000 2500"
echo "target: the pass-through adds no more than the chat path (section 3, same run), added TTFT p99: c=1 ${R[msg_sse_c1_added_p99]} vs ${R[sse_c1_added_p99]} ms $(noworse "${R[msg_sse_c1_added_p99]}" "${R[sse_c1_added_p99]}"); c=64 ${R[msg_sse_c64_added_p99]} vs ${R[sse_c64_added_p99]} ms here, minutes apart: section 6b compares them side by side"
MP_MODEL=gpt-bench; MP_API=chat

# At 64 connections the gateway is saturated and its p99 follows whatever else the machine does in
# those seconds: sections 2 and 5 run minutes apart. 6b asks one gateway for both APIs in turns.
echo; echo "== 6b. Messages pass-through vs chat at 64 connections, one gateway, in turns (Benchmarks/messages-path.sh, 3 rounds)"
for stream in "" --stream; do
  out=$(Benchmarks/messages-path.sh "$DUR" 3 64 $stream 2>&1 | grep -v '^Build\|^\[')
  echo "$out"
  R[msg_vs_chat_c64${stream:+_stream}]=$(echo "$out" | awk '/^target:/ {print $0}')
done

echo; echo "== 7. hit path, Messages vs chat completions (ultragate bench, 64 connections, one gateway with the mock provider)"
port=$(free_port)
"$UG" serve --port "$port" --cache-dir "$TMP/cache-hit-$port" --mock --threads 1 2>"$TMP/gw-hit.log" & GW_PID=$!; PIDS+=("$GW_PID")
wait_port "$port"
for api in chat messages; do  # the first request of each fills the cache; the rest warm the connections
  model=mock-gpt; [ "$api" = messages ] && model=mock-claude
  bench --url "http://127.0.0.1:$port/v1" --api "$api" --model "$model" -n 500 -c 8 > /dev/null
  bench --url "http://127.0.0.1:$port/v1" --api "$api" --model "$model" -c 64 -d "$DUR" > "$TMP/hit-$api.json"
  R[hit_${api}_rps]=$(json_get "$TMP/hit-$api.json" 'j["throughput_rps"]')
  R[hit_${api}_p50]=$(json_get "$TMP/hit-$api.json" "j['latency_ms']['p50']"); R[hit_${api}_p99]=$(json_get "$TMP/hit-$api.json" "j['latency_ms']['p99']")
  echo "$api: ${R[hit_${api}_rps]} req/s, latency p50 ${R[hit_${api}_p50]} p99 ${R[hit_${api}_p99]} ms, hit ratio $(json_get "$TMP/hit-$api.json" 'j["cache"]["hit_ratio"]')"
done
echo "target: a Messages hit costs no more than a chat hit: throughput ratio messages/chat $(ratio "${R[hit_messages_rps]}" "${R[hit_chat_rps]}"), p99 ${R[hit_messages_p99]} vs ${R[hit_chat_p99]} ms $(noworse "${R[hit_messages_p99]}" "${R[hit_chat_p99]}")"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo; echo "== 8. embeddings (Benchmarks/embeddings.sh): 1-item hit vs nginx, 256 items 90 % cached vs the 26 straight upstream, micro-batching"
Benchmarks/embeddings.sh "$DUR" > "$TMP/embeddings.out"
sed '/^emb_[a-z0-9_]*=/d' "$TMP/embeddings.out"
while IFS='=' read -r k v; do R[$k]=$v; done < <(grep '^emb_[a-z0-9_]*=' "$TMP/embeddings.out")

{ echo "{"; first=1; for k in "${!R[@]}"; do [ $first = 1 ] || echo ","; first=0; printf '  "%s": "%s"' "$k" "${R[$k]}"; done; echo; echo "}"; } > "$RESULTS"
echo; echo "all benchmarks done in $(( $(date +%s) - started )) s; figures in $RESULTS"
