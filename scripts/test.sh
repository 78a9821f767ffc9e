#!/usr/bin/env bash
# Builds UltraGate and runs every test: the Swift unit and integration tests, then the
# end-to-end tests that drive the real binary with the official `openai` and `anthropic` SDKs.
# Nothing is skipped: a test that would skip fails (ULTRAGATE_NO_SKIPS), and every e2e test has a
# time limit (Tests/e2e/pytest.ini).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
./scripts/ensure-test-deps.sh
PYTHON="${PYTHON:-python3}"

./scripts/check-layers.sh
swift build --build-tests
swift test --skip-build
# The static release binary, whose shared libraries the runtime image must provide.
swift build -c release --product ultragate --static-swift-stdlib
export ULTRAGATE_STATIC_BIN="$PWD/.build/release/ultragate"
export ULTRAGATE_BIN="$PWD/.build/debug/ultragate"
export ULTRAGATE_NO_SKIPS=1
"$PYTHON" -m pytest -q Tests/e2e
