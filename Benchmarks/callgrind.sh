#!/usr/bin/env bash
# Instructions per request of one or more release binaries under callgrind, the measure that holds
# on a shared, noisy machine (instruction counts do not depend on what else runs).
#   Benchmarks/callgrind.sh [N] BIN [BIN...]      (CALLGRIND_KEEP=DIR keeps the dumps)
# For each binary (a copy with `strip -g`, whose debug info valgrind can read): a gateway (1 loop thread) in front of the nginx fake upstream
# (nginx-upstream.conf) runs under `valgrind --tool=callgrind`; after a warm-up, the counters are
# zeroed, N requests are sent at c=1 and the counters dumped: non-streaming misses (each prompt
# unique), streaming misses, hits, and non-streaming misses on an answer that lacks what OpenAI's
# schema requires (`sparse`: filled in, usage estimated). Prints instructions per request for each.
# CALLGRIND_KINDS="json sparse" measures only those. Two more kinds measure what access control
# costs a hit: `hitopen` (no auth, the same Authorization header sent) and `hitkey` (a master key
# set, the request carries a virtual key); `msgjson` and `msgsse` are the misses of `json` and `sse`
# through the Anthropic Messages pass-through.
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/lib.sh
N=1000
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then N=$1; shift; fi
[ $# -ge 1 ] || { echo "usage: $0 [N] BIN [BIN...]" >&2; exit 2; }
command -v valgrind >/dev/null && command -v nginx >/dev/null || { echo "needs valgrind and nginx" >&2; exit 2; }

TMP=$(mktemp -d)
PIDS=()
trap bench_cleanup EXIT
UP_JSON=$(free_port); UP_SSE=$(free_port)
render Benchmarks/nginx-upstream.conf "$TMP/nginx.conf" 18082="$UP_JSON" 18083="$UP_SSE" \
  /tmp/ultragate-bench-nginx-upstream.pid="$TMP/nginx.pid"
nginx -c "$TMP/nginx.conf" -p "$TMP" &
PIDS+=($!)
wait_port "$UP_JSON"

total_ir() {  # the summed `summary:` / `totals:` line of a callgrind dump
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

for original in "$@"; do
  # valgrind cannot read the debug info of these binaries: measure a stripped copy.
  bin="$TMP/ultragate-$(basename "$(dirname "$(dirname "$(dirname "$original")")")")-$RANDOM"
  cp "$original" "$bin" && strip -g "$bin"
  for kind in ${CALLGRIND_KINDS:-json sse hit sparse}; do
    port=$(free_port)
    up=$UP_JSON; stream=""; mode=miss; path=/v1
    [ "$kind" = sse ] && { up=$UP_SSE; stream="--stream"; }
    [ "$kind" = sparse ] && path=/sparse/v1
    # msgjson / msgsse: the Messages pass-through (anthropic provider, `ultragate bench --api messages`).
    type=openai; api=chat
    case $kind in msg*) type=anthropic; api=messages; path="" ;; esac
    [ "$kind" = msgsse ] && { up=$UP_SSE; stream="--stream"; }
    [ "$kind" = hit ] || [ "$kind" = hitopen ] || [ "$kind" = hitkey ] && mode=hit
    cat > "$TMP/config.json" <<EOF
{"server": {"host": "127.0.0.1", "port": $port, "threads": 1},
 "providers": {"upstream": {"type": "$type", "base_url": "http://127.0.0.1:$up$path", "api_key": "sk-bench",
                            "retry": {"max_attempts": 1}}},
 "models": {"gpt-bench": {"provider": "upstream", "model": "gpt-bench"}}, "access_log": false}
EOF
    rm -rf "$TMP/cache" "$TMP"/callgrind.out.*
    key=""; master=""
    if [ "$kind" = hitkey ] || [ "$kind" = hitopen ]; then
      key=$("$bin" keys create --name bench --team perf --cache-dir "$TMP/cache" --json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
      [ "$kind" = hitkey ] && master=$(openssl rand -hex 24)
    fi
    ULTRAGATE_MASTER_KEY="$master" valgrind --tool=callgrind ${CALLGRIND_OPTIONS:-} --callgrind-out-file="$TMP/callgrind.out.%p" \
      "$bin" serve --config "$TMP/config.json" --cache-dir "$TMP/cache" 2> "$TMP/gw.log" &
    vg=$!
    for _ in $(seq 300); do grep -q "listening on" "$TMP/gw.log" && break; sleep 0.1; done
    "$bin" bench --url "http://127.0.0.1:$port/v1" --model gpt-bench --api "$api" --mode "$mode" $stream -n 100 -c 1 \
      ${key:+--api-key "$key"} --timeout 30 --no-progress > /dev/null
    callgrind_control -z "$vg" > /dev/null 2>&1
    "$bin" bench --url "http://127.0.0.1:$port/v1" --model gpt-bench --api "$api" --mode "$mode" $stream -n "$N" -c 1 \
      ${key:+--api-key "$key"} --timeout 30 --no-progress --json > "$TMP/bench.json"
    callgrind_control -d "$vg" > /dev/null 2>&1
    kill -TERM "$vg"; wait "$vg" 2>/dev/null || true
    ok=$(json_get "$TMP/bench.json" 'j["succeeded"]')
    dump=$(ls "$TMP"/callgrind.out.*.1 2>/dev/null | head -1)
    ir=$(total_ir "$dump")
    # CALLGRIND_KEEP=DIR keeps each dump there, for callgrind_annotate.
    [ -n "${CALLGRIND_KEEP:-}" ] && mkdir -p "$CALLGRIND_KEEP" && cp "$dump" "$CALLGRIND_KEEP/$(basename "$bin")-$kind.out"
    printf '%s\t%-6s\t%s ok of %s\t%d instructions/request\n' "$original" "$kind" "$ok" "$N" $(( ir / N ))
  done
done
