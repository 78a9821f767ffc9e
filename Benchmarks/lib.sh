# Helpers shared by the benchmark scripts (sourced, not run).

# A TCP port on 127.0.0.1 that nothing uses (other agents share this machine). Picked below the
# kernel's ephemeral range, and checked against sockets in every state: a port some open
# connection holds as its local end cannot be bound either.
free_port() {
  local p low
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  while :; do
    p=$(( 10000 + RANDOM % (low - 10000) ))
    ss -tan "( sport = :$p )" 2>/dev/null | grep -q ":$p " || { echo "$p"; return; }
  done
}

# render FILE OUT OLD=NEW...: copies FILE to OUT replacing each literal OLD with NEW.
render() {
  local src="$1" out="$2"; shift 2
  cp "$src" "$out"
  local pair
  for pair in "$@"; do sed -i "s|${pair%%=*}|${pair#*=}|g" "$out"; done
}

# wait_port PORT: waits up to 5 s for something to listen on PORT.
wait_port() {
  local i
  for i in $(seq 50); do
    ss -ltn "( sport = :$1 )" 2>/dev/null | grep -q ":$1 " && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; return 1
}

# json_get FILE EXPR: a value from a JSON report, EXPR being a Python expression on `j`.
json_get() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

# bench_setup: builds the release gateway (UG), makes a temp dir (TMP) removed on exit with every
# process whose pid is added to PIDS, and compiles the libcurl floor to $TMP/curl-forwarder.
bench_setup() {
  swift build -c release --product ultragate >&2
  UG=./.build/release/ultragate
  TMP=$(mktemp -d)
  PIDS=()
  trap bench_cleanup EXIT
  local cc=${CC:-$(command -v cc || command -v clang)}
  "$cc" -O2 -o "$TMP/curl-forwarder" Benchmarks/floor/curl-forwarder.c -lcurl
}

bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
