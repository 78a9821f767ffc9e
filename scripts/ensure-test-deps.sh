#!/usr/bin/env bash
# Installs what the test suite needs beyond the build: promtool (Debian's `prometheus` package,
# for the alert and recording rules), readelf (binutils, for the static binary's libraries) and
# openssl (test CAs and certificates for the HTTPS fakes), then the Python test clients.
# Debian/Ubuntu; uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import openai, anthropic, google.genai, jsonschema, prometheus_client, pytest, pytest_timeout, yaml" >/dev/null 2>&1; then
  echo "installing Python test dependencies" >&2
  "$PYTHON" -m pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt
fi
