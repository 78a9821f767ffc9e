#!/usr/bin/env bash
# Builds the libFuzzer target for HTTPRequestParser (Tests/Fuzz/HTTPParserFuzzEntry.swift plus the
# HTTP and JSON sources it needs, compiled as one module) and runs it for N seconds (default 60).
# Usage: scripts/fuzz-http-parser.sh [seconds] [extra libFuzzer flags...]
# Crashes are written to .build/fuzz-http/ as crash-<hash>; replay one with
#   .build/fuzz-http/http-parser-fuzzer .build/fuzz-http/crash-<hash>
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.build/fuzz-http"
mkdir -p "$out/corpus"

# The parser's modules (HTTP syntax, JSON, support) compiled as one, without their imports of each other.
src="$out/src"
rm -rf "$src" && mkdir -p "$src"
for f in "$root"/Sources/UltraGateHTTP/Syntax/*.swift "$root"/Sources/UltraGateJSON/*.swift \
         "$root"/Sources/UltraGateSupport/*.swift "$root"/Tests/Fuzz/HTTPParserFuzzEntry.swift; do
    grep -v '^\(@testable \)\?import UltraGate' "$f" > "$src/$(basename "$f")"
done
echo "building the fuzzer (swiftc -O -wmo -sanitize=fuzzer,address)..."
swiftc -O -wmo -sanitize=fuzzer,address -parse-as-library -package-name UltraGate -module-name HTTPParserFuzz "$src"/*.swift \
    -o "$out/http-parser-fuzzer"

# Seed corpus: two control bytes (limits choice, split seed), then a request stream.
seed() { printf '%b' "$2" > "$out/corpus/seed-$1"; }
seed get '\x00\x07GET /v1/models?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n'
seed post '\x00\x03POST /v1/chat HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"model":"m"}'
seed chunked '\x00\x11POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4;e="v"\r\nabcd\r\n0\r\nT: 1\r\n\r\n'
seed pipeline '\x01\x02\r\nGET http://h/p HTTP/1.0\nConnection: keep-alive\n\nOPTIONS * HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nz'
seed connect '\x00\x05CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n'

cd "$out"
echo "fuzzing for ${seconds}s..."
exec ./http-parser-fuzzer -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
    -print_final_stats=1 "$@" corpus
