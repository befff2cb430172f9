"""System calls per message: one more run of a cell per server, during
which `perf stat` counts the server's system calls by kind (the syscall
tracepoints), over loadgen's measured window exactly: perf starts with its
counters off, and loadgen (--mark-window) says on stderr when the window
opens and closes, which is relayed to perf's control fifo.

Tracing costs the server time, so the counting run is not one of the runs
whose CPU time is reported: it is an extra run, and only its counts and
its delivered messages are kept. Where perf or the tracepoints are not
available (perf missing, not permitted, no tracefs), the figures are
"n/a" with the reason, and the comparison goes on."""

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

from .common import fmt, label, say
from .plan import cell_key
from .runs import loadgen_command
from .servers import Server, is_root

TRACING = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
# The kinds counted one by one; every other call is in "other" (the total
# comes from raw_syscalls:sys_enter). A name the kernel has no tracepoint
# for is left out.
KINDS = ["epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
         "recvfrom", "recvmsg", "read", "readv",
         "sendto", "sendmsg", "write", "writev",
         "futex", "timerfd_settime", "accept4", "sched_yield", "nanosleep"]
OTHER, TOTAL = "other", "total"
ACK_WAIT = 5.0      # seconds perf may take to answer a control command
# What a counting run that fails raises: it is then n/a, never fatal.
FAILURES = (RuntimeError, OSError, ValueError, subprocess.SubprocessError)


def events_dir():
    """The tracefs folder with events/syscalls, mounting tracefs if root
    and it is not mounted; None if there is none."""
    for d in TRACING:
        if os.path.isdir(os.path.join(d, "events", "syscalls")):
            return d
    if is_root() and os.path.isdir(TRACING[0]):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACING[0]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.path.isdir(os.path.join(TRACING[0], "events", "syscalls")):
            return TRACING[0]
    return None


