#!/usr/bin/env bash
# Bookings on PostgreSQL of two server builds, side by side in time: each serves its own
# database of one throwaway cluster (.ci/with-postgres) and loads the dataset; then they
# take turns booking for -s seconds (8 clients), -r times each, each run going on from its
# own last booking. Prints each turn's bookings/s and the ratio B/A. On a shared machine
# whose speed drifts (here one build's bookings moved between 1.3k and 4.4k/s within an
# hour) only turns taken close together compare; run it twice with A and B swapped, so
# that going first favours neither. With -x, B's database runs that SQL after the load: the
# same build twice with B's database changed measures what the change is worth (with
# -x "ALTER TABLE entente_busy DROP CONSTRAINT entente_no_double_booking", what the
# exclusion constraint costs). -w picks the workload (default book; mixed is 90% reads).
#
#   bench/pg-ab.sh -a SERVER_BINARY -b SERVER_BINARY [-d dataset_dir] [-s seconds] [-r rounds] [-x SQL] [-w workload]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=$ROOT/target/bench-data SLICE=4 ROUNDS=8 A= B= EXTRA= WORKLOAD=book
while getopts a:b:d:s:r:x:w: opt; do
  case $opt in
    a) A=$(realpath "$OPTARG") ;; b) B=$(realpath "$OPTARG") ;; d) DATA=$OPTARG ;;
    s) SLICE=$OPTARG ;; r) ROUNDS=$OPTARG ;; x) EXTRA=$OPTARG ;; w) WORKLOAD=$OPTARG ;;
    *) sed -n 13p "$0" >&2; exit 2 ;;
  esac
done
[ -x "$A" ] && [ -x "$B" ] || { sed -n 13p "$0" >&2; exit 2; }
[ -f "$DATA/bookings.jsonl" ] || { mkdir -p "$DATA"; python3 "$ROOT/../shared/bench/gen_dataset.py" --out "$DATA" >/dev/null; }
cargo build -q --release -p entente-bench --manifest-path "$ROOT/Cargo.toml"
export ROOT DATA SLICE ROUNDS A B EXTRA WORKLOAD
"$ROOT/.ci/with-postgres" bash -c '
  set -euo pipefail
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  "$bin/createdb" -h "$ENTENTE_PG_SOCKET" -U entente second
  . "$ROOT/bench/pg-serve.sh"
  pa=$(free_port) pb=$(free_port)
  serve "$A" "$pa" "$ENTENTE_STORE"
  sa=$!
  serve "$B" "$pb" "${ENTENTE_STORE%/entente}/second"
  sb=$!
  trap "kill $sa $sb; wait $sa $sb 2>/dev/null" EXIT
  replay "$pa" 10 load >/dev/null
  replay "$pb" 10 load >/dev/null
  [ -z "$EXTRA" ] || "$bin/psql" -qX -v ON_ERROR_STOP=1 -h "$ENTENTE_PG_SOCKET" -U entente second -c "$EXTRA"
  upkeep entente second
  na=0 nb=0
  for r in $(seq "$ROUNDS"); do
    la=$(replay "$pa" "$SLICE" "$WORKLOAD" "$na")
    lb=$(replay "$pb" "$SLICE" "$WORKLOAD" "$nb")
    na=$(field "$la" bookings_next) nb=$(field "$lb" bookings_next)
    ta=$(field "$la" tps) tb=$(field "$lb" tps)
    echo "round=$r a_tps=$ta b_tps=$tb ratio=$(python3 -c "print(round($tb / $ta, 3))") a_failed=$(field "$la" failed) b_failed=$(field "$lb" failed)"
  done
'
