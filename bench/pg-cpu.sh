#!/usr/bin/env bash
# CPU per operation on the PostgreSQL store: the server's and every PostgreSQL process's
# CPU time (utime+stime from /proc) across one workload, divided by its transactions, and
# the database transactions (pg_stat_database) per operation.
# Starts a throwaway cluster (.ci/with-postgres), a release entente-server on it, loads
# the dataset, then runs each workload for -T seconds with 8 clients.
#
#   bench/pg-cpu.sh [-d dataset_dir] [-T seconds]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/target/bench-data DURATION=10
while getopts d:T: opt; do
  case $opt in d) DATA=$OPTARG ;; T) DURATION=$OPTARG ;; *) sed -n 7p "$0" >&2; exit 2 ;; esac
done
[ -f "$DATA/bookings.jsonl" ] || { mkdir -p "$DATA"; python3 "$ROOT/../shared/bench/gen_dataset.py" --out "$DATA" >/dev/null; }
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
export ROOT DATA DURATION
"$ROOT/.ci/with-postgres" bash -c '
  set -euo pipefail
  port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
  RUST_LOG=warn "$ROOT/target/release/entente-server" --workers 1 --listen "127.0.0.1:$port" --store "$ENTENTE_STORE" >/dev/null 2>&1 &
  server=$!
  trap "kill $server; wait $server 2>/dev/null" EXIT
  bench() { "$ROOT/target/release/entente-bench" --server "http://127.0.0.1:$port" --data "$DATA" --clients 8 --connections 8 --duration "$DURATION" --workloads "$1"; }
  bench load >/dev/null
  tick=$(getconf CLK_TCK)
  psql=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql
  # The upkeep the peer harness gives pgbench (see compare.sh).
  "$psql" -qX -h "$ENTENTE_PG_SOCKET" -U entente entente -c "VACUUM ANALYZE" >/dev/null
  cpu() { awk "{print \$14+\$15}" /proc/$1/stat; }
  xacts() { "$psql" -qtA -h "$ENTENTE_PG_SOCKET" -U entente entente -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"; }
  pgcpu() { t=0; for p in $(pgrep -x postgres); do t=$((t + $(awk "{print \$14+\$15}" /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
  for w in conflict_check book; do
    "$psql" -qX -h "$ENTENTE_PG_SOCKET" -U entente entente -c CHECKPOINT >/dev/null
    s0=$(cpu $server); p0=$(pgcpu); x0=$(xacts)
    line=$(bench $w)
    s1=$(cpu $server); p1=$(pgcpu); x1=$(xacts)
    tx=$(echo "$line" | grep -o "txns=[0-9]*" | cut -d= -f2)
    tps=$(echo "$line" | grep -o "tps=[0-9.]*" | cut -d= -f2)
    python3 -c "print(f\"workload=$w tps=$tps server_us_per_op={($s1-$s0)/$tick/$tx*1e6:.1f} postgres_us_per_op={($p1-$p0)/$tick/$tx*1e6:.1f} pg_xacts_per_op={($x1-$x0)/$tx:.2f}\")"
  done
'
