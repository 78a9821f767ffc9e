#!/usr/bin/env bash
# Builds UltraGate (release) and runs the gateway. Arguments go to `ultragate serve`,
# e.g. ./scripts/run.sh --port 9000 --config ultragate.json
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
swift build -c release --product ultragate >&2
exec ./.build/release/ultragate serve "$@"
