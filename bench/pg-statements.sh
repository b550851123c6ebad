#!/usr/bin/env bash
# Where PostgreSQL spends a workload's time, statement by statement: pg_stat_statements
# (execution time per call, buffers touched, WAL full-page images) and pg_stat_wal over
# one run, plus the size of entente's tables and indexes afterwards.
# Starts a throwaway cluster (.ci/with-postgres) with the pg_stat_statements library
# (shipped with Debian's postgresql package), a release entente-server on it, loads the
# dataset, then runs the workload for -T seconds with 8 clients.
#
#   bench/pg-statements.sh [-d dataset_dir] [-T seconds] [-w workload]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/target/bench-data DURATION=10 WORKLOAD=book
while getopts d:T:w: opt; do
  case $opt in d) DATA=$OPTARG ;; T) DURATION=$OPTARG ;; w) WORKLOAD=$OPTARG ;; *) sed -n 9p "$0" >&2; exit 2 ;; esac
done
[ -f "$DATA/bookings.jsonl" ] || { mkdir -p "$DATA"; python3 "$ROOT/../shared/bench/gen_dataset.py" --out "$DATA" >/dev/null; }
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
export ROOT DATA DURATION WORKLOAD
export ENTENTE_PG_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
"$ROOT/.ci/with-postgres" bash -c '
  set -euo pipefail
  port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
  RUST_LOG=warn "$ROOT/target/release/entente-server" --workers 1 --listen "127.0.0.1:$port" --store "$ENTENTE_STORE" >/dev/null 2>&1 &
  server=$!
  trap "kill $server; wait $server 2>/dev/null" EXIT
  psql() { "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -qtA -F " | " -h "$ENTENTE_PG_SOCKET" -U entente entente "$@"; }
  psql -c "CREATE EXTENSION pg_stat_statements" >/dev/null
  bench() { "$ROOT/target/release/entente-bench" --server "http://127.0.0.1:$port" --data "$DATA" --clients 8 --connections 8 --duration "$DURATION" --workloads "$1"; }
  bench load >/dev/null
  psql -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset_shared(\$\$wal\$\$)" >/dev/null
  bench "$WORKLOAD" | grep -o "txns=[0-9]* tps=[0-9.]*" || bench "$WORKLOAD"
  echo "calls | ms | us_per_call | rows | buffers_hit | buffers_read | wal_fpi | statement"
  psql -c "SELECT calls, round(total_exec_time::numeric, 1), round((total_exec_time / calls)::numeric * 1000, 1),
                  rows, shared_blks_hit, shared_blks_read, wal_fpi, left(translate(query, chr(10), chr(32)), 90)
             FROM pg_stat_statements WHERE query NOT LIKE \$\$%pg_stat%\$\$ ORDER BY total_exec_time DESC LIMIT 12"
  echo "wal_records | wal_fpi | wal_bytes | wal_sync"
  psql -c "SELECT wal_records, wal_fpi, wal_bytes, wal_sync FROM pg_stat_wal"
  psql -c "SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class
             WHERE relname LIKE \$\$entente%\$\$ ORDER BY pg_relation_size(oid) DESC LIMIT 8"
'
