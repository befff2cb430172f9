#!/usr/bin/env bash
# Smoke test of the load generator: starts SERVER on an ephemeral port, runs
# a short closed-loop load through it and passes when loadgen exits 0 (every
# frame verified, nothing stalled). No performance figure is checked. The
# server is given a host name, --bind localhost, so that the limit line is
# held to the contract's ready line too (the variants' own tests hold them).
# usage: loadgen_smoke.sh LOADGEN SERVER
set -euo pipefail
loadgen=$1 server=$2
out=$(mktemp)
"$server" --bind localhost --port 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
    grep -q '^listening on' "$out" && break
    sleep 0.05
done
# localhost's first address: 127.0.0.1:PORT or [::1]:PORT.
line=$(head -n 1 "$out")
[[ $line =~ ^listening\ on\ (127\.0\.0\.1|\[::1\]):([0-9]+)$ ]] ||
    { echo "not the contract's ready line from $server: $line"; exit 1; }
host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
host=${host#[} host=${host%]}
"$loadgen" --host "$host" --port "$port" --pairs 4 --size 64 --window 8 \
    --warmup 0.1 --duration 0.5 --stall-after 5 --server-pid "$pid"
