#!/usr/bin/env bash
# /v1/embeddings benchmarks, each against a baseline measured in the same run, loopback only:
#   1. a 1-item embedding cache hit at 64 connections (wrk) vs nginx returning the same body
#      (target: at least 0.5x nginx's req/s);
#   2. a 256-item batch with 90 % of its items cached: the time the gateway adds over sending the 26
#      missing items straight to the upstream (nginx answering 26 embeddings), one connection; for
#      scale, nginx answering all 256 as a fixed body (what moving a 256-item answer costs alone);
#   3. micro-batching at 1,000 single-item requests/s (open loop, the mock provider taking 20 ms per
#      call): upstream calls per request and p50 latency with the 2 ms window vs without one.
#   Benchmarks/embeddings.sh [seconds_per_measurement=5]
# Ends with `key=value` lines (run-all.sh reads them). Every process started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
DUR="${1:-5}"
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx" >&2; exit 1; }
bench_setup  # UG, TMP, PIDS
bench() { "$UG" bench --no-progress --json --threads 1 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
diffms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }
declare -A E

start_gateway() {  # port cache_dir [serve args...] -> pid in GW_PID
  local port=$1 cache=$2; shift 2
  "$UG" serve --port "$port" --cache-dir "$cache" "$@" 2>"$TMP/gw-$port.log" & GW_PID=$!
  PIDS+=("$GW_PID")
  wait_port "$port"
}
stop_gateway() { kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true; }
# upstream_calls PORT: calls the gateway made to the mock's embedding model so far.
upstream_calls() {
  curl -s "http://127.0.0.1:$1/metrics" \
    | awk '/^ultragate_upstream_attempts_total\{provider="mock",model="mock-embedding"\}/ {print $2; f=1} END {if (!f) print 0}'
}

NG=$(free_port); U26=$(free_port); U230=$(free_port); U256=$(free_port)
mkdir -p "$TMP/emb/hit" "$TMP/emb/up26" "$TMP/emb/up230" "$TMP/emb/up256"
for n in 26 230 256; do python3 Benchmarks/embedding-body.py "$n" 1536 > "$TMP/emb/up$n/body.json"; done

echo "== embeddings 1. 1-item hit (1536 dimensions, base64) at 64 connections: gateway vs nginx with the same body"
port=$(free_port); start_gateway "$port" "$TMP/cache-hit" --mock --threads "${UG_THREADS:-1}"
for _ in 1 2; do  # a miss that fills the cache, then the hit whose body nginx serves
  curl -s -H 'Content-Type: application/json' -d @Benchmarks/prompts/embedding-hit.json \
    "http://127.0.0.1:$port/v1/embeddings" > "$TMP/emb/hit/body.json"
done
render Benchmarks/nginx-embeddings.conf "$TMP/emb/nginx.conf" "127.0.0.1:18086=127.0.0.1:$NG" "127.0.0.1:18087=127.0.0.1:$U26" \
  "127.0.0.1:18088=127.0.0.1:$U230" "127.0.0.1:18089=127.0.0.1:$U256" "@@DIR@@=$TMP/emb" "/tmp/ultragate-bench-nginx-embeddings.pid=$TMP/emb/nginx.pid"
# nginx's workers run as another user when started by root: let them read the bodies.
chmod a+x "$TMP"; chmod -R a+rX "$TMP/emb"
nginx -c "$TMP/emb/nginx.conf" -p "$TMP/emb" & PIDS+=($!)
wait_port "$NG"; wait_port "$U26"; wait_port "$U230"; wait_port "$U256"
for p in "$NG" "$U26" "$U230" "$U256"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$p/v1/embeddings")
  [ "$code" = 200 ] || { echo "nginx on port $p answers $code, not 200" >&2; exit 1; }
done
run_wrk() { wrk -t1 -c64 -d"${DUR}s" --latency -s Benchmarks/embedding-post.lua "$1"; }
NGOUT=$(run_wrk "http://127.0.0.1:$NG/v1/embeddings"); UGOUT=$(run_wrk "http://127.0.0.1:$port/v1/embeddings")
wrk_rps() { echo "$1" | awk '/Requests\/sec/ {print $2}'; }
for out in "$NGOUT" "$UGOUT"; do
  if echo "$out" | grep -q "Non-2xx"; then echo "$out" >&2; echo "wrk saw error answers" >&2; exit 1; fi
done
wrk_p99() { echo "$1" | awk '$1=="99%" {print $2}'; }
E[emb_hit_nginx_rps]=$(wrk_rps "$NGOUT"); E[emb_hit_rps]=$(wrk_rps "$UGOUT")
E[emb_hit_ratio]=$(ratio "${E[emb_hit_rps]}" "${E[emb_hit_nginx_rps]}")
echo "nginx ${E[emb_hit_nginx_rps]} req/s (p99 $(wrk_p99 "$NGOUT")), gateway ${E[emb_hit_rps]} req/s (p99 $(wrk_p99 "$UGOUT")), body $(wc -c < "$TMP/emb/hit/body.json") bytes"
echo "ratio gateway/nginx ${E[emb_hit_ratio]}; target >= 0.5: $(awk -v r="${E[emb_hit_ratio]}" 'BEGIN { print (r >= 0.5 ? "met" : "MISSED") }')"
stop_gateway

