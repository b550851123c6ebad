#!/usr/bin/env bash
# Instructions the server executes per served call, counted by callgrind: the same count
# for the same binary and inputs whatever else the machine is doing, so a change worth
# 3% shows up where wall-clock runs on this noisy VM cannot resolve it.
#
#   bench/callgrind.sh [-s server_binary] [-d dataset_dir] [-w workload] [-T seconds] [-c]
#
# Starts the server under valgrind (instrumentation off), loads the dataset through the
# API, turns instrumentation on, drives the workload with entente-bench (8 clients),
# dumps, and prints `Ir/call` for all server threads together. The default dataset is
# bench/testdata (300 events); bookings wrap after its 120 rows and then all conflict, so
# measure `book` on a larger one, e.g.
#   python3 ../shared/bench/gen_dataset.py --participants 200 --venues 40 \
#     --events 5000 --queries 5000 --bookings 20000 --out /tmp/wl5k
# Under valgrind a 5 s run makes a few thousand calls, well inside its 20,000 bookings.
# -c also simulates the caches (L1 32 KiB as here, last level 32 MiB as this VM's L3) and
# prints L1 data-read misses and last-level data-read misses per call: on a large
# dataset a conflict check waits on memory about as long as it computes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVER=$ROOT/target/release/entente-server DATA=$ROOT/bench/testdata WORKLOAD=conflict_check SECS=5
CACHE=()
while getopts s:d:w:T:c opt; do
  case $opt in
    s) SERVER=$OPTARG ;; d) DATA=$OPTARG ;; w) WORKLOAD=$OPTARG ;; T) SECS=$OPTARG ;;
    c) CACHE=(--cache-sim=yes --D1=32768,8,64 --LL=33554432,16,64) ;;
    *) sed -n 6p "$0" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind" >&2; exit 2; }
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
BENCH=$ROOT/target/release/entente-bench
OUT=$(mktemp -d /tmp/entente-callgrind.XXXXXX)
VG=
trap '[ -n "$VG" ] && kill $VG 2>/dev/null; wait 2>/dev/null; true' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

RUST_LOG=warn valgrind --tool=callgrind "${CACHE[@]}" --instr-atstart=no --callgrind-out-file="$OUT/cg.out" \
  "$SERVER" --workers 1 --listen "127.0.0.1:$PORT" --data-dir "$OUT/store" >"$OUT/server.log" 2>&1 &
VG=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.2
done
"$BENCH" --server "http://127.0.0.1:$PORT" --data "$DATA" --workloads load --duration 1 >/dev/null
callgrind_control -i on "$VG" >/dev/null 2>&1
LINE=$("$BENCH" --server "http://127.0.0.1:$PORT" --data "$DATA" --workloads "$WORKLOAD" \
  --duration "$SECS" --clients 8 --connections 8 | grep "workload=$WORKLOAD")
callgrind_control -d "$VG" >/dev/null 2>&1
kill "$VG"; wait "$VG" 2>/dev/null || true; VG=
CALLS=$(sed -E 's/.* txns=([0-9]+).*/\1/' <<<"$LINE")
IR=$(callgrind_annotate "$OUT/cg.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n++ {gsub(",", "", $1); print $1}')
MISSES=
if [ ${#CACHE[@]} -gt 0 ]; then
  MISSES=$(callgrind_annotate --show=D1mr,DLmr "$OUT/cg.out.1" 2>/dev/null |
    awk -v c="$CALLS" '/PROGRAM TOTALS/ && !n++ {gsub(",", "", $1); gsub(",", "", $3);
      printf " d1_read_misses_per_call=%.1f ll_read_misses_per_call=%.1f", $1 / c, $3 / c}')
fi
echo "callgrind workload=$WORKLOAD calls=$CALLS ir=$IR ir_per_call=$((IR / CALLS))$MISSES profile=$OUT/cg.out.1"
