#!/usr/bin/env bash
# What idle connections cost a model: two busy pairs for a second, with no
# idle connection and then with 1 000 (bench/loadgen opens and holds them).
# Prints messages per second, rounded to thousands.
# Usage: docs/see-it/idle.sh MODEL
source "$(dirname "$0")/lib.sh"
serve "$1"
for idle in 0 1000; do
    loadgen --port "$PORT" --pairs 2 --duration 1 --warmup 0.2 --idle "$idle" |
        python3 -c 'import json, sys; r = json.load(sys.stdin)
print("%d idle: %.0fk messages/s" % (r["idle_held"], r["msgs_per_s"] / 1e3))'
done
