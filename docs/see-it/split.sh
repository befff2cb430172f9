#!/usr/bin/env bash
# A frame split across two reads: client 1 sends "hel", waits until the
# server has read those bytes, then sends "lo" and the frame's end. A
# reactor that did not wait for the socket again after the first read
# would never see the rest (the lost wake-up). Usage: docs/see-it/split.sh MODEL
source "$(dirname "$0")/lib.sh"
serve "$1"
echo -n "client 0: " && client waiting --expect 1 --timeout 5 </dev/null
exec {raw}<>"/dev/tcp/127.0.0.1/$PORT"       # client 1, by hand
head -c 4 <&"$raw" | od -An -tu1 | sed 's/^/client 1: id bytes/'
printf '\0\0\0\0hel' >&"$raw"
until_read
printf 'lo\0' >&"$raw"
rest "$waiting" | sed 's/^/client 0: /'
