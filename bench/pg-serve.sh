# Sourced by bench/pg-ab.sh and bench/pg-turns.sh inside their .ci/with-postgres body:
# release entente-servers on loopback ports, the load generator against them, and the
# database upkeep before a measurement.
# Needs ROOT (the checkout) and DATA (the dataset folder).

# upkeep DB...: the upkeep the peer harness gives pgbench after its load (see compare.sh):
# VACUUM ANALYZE of each database, then a CHECKPOINT (it flushes the whole cluster).
upkeep() {
  local psql
  psql=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql
  for db in "$@"; do "$psql" -qX -h "$ENTENTE_PG_SOCKET" -U entente "$db" -c "VACUUM ANALYZE"; done
  "$psql" -qX -h "$ENTENTE_PG_SOCKET" -U entente "$1" -c CHECKPOINT
}

# A free loopback port.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# serve BINARY PORT STORE: the server, in the background (its pid is then $!).
serve() { RUST_LOG=warn "$1" --workers 1 --listen "127.0.0.1:$2" --store "$3" >/dev/null 2>&1 & }

# replay PORT SECONDS WORKLOAD [FIRST_BOOKING]: one generator run, 8 clients; book and
# mixed go on from FIRST_BOOKING (an earlier run's bookings_next).
replay() {
  "$ROOT/target/release/entente-bench" --server "http://127.0.0.1:$1" --data "$DATA" \
    --clients 8 --connections 8 --duration "$2" --workloads "$3" ${4:+--bookings-from "$4"}
}

# field LINE NAME: the value of NAME=… in a generator's line.
field() { echo "$1" | grep -o "$2=[0-9.]*" | cut -d= -f2; }
