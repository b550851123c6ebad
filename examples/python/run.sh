#!/usr/bin/env bash
# Runs scenario.py, then ics_check.py, against a fresh entente server: a virtualenv with
# grpcio, grpcio-tools, grpcio-status (the standard reader of rich error details) and
# icalendar (the independent iCalendar parser), the server on a
# free loopback port with a temporary store, then the scripts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
venv="${ENTENTE_PY_VENV:-$root/target/py-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check grpcio grpcio-tools grpcio-status icalendar tzdata
server="${ENTENTE_SERVER_BIN:-$root/target/debug/entente-server}"
[ -x "$server" ] || cargo build -q -p entente-server --manifest-path "$root/Cargo.toml"
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
data="$(mktemp -d)"
"$server" --listen "127.0.0.1:$port" --data-dir "$data" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
# scenario.py waits for the channel to be ready (up to 30 s) before its first call.
"$venv/bin/python" "$here/scenario.py" "127.0.0.1:$port"
"$venv/bin/python" "$here/ics_check.py" "127.0.0.1:$port"
