#!/usr/bin/env bash
# Smoke test of the load generator: starts SERVER on an ephemeral port, runs
# a short closed-loop load through it and passes when loadgen exits 0 (every
# frame verified, nothing stalled). No performance figure is checked.
# usage: loadgen_smoke.sh LOADGEN SERVER
set -euo pipefail
loadgen=$1 server=$2
out=$(mktemp)
"$server" --port 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do
    grep -q '^listening on' "$out" && break
    sleep 0.05
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
[[ -n $port ]] || { echo "no listening line from $server"; exit 1; }
"$loadgen" --port "$port" --pairs 4 --size 64 --window 8 --warmup 0.1 \
    --duration 0.5 --stall-after 5 --server-pid "$pid"
