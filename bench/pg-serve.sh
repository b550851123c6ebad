# Sourced by bench/pg-ab.sh and bench/pg-turns.sh inside their .ci/with-postgres body:
# release entente-servers on loopback ports and the load generator against them.
# Needs ROOT (the checkout) and DATA (the dataset folder).

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
