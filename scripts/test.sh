#!/usr/bin/env bash
# Builds UltraGate and runs every test: the Swift unit and integration tests, then the
# end-to-end tests that drive the real binary with the official `openai` Python SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import openai, jsonschema, prometheus_client, pytest, yaml" >/dev/null 2>&1; then
  echo "installing Python test dependencies" >&2
  "$PYTHON" -m pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt
fi

swift build --build-tests
swift test --skip-build
export ULTRAGATE_BIN="$PWD/.build/debug/ultragate"
"$PYTHON" -m pytest -q Tests/e2e
