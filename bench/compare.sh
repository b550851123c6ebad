#!/usr/bin/env bash
# Side by side on this machine: PostgreSQL (../shared/bench/run_pg.sh), entente on its
# embedded sled store, and entente on PostgreSQL (the same release entente-server with
# --store, over a throwaway cluster from .ci/with-postgres with PostgreSQL's durable
# defaults), same dataset, same client concurrency, one after the other. Prints the
# summaries and the ratios. -s skips the entente-on-PostgreSQL column.
#
#   bench/compare.sh [-c clients] [-T seconds] [-d dataset_dir] [-s]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
CLIENTS=8 DURATION=20 DATA=$ROOT/target/bench-data SHARED_STORE=1
while getopts c:T:d:s opt; do
  case $opt in c) CLIENTS=$OPTARG ;; T) DURATION=$OPTARG ;; d) DATA=$OPTARG ;; s) SHARED_STORE= ;; *) sed -n 8p "$0" >&2; exit 2 ;; esac
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
kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=

if [ -n "$SHARED_STORE" ]; then
  echo "# entente on PostgreSQL: the same server with --store, one database (fsync and synchronous_commit on), same clients"
  "$ROOT/.ci/with-postgres" bash -c '
    set -euo pipefail
    RUST_LOG=info "$0/target/release/entente-server" --workers 1 --listen "127.0.0.1:$1" --store "$ENTENTE_STORE" >"$2/server-pg.log" 2>&1 &
    server=$!
    trap "kill $server 2>/dev/null; wait $server 2>/dev/null" EXIT
    psql() { "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -qX -h "$ENTENTE_PG_SOCKET" -U entente entente "$@" >/dev/null; }
    bench() { "$0/target/release/entente-bench" --server "http://127.0.0.1:$1" --data "$3" \
      --clients "$4" --connections "$4" --duration "$5" --workloads "$6" --bookings-from "$next"; }
    # The database upkeep the peer harness gives pgbench (run_pg.sh, load.sql): VACUUM
    # ANALYZE after the load, a CHECKPOINT before each workload. Without it autovacuum of
    # the freshly loaded tables and a checkpoint ran during some runs and not others.
    # Each workload is its own run of the generator, so the bookings mixed offers go on
    # from where book left off (bookings_next), as the peer'"'"'s booking_cursor does;
    # offered again, every one was refused as ALREADY_EXISTS.
    next=0
    bench "$@" load
    psql -c "VACUUM ANALYZE"
    for w in conflict_check book mixed; do
      psql -c CHECKPOINT
      line=$(bench "$@" "$w")
      echo "$line"
      next=$(echo "$line" | grep -o "bookings_next=[0-9]*" | cut -d= -f2 || echo "$next")
    done
  ' "$ROOT" "$PORT" "$OUT" "$DATA" "$CLIENTS" "$DURATION" | sed 's/^peer=entente /peer=entente-pg /' | tee "$OUT/entente-pg.txt"
  # When the server held the sole-writer lease, and anything that went wrong: a run whose
  # figures fall short says why here.
  grep -E "WARN|ERROR|sole-writer lease|only one writing" "$OUT/server-pg.log" | sed 's/^/# server-pg: /' || true
fi

python3 - "$OUT/pg.txt" "$OUT/entente.txt" "$OUT/entente-pg.txt" <<'PY'
import os, sys
def parse(path):
    out = {}
    for line in open(path):
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if "workload" in kv:
            out[kv["workload"]] = kv
    return out
pg, en = parse(sys.argv[1]), parse(sys.argv[2])
shared = parse(sys.argv[3]) if os.path.exists(sys.argv[3]) else {}
for w in ("conflict_check", "book"):
    if w in pg and w in en:
        print(f"ratio workload={w} tps_entente_over_pg={float(en[w]['tps']) / float(pg[w]['tps']):.2f} "
              f"p99_ms_pg={pg[w]['p99_ms']} p99_ms_entente={en[w]['p99_ms']}")
    if w in pg and w in shared:
        print(f"ratio workload={w} tps_entente_on_pg_over_pg={float(shared[w]['tps']) / float(pg[w]['tps']):.2f} "
              f"p99_ms_pg={pg[w]['p99_ms']} p99_ms_entente_on_pg={shared[w]['p99_ms']}")
if "health" in en and "conflict_check" in en:
    print(f"ratio conflict_check_over_health_ceiling={float(en['conflict_check']['tps']) / float(en['health']['tps']):.2f}")
PY
