#!/usr/bin/env bash
# Installs what UltraGate builds against when it is missing: libcurl (OpenSSL flavour) and LMDB
# development packages, and pkg-config. Debian/Ubuntu; uses sudo when not root.
set -euo pipefail
need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libcurl 2>/dev/null && [ -f /usr/include/x86_64-linux-gnu/curl/curl.h -o -f /usr/include/curl/curl.h ] || need+=(libcurl4-openssl-dev)
pkg-config --exists lmdb 2>/dev/null && [ -f /usr/include/lmdb.h ] || need+=(liblmdb-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
