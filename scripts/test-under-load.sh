#!/usr/bin/env bash
# Runs the timing-sensitive Swift suites N times in a row (default 5) while 8 busy loops compete
# for the CPU, to show they neither flake nor hang on a loaded machine. Build first
# (`swift build --build-tests`). Usage: scripts/test-under-load.sh [runs] [swift test --filter regex]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
filter="${2:-CurlTransportTests|CurlLoopTransportTests|BenchClientTests|ChunkStreamTests|ResponseCacheTests|EnsembleRunnerTests|LoopTimersTests|StreamFlushTests|GatewayIntegrationTests|FakeUpstreamServerTests|ConnectionAdmissionTests|UpstreamSizeLimitTests|UpstreamTimingTests}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in 1 2 3 4 5 6 7 8; do
  yes > /dev/null &
  pids+=($!)
done
for i in $(seq 1 "$runs"); do
  echo "run $i of $runs (8 busy loops)" >&2
  if ! timeout 900 swift test --skip-build --filter "$filter" > "/tmp/ultragate-load-run-$i.log" 2>&1; then
    grep -E "✘|error|failed" "/tmp/ultragate-load-run-$i.log" | head -40 >&2
    echo "run $i failed; full log: /tmp/ultragate-load-run-$i.log" >&2
    exit 1
  fi
  grep -E "Test run with" "/tmp/ultragate-load-run-$i.log" >&2 || true
done
echo "$runs passed, 0 failed"
