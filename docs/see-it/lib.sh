# Shared by the see-it-yourself steps of the walkthrough (docs/see-it/*.sh):
# each step starts a server on a free port and talks to it with the
# repository's own tools, printing only what does not change from run to
# run. docs/check-see-it runs every step a chapter shows and compares its
# output with the chapter's.
set -euo pipefail
export PATH="${BIN:-build/bin}:$PATH"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# serve MODEL [OPTION...]: starts MODEL on a free port; sets PORT,
# SERVER_PID, and SERVER_LOG, a descriptor to read its log from.
serve() {
    exec {SERVER_LOG}< <(exec "$1" --port 0 "${@:2}" 2>&1)
    SERVER_PID=$!
    pids+=($!)
    # The log may begin with other lines (the descriptor limit): the port
    # is on the `listening on` line.
    local line=
    while [[ $line != "listening on "* ]]; do
        read -r -t 5 -u "$SERVER_LOG" line
    done
    PORT=${line##*:}
}

# client VAR [OPTION...]: starts router_client with its input from the
# caller's standard input and its output (both streams) on descriptor
# VAR; returns once it has printed its first line (its id, once the
# router has given it one), so that ids follow the order of calls. Prints
# that line, and keeps it in FIRST_LINE.
client() {
    local -n fd=$1
    exec {fd}< <(exec router_client --port "$PORT" "${@:2}" 2>&1)
    pids+=($!)
    local line
    read -r -t 10 -u "$fd" line
    FIRST_LINE=$line
    echo "$line"
}

# rest FD: what a client printed after its first line, until it exited.
rest() { timeout 10 cat <&"$1" || true; }

# until_full: waits (at most 5 s) until one of the server's connections
# holds at least 1 MiB that its client has not taken: a Send-Q that full
# means the client has stopped reading.
until_full() {
    for _ in $(seq 100); do
        (($(queued | head -n 1) >= 1024)) && return
        sleep 0.05
    done
    echo "no queue filled within 5 s"
}

# queued: the KiB each of the server's connections holds that its client
# has not taken (Send-Q), largest first.
queued() {
    ss -tnH state established "( sport = :$PORT )" |
        awk '{ print int($2 / 1024) }' | sort -rn
}

# until_read: waits (at most 5 s) until the server has read everything
# its clients sent and they have taken everything it sent (unread is 0).
until_read() {
    for _ in $(seq 100); do
        (($(unread) == 0)) && return
        sleep 0.05
    done
}

# unread: all the bytes the server's sockets hold, received but not yet
# read by the server (Recv-Q) or sent but not yet taken by their client
# (Send-Q).
unread() {
    ss -tnH state established "( sport = :$PORT )" |
        awk '{ n += $1 + $2 } END { print n + 0 }'
}