def probe():
    """(the kinds this kernel has, None) or (None, why they cannot be
    counted)."""
    if shutil.which("perf") is None:
        return None, "perf is not installed (scripts/install-deps installs it)"
    d = events_dir()
    if d is None:
        return None, ("no syscall tracepoints: tracefs is not mounted "
                      "(mount -t tracefs nodev /sys/kernel/tracing, as root)")
    kinds = [k for k in KINDS if os.path.isdir(
        os.path.join(d, "events", "syscalls", f"sys_enter_{k}"))]
    test = subprocess.run(
        ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if test.returncode != 0:
        lines = [ln.strip() for ln in test.stderr.decode(
            errors="replace").splitlines() if ln.strip()]
        return None, "perf stat failed: " + (lines or ["no message"])[0]
    return kinds, None


def events(kinds):
    """One group: its counters go on and off together, so that "other"
    (the total less the kinds named) is exact."""
    return "{" + ",".join([f"syscalls:sys_enter_{k}" for k in kinds]
                          + ["raw_syscalls:sys_enter"]) + "}"


def parse_counts(text, kinds):
    """perf stat -x, output -> {kind: count, "total": count}."""
    counts = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or ":" not in fields[2]:
            continue
        event = fields[2].split(":", 1)[1]
        value = 0 if fields[0].startswith("<") else int(fields[0])
        name = TOTAL if event == "sys_enter" else event[len("sys_enter_"):]
        counts[name] = value
    if TOTAL not in counts:
        raise RuntimeError("perf stat printed no total")
    counts[OTHER] = counts[TOTAL] - sum(counts.get(k, 0) for k in kinds)
    return counts


class Control:
    """perf stat's control fifo: commands, each answered by 'ack'."""

    @staticmethod
    def spec(folder):
        """perf's --control argument; makes the two fifos."""
        ctl, ack = os.path.join(folder, "ctl"), os.path.join(folder, "ack")
        for fifo in (ctl, ack):
            if not os.path.exists(fifo):
                os.mkfifo(fifo)
        return f"fifo:{ctl},{ack}"

    def __init__(self, folder, perf):
        self.ctl = os.path.join(folder, "ctl")
        self.ack = os.path.join(folder, "ack")
        self.perf = perf
        self.ack_fd = os.open(self.ack, os.O_RDONLY | os.O_NONBLOCK)
        self.ctl_fd = None

    def connect(self):
        """Waits for perf to open its end (it has attached by then)."""
        deadline = time.monotonic() + ACK_WAIT
        while self.ctl_fd is None:
            try:
                self.ctl_fd = os.open(self.ctl, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if self.perf.poll() is not None:
                    raise RuntimeError("perf stat exited at start")
                if time.monotonic() > deadline:
                    raise RuntimeError("perf stat did not start")
                time.sleep(0.01)
        self.send("disable")

    def send(self, command):
        os.write(self.ctl_fd, (command + "\n").encode())
        ready, _, _ = select.select([self.ack_fd], [], [], ACK_WAIT)
        if not ready or b"ack" not in os.read(self.ack_fd, 64):
            raise RuntimeError(f"perf stat did not acknowledge {command}")

    def close(self):
        for fd in (self.ctl_fd, self.ack_fd):
            if fd is not None:
                os.close(fd)


def count_run(name, cell, config, kinds, bin_dir=None):
    """One run of the cell with the server's system calls counted over the
    measured window: {"per_1000": {kind: calls per 1000 messages},
    "delivered": messages}."""
    server = Server(name, config, cell, bin_dir)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "counts")
        perf = control = None
        try:
            perf = subprocess.Popen(
                ["perf", "stat", "-x,", "-o", out, "-e", events(kinds),
                 "-D", "-1", "--control", Control.spec(folder),
                 "-p", str(server.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            control = Control(folder, perf)
            control.connect()
            run = relay_window(name, cell, config, server, control)
        finally:
            if control:
                control.close()
            if perf:
                stop(perf)
            server.stop()
        with open(out) as f:
            counts = parse_counts(f.read(), kinds)
    delivered = run.get("delivered") or 0
    if not delivered:
        raise RuntimeError("no message delivered in the window")
    return {"delivered": delivered,
            "per_1000": {k: v * 1000 / delivered for k, v in counts.items()}}


def stop(perf):
    """SIGINT: perf writes its counts and exits; killed if it does not."""
    perf.send_signal(signal.SIGINT)
    try:
        perf.wait(timeout=10)
    except subprocess.TimeoutExpired:
        perf.kill()
        perf.wait()


def relay_window(name, cell, config, server, control):
    """Runs loadgen, turning perf's counters on and off with its window."""
    gen = subprocess.Popen(
        loadgen_command(name, cell, config, server) + ["--mark-window"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in gen.stderr:
            if line.strip() == b"window open":
                control.send("enable")
            elif line.strip() == b"window closed":
                control.send("disable")
        out = gen.communicate(timeout=120)[0]
    except BaseException:
        gen.kill()
        gen.wait()
        raise
    return json.loads(out.decode())


def count_cells(config, servers, cells, bin_dirs=None):
    """{(server, cell key): figures or {"failed": why}} for each server in
    each cell; {"skipped": why} when nothing can be counted. bin_dirs:
    {server: folder of its binary} (default build/bin)."""
    kinds, why = probe()
    if kinds is None:
        say(f"system calls: n/a ({why})")
        return {"skipped": why}
    out = {}
    for cell in cells:
        for name in servers:
            key = cell_key(cell)
            try:
                out[(name, key)] = count_run(
                    name, cell, config, kinds,
                    (bin_dirs or {}).get(name))
                total = out[(name, key)]["per_1000"][TOTAL]
                say(f"      system calls: {name:24} {key:22} "
                    f"{total:8.1f} per 1000 messages")
            except FAILURES as e:
                out[(name, key)] = {"failed": str(e)}
                say(f"      system calls: {name} {key}: n/a ({e})")
    return {"kinds": kinds, "cells": out}


# ------------------------------------------------------------ the tables

def counted(calls, name, key):
    """The system calls per 1000 messages of a server in a cell, by kind;
    None if not counted."""
    return calls.get("cells", {}).get((name, key), {}).get("per_1000")


def kind_table(servers, calls, key):
    """One cell's table: each server's calls per 1000 messages by kind, a
    kind left out when no server made 0.05 of them, then other and the
    total. Its title is bold, not a heading: it sits in results.md's
    section on system calls and in syscalls.md alike."""
    rows = {n: counted(calls, n, key) for n in servers}
    kinds = [k for k in calls["kinds"]
             if any(r and r.get(k, 0) >= 0.05 for r in rows.values())]
    kinds += [OTHER, TOTAL]
    pairs, size = key.split("/")[1].split("x")
    L = [f"**{pairs} pair{'s' if pairs != '1' else ''} x {size} B**\n",
         "| server | " + " | ".join(kinds) + " |",
         "|---|" + "---:|" * len(kinds)]
    for name, r in rows.items():
        cols = [fmt(r.get(k) if r else None, 1) for k in kinds]
        L.append(f"| {label(name)} | " + " | ".join(cols) + " |")
    return L + [""]
