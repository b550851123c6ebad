#!/usr/bin/env bash
# Side by side on this machine: PostgreSQL (../shared/bench/run_pg.sh) and entente
# (entente-bench against a release entente-server), same dataset, same client concurrency,
# one after the other. Prints both summaries and the ratios.
#
#   bench/compare.sh [-c clients] [-T seconds] [-d dataset_dir]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
CLIENTS=8 DURATION=20 DATA=$ROOT/target/bench-data
while getopts c:T:d: opt; do
  case $opt in c) CLIENTS=$OPTARG ;; T) DURATION=$OPTARG ;; d) DATA=$OPTARG ;; *) sed -n 6p "$0" >&2; exit 2 ;; esac
done
OUT=$(mktemp -d /tmp/entente-compare.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; wait 2>/dev/null; rm -rf "$OUT"' EXIT
SERVER=

if [ ! -f "$DATA/bookings.jsonl" ]; then
  mkdir -p "$DATA"
  python3 "$SHARED/gen_dataset.py" --out "$DATA" >/dev/null
fi
echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"

echo "# PostgreSQL: pgbench -c $CLIENTS -j 2 -T $DURATION"
"$SHARED/run_pg.sh" -d "$DATA" -c "$CLIENTS" -j 2 -T "$DURATION" | tee "$OUT/pg.txt"

echo "# entente: $CLIENTS clients on $CLIENTS HTTP/2 connections, one request in flight each (lean HTTP/2 gRPC client); server --workers 1, generator --threads 1"
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# One worker thread: the load generator (also one thread) takes the other core. On these
# 2 cores that beat the default of one worker per core (bench/README.md).
RUST_LOG=warn "$ROOT/target/release/entente-server" --workers 1 --listen "127.0.0.1:$PORT" --data-dir "$OUT/store" >"$OUT/server.log" 2>&1 &
SERVER=$!
"$ROOT/target/release/entente-bench" --server "http://127.0.0.1:$PORT" --data "$DATA" \
  --clients "$CLIENTS" --connections "$CLIENTS" --duration "$DURATION" | tee "$OUT/entente.txt"

python3 - "$OUT/pg.txt" "$OUT/entente.txt" <<'PY'
import sys
def parse(path):
    out = {}
    for line in open(path):
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if "workload" in kv:
            out[kv["workload"]] = kv
    return out
pg, en = parse(sys.argv[1]), parse(sys.argv[2])
for w in ("conflict_check", "book"):
    if w in pg and w in en:
        print(f"ratio workload={w} tps_entente_over_pg={float(en[w]['tps']) / float(pg[w]['tps']):.2f} "
              f"p99_ms_pg={pg[w]['p99_ms']} p99_ms_entente={en[w]['p99_ms']}")
if "health" in en and "conflict_check" in en:
    print(f"ratio conflict_check_over_health_ceiling={float(en['conflict_check']['tps']) / float(en['health']['tps']):.2f}")
PY
