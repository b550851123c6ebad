#!/usr/bin/env bash
# How long entente-server takes from exec to its first answered call on an existing store,
# and what it holds then: the scale target's "opens and serves its first query", measured
# on the binary users run rather than in-process.
#
#   bench/coldstart.sh -d store_dir [-s server_binary] [-n rounds] [-i idle_seconds]
#
# Each round waits idle_seconds (default 25) first. On a VM whose host takes back freed
# memory, a start right after another is faster than one after the machine sat idle, and
# a real restart is usually the second kind. Make a 1M-event store with
#   cargo run --release -p entente-server --example scale -- 1000000 /tmp/scale1m
# (it holds participants p1..p1000), then: bench/coldstart.sh -d /tmp/scale1m
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVER=$ROOT/target/release/entente-server STORE= ROUNDS=3 IDLE=25
while getopts s:d:n:i: opt; do
  case $opt in
    s) SERVER=$OPTARG ;; d) STORE=$OPTARG ;; n) ROUNDS=$OPTARG ;; i) IDLE=$OPTARG ;;
    *) sed -n 6p "$0" >&2; exit 2 ;;
  esac
done
[ -n "$STORE" ] || { sed -n 6p "$0" >&2; exit 2; }
cargo build -q --release -p entente-server -p entente-client --manifest-path "$ROOT/Cargo.toml"
CLI=$ROOT/target/release/entente
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp /tmp/entente-coldstart.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -f "$LOG"' EXIT
for round in $(seq "$ROUNDS"); do
  sleep "$IDLE"
  start=$(date +%s.%N)
  RUST_LOG=warn "$SERVER" --listen "127.0.0.1:$PORT" --data-dir "$STORE" >"$LOG" 2>&1 &
  PID=$!
  # Any answer will do, "not found" included: the store is open and serving.
  until "$CLI" --server "http://127.0.0.1:$PORT" participant get p1 >/dev/null 2>&1 \
    || [ $? -eq 1 ]; do
    kill -0 $PID 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.01
  done
  end=$(date +%s.%N)
  rss=$(awk '/VmRSS/{print $2}' "/proc/$PID/status")
  printf 'coldstart round=%d first_answer_s=%.2f rss_mib=%d\n' "$round" \
    "$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')" $((rss / 1024))
  kill $PID
  wait $PID 2>/dev/null || true
  PID=
done
