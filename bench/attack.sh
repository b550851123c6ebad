#!/usr/bin/env bash
# Issue 31: one bystander against one attacker at a time. Starts a release server on a
# fresh store (default settings, no access control), loads a small store through the API
# (50 leaders, one leader with 5,000 events and an unbounded feed of them), measures the
# bystander alone, then beside each attack, and prints a line per attack (see
# bench/src/bin/attack.rs for the columns and the attacks).
#
#   bench/attack.sh [-T seconds] [-a attack,attack,...]
#
# SERVER_BIN=path/to/entente-server runs another build of the server (an older commit's,
# for a before/after) against the same attacks.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=8 ATTACKS=
while getopts T:a: opt; do
  case $opt in T) SECS=$OPTARG ;; a) ATTACKS=$OPTARG ;; *) sed -n 8p "$0" >&2; exit 2 ;; esac
done
# 1,100 sockets on each side of the loopback.
ulimit -n 8192
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
SERVER_BIN=${SERVER_BIN:-$ROOT/target/release/entente-server}
OUT=$(mktemp -d /tmp/entente-attack.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$SERVER_BIN" --listen "127.0.0.1:$PORT" --data-dir "$OUT/store" \
  >"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); commit $(git -C "$ROOT" rev-parse --short HEAD); server $SERVER_BIN"
"$ROOT/target/release/entente-attack" --addr "127.0.0.1:$PORT" --pid "$PID" --secs "$SECS" \
  ${ATTACKS:+--attacks "$ATTACKS"}
echo "# server RSS at the end: $(awk '/VmRSS/ {print $2/1024 " MiB"}' "/proc/$PID/status")"
