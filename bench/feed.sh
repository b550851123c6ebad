#!/usr/bin/env bash
# The change feed's cost and speed, side by side on this machine (issue 19's targets):
# durable bookings/s with no watcher, with N idle watchers (a filter nothing matches) and
# with N watchers receiving everything; the commit-to-delivery latency those N see, under
# that saturating load and under a steady one (a single booking client); and
# the server's memory per idle watcher (RSS with 1,000 idle watchers attached, against
# none). Each configuration runs on a fresh server and a fresh load of the dataset, in
# rounds that alternate the configurations.
#
#   bench/feed.sh [-n watchers] [-r rounds] [-T seconds] [-d dataset_dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
N=100 ROUNDS=2 SECS=10 DATA=$ROOT/target/bench-data
while getopts n:r:T:d: opt; do
  case $opt in n) N=$OPTARG ;; r) ROUNDS=$OPTARG ;; T) SECS=$OPTARG ;; d) DATA=$OPTARG ;; *) sed -n 9p "$0" >&2; exit 2 ;; esac
done
if [ ! -f "$DATA/bookings.jsonl" ]; then
  mkdir -p "$DATA"
  python3 "$SHARED/gen_dataset.py" --out "$DATA" >/dev/null
fi
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
SERVER_BIN=$ROOT/target/release/entente-server BENCH=$ROOT/target/release/entente-bench
OUT=$(mktemp -d /tmp/entente-feed.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT"' EXIT

start() {
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$OUT/store"
  RUST_LOG=warn "$SERVER_BIN" --workers 1 --listen "127.0.0.1:$PORT" --data-dir "$OUT/store" >"$OUT/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.1; done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }

echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); $N watchers, $ROUNDS rounds of $SECS s"
for r in $(seq "$ROUNDS"); do
  for mode in none idle all steady; do
    start
    "$BENCH" --server "http://127.0.0.1:$PORT" --data "$DATA" --workloads load >/dev/null
    watch=() clients=()
    case $mode in
      idle) watch=(--watchers "$N" --watch idle) ;;
      all) watch=(--watchers "$N" --watch all) ;;
      steady) watch=(--watchers "$N" --watch all) clients=(--clients 1 --connections 1) ;;
    esac
    "$BENCH" --server "http://127.0.0.1:$PORT" --data "$DATA" --workloads book --duration "$SECS" \
      "${watch[@]}" "${clients[@]}" | sed "s/^/round=$r watchers=$mode /" | tee -a "$OUT/runs.txt"
    stop
  done
done

# Memory: RSS with 1,000 idle watchers attached, against the same server with none.
start
"$BENCH" --server "http://127.0.0.1:$PORT" --data "$DATA" --workloads load >/dev/null
before=$(rss_kib)
"$BENCH" --server "http://127.0.0.1:$PORT" --data "$DATA" --workloads hold --duration 6 \
  --watchers 1000 --watch idle >/dev/null &
HOLD=$!
sleep 4
during=$(rss_kib)
wait $HOLD
stop
echo "memory: rss_before_kib=$before rss_with_1000_idle_watchers_kib=$during per_watcher_kib=$(( (during - before) / 1000 ))"

python3 - "$OUT/runs.txt" <<'PY'
import sys, collections
tps = collections.defaultdict(list)
lat = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
    mode = line.split()[1].split("=", 1)[1]
    if kv.get("workload") == "book":
        tps[mode].append(float(kv["tps"]))
    if kv.get("workload") == "feed":
        lat[mode].append(float(kv["p99_ms"]))
mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
print("bookings_per_s " + " ".join(f"{m}={mean(v):.0f}" for m, v in tps.items()))
print(f"ratio idle_over_none={mean(tps['idle']) / mean(tps['none']):.2f} "
      f"all_over_none={mean(tps['all']) / mean(tps['none']):.2f}")
print(f"delivery_p99_ms saturated_worst={max(lat['all'], default=float('nan')):.3f} "
      f"steady_worst={max(lat['steady'], default=float('nan')):.3f} "
      f"(steady: one booking client, {mean(tps['steady']):.0f} bookings/s)")
PY
