#!/usr/bin/env bash
# Head-of-line blocking, seen from outside: client 0 never reads, client 1
# floods it with 64 MiB; once client 0's socket at the server is full,
# client 3 sends "ping" to client 2. --max-pending is raised above the
# flood, so that no model cuts client 0 during the step.
# Usage: docs/see-it/hol.sh MODEL
source "$(dirname "$0")/lib.sh"
serve "$1" --max-pending $((128 << 20))
exec {slow}<>"/dev/tcp/127.0.0.1/$PORT"      # client 0: reads nothing
line="0 $(printf '%01023d' 0)"                 # a 1 KiB frame to client 0
echo -n "client 1: " && client flood < <(yes "$line" | head -n 65536)
until_full && echo "client 0's socket at the server is full"
client pinged --expect 1 --timeout 5 </dev/null >/dev/null  # client 2
echo "2 ping" | router_client --port "$PORT" --timeout 5 >/dev/null 2>&1 || true
# What client 2 received (its id, when it gets one, aside):
{ echo "$FIRST_LINE" && rest "$pinged"; } | grep -v '^id ' | sed 's/^/client 2: /'
