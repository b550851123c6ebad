#!/usr/bin/env bash
# Bookings of entente on PostgreSQL against the peer's pgbench bookings, on one cluster
# and in turns of a few seconds: compare.sh measures the two minutes apart, and on this
# shared machine the host's speed drifts that much between them (pgbench's bookings alone
# ran at 4.6k and 5.7k/s in two runs half an hour apart), so its ratio moves with the host.
# Here each turn of one is next to a turn of the other, and who goes first alternates.
#
# One throwaway cluster (.ci/with-postgres): database `peer` holds the peer's schema and
# data, loaded by its own files (../shared/bench: schema.sql, load.sql, book.sql) as
# run_pg.sh loads them; database `entente` is served by a release entente-server, loaded
# through gRPC. Both get VACUUM ANALYZE and a CHECKPOINT, then take turns: pgbench
# (-c 8 -j 2, book.sql, its cursor a sequence) and entente-bench (8 clients, book, going
# on from its own last booking).
#
#   bench/pg-turns.sh [-d dataset_dir] [-s seconds] [-r rounds]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER=$(cd "$ROOT/../shared/bench" && pwd)
DATA=$ROOT/target/bench-data SLICE=5 ROUNDS=8
while getopts d:s:r: opt; do
  case $opt in d) DATA=$OPTARG ;; s) SLICE=$OPTARG ;; r) ROUNDS=$OPTARG ;; *) sed -n 15p "$0" >&2; exit 2 ;; esac
done
DATA=$(realpath "$DATA")
[ -f "$DATA/bookings.jsonl" ] || { mkdir -p "$DATA"; python3 "$PEER/gen_dataset.py" --out "$DATA" >/dev/null; }
cargo build -q --release -p entente-server -p entente-bench --manifest-path "$ROOT/Cargo.toml"
# The peer's staging tables, filled as run_pg.sh fills them (one JSON document per line).
COPY=$(mktemp /tmp/pg-turns-XXXXXX.sql)
trap 'rm -f "$COPY"' EXIT
for f in events queries bookings; do
  echo "\\copy raw_$f (doc) FROM '$DATA/$f.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
done > "$COPY"
export ROOT PEER DATA SLICE ROUNDS COPY
"$ROOT/.ci/with-postgres" bash -c '
  set -euo pipefail
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  "$bin/createdb" -h "$ENTENTE_PG_SOCKET" -U entente peer
  peer=("$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$ENTENTE_PG_SOCKET" -U entente -d peer)
  "${peer[@]}" -f "$PEER/schema.sql"
  "${peer[@]}" -f "$COPY"
  "${peer[@]}" -f "$PEER/load.sql"
  read -r nq nb < <("${peer[@]}" -F " " -c "SELECT (SELECT count(*) FROM queries), (SELECT count(*) FROM bookings)")
  . "$ROOT/bench/pg-serve.sh"
  port=$(free_port)
  serve "$ROOT/target/release/entente-server" "$port" "$ENTENTE_STORE"
  server=$!
  trap "kill $server; wait $server 2>/dev/null" EXIT
  pgbench() {
    "$bin/pgbench" -n -M prepared -c 8 -j 2 -T "$SLICE" -D nqueries="$nq" -D nbookings="$nb" \
      -f "$PEER/book.sql" -h "$ENTENTE_PG_SOCKET" -U entente peer 2>&1 |
      sed -n "s/^tps = \([0-9.]*\) (without.*/\1/p"
  }
  replay "$port" 10 load >/dev/null
  upkeep entente peer
  next=0
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
      pg=$(pgbench); line=$(replay "$port" "$SLICE" book "$next")
    else
      line=$(replay "$port" "$SLICE" book "$next"); pg=$(pgbench)
    fi
    next=$(field "$line" bookings_next)
    tps=$(field "$line" tps)
    echo "round=$r pgbench_tps=$pg entente_on_pg_tps=$tps ratio=$(python3 -c "print(round($tps / $pg, 3))") entente_failed=$(field "$line" failed) false_accepts=$(field "$line" false_accepts)"
  done
'