echo; echo "== embeddings 2. 256 items, 230 cached: gateway -> upstream (26 items) vs the 26 items straight to the upstream, 1 connection"
# The 230 repeating items are cached first through an upstream answering 230 embeddings (same
# provider and model, so the same item keys); then the gateway sends each request's 26 new ones.
render Benchmarks/configs/embeddings-batch.json "$TMP/emb-warm.json" "127.0.0.1:18087=127.0.0.1:$U230"
render Benchmarks/configs/embeddings-batch.json "$TMP/emb-batch.json" "127.0.0.1:18087=127.0.0.1:$U26"
port=$(free_port); start_gateway "$port" "$TMP/cache-batch" --config "$TMP/emb-warm.json"
bench --url "http://127.0.0.1:$port/v1" --model emb-bench --embeddings 230 --fresh 0 -n 1 -c 1 > "$TMP/emb-warm.out" \
  || { echo "warming the cache failed:" >&2; cat "$TMP/emb-warm.out" "$TMP/gw-$port.log" >&2; exit 1; }
stop_gateway
port=$(free_port); start_gateway "$port" "$TMP/cache-batch" --config "$TMP/emb-batch.json"
bench --url "http://127.0.0.1:$port/v1" --model emb-bench --embeddings 256 --fresh 26 -n 50 -c 1 > /dev/null  # warm connections
bench --url "http://127.0.0.1:$U26/v1" --model emb-bench --embeddings 26 --fresh 26 -d "$DUR" -c 1 > "$TMP/emb-direct.json"
bench --url "http://127.0.0.1:$U256/v1" --model emb-bench --embeddings 256 --fresh 26 -d "$DUR" -c 1 > "$TMP/emb-fixed256.json"
bench --url "http://127.0.0.1:$port/v1" --model emb-bench --embeddings 256 --fresh 26 -d "$DUR" -c 1 > "$TMP/emb-gw.json"
d50=$(json_get "$TMP/emb-direct.json" "j['latency_ms']['p50']"); d99=$(json_get "$TMP/emb-direct.json" "j['latency_ms']['p99']")
g50=$(json_get "$TMP/emb-gw.json" "j['latency_ms']['p50']"); g99=$(json_get "$TMP/emb-gw.json" "j['latency_ms']['p99']")
E[emb_batch_added_p50]=$(diffms "$g50" "$d50"); E[emb_batch_added_p99]=$(diffms "$g99" "$d99")
f50=$(json_get "$TMP/emb-fixed256.json" "j['latency_ms']['p50']"); f99=$(json_get "$TMP/emb-fixed256.json" "j['latency_ms']['p99']")
E[emb_batch_fixed256_added_p50]=$(diffms "$f50" "$d50")
echo "direct (26 items) p50 $d50 p99 $d99 ms | gateway (256 items, 230 cached) p50 $g50 p99 $g99 ms; gateway errors: $(json_get "$TMP/emb-gw.json" "j['failed']")"
echo "for scale: nginx answering 256 items as a fixed body p50 $f50 p99 $f99 ms (p50 ${E[emb_batch_fixed256_added_p50]} ms over the 26)"
echo "added by the gateway: p50 ${E[emb_batch_added_p50]} ms, p99 ${E[emb_batch_added_p99]} ms"
stop_gateway

echo; echo "== embeddings 3. micro-batching, 1,000 single-item requests/s (mock upstream 20 ms per call): window 2 ms vs none"
render Benchmarks/configs/embeddings-microbatch.json "$TMP/emb-window.json"
render Benchmarks/configs/embeddings-microbatch.json "$TMP/emb-nowindow.json" '"batch_window_ms": 2="batch_window_ms": 0'
for variant in window nowindow; do
  port=$(free_port); start_gateway "$port" "$TMP/cache-$variant" --config "$TMP/emb-$variant.json"
  bench --url "http://127.0.0.1:$port/v1" --model mock-embedding --embeddings 1 --mode miss -n 200 -c 16 > /dev/null  # warm
  before=$(upstream_calls "$port")
  bench --url "http://127.0.0.1:$port/v1" --model mock-embedding --embeddings 1 --mode miss --rate 1000 -c 64 -d "$DUR" > "$TMP/emb-$variant.json"
  after=$(upstream_calls "$port")
  n=$(json_get "$TMP/emb-$variant.json" "j['succeeded']")
  E[emb_${variant}_calls_per_request]=$(awk -v c="$((${after%.*} - ${before%.*}))" -v n="$n" 'BEGIN { printf "%.3f", (n ? c / n : 0) }')
  E[emb_${variant}_p50]=$(json_get "$TMP/emb-$variant.json" "j['latency_ms']['p50']")
  echo "$variant: $n requests, ${E[emb_${variant}_calls_per_request]} upstream calls per request, p50 ${E[emb_${variant}_p50]} ms, errors $(json_get "$TMP/emb-$variant.json" "j['failed']")"
  stop_gateway
done
E[emb_batching_call_ratio]=$(ratio "${E[emb_nowindow_calls_per_request]}" "${E[emb_window_calls_per_request]}")
E[emb_batching_added_p50]=$(diffms "${E[emb_window_p50]}" "${E[emb_nowindow_p50]}")
echo "batching: ${E[emb_batching_call_ratio]}x fewer upstream calls, p50 ${E[emb_batching_added_p50]} ms"

echo
for k in "${!E[@]}"; do echo "$k=${E[$k]}"; done
