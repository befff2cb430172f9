#!/usr/bin/env bash
# The article's deadlock, on purpose: with --deadlock each client's session
# holds that client's lock while it waits to read, so a frame for client 0
# waits until client 0 sends something. Client 1 sends it "hello"; client
# 0 waits 5 s for it (client 1 stays connected meanwhile). Where is the
# frame? In no socket's queue: the server has read it, and it waits
# inside the server, in a suspended coroutine. Then the same without
# --deadlock.
source "$(dirname "$0")/lib.sh"
for option in --deadlock ""; do
    echo "== naive_mutex $option"
    serve naive_mutex $option
    echo -n "client 0: " && client waiting --expect 1 --timeout 5 </dev/null
    echo -n "client 1: " &&
        client sending --expect 1 --timeout 5 < <(echo "0 hello")
    until_read
    echo "bytes in the server's socket queues: $(unread)"
    rest "$waiting" | sed 's/^/client 0: /'
    kill "$SERVER_PID"
done
