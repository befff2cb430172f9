"""Where each server's CPU time goes: a short `perf record` of the server
while the load generator runs one throughput cell, each sample put into
one of a few named categories by the symbols on its call chain.

The rule (bench/README.md says it too):
  - a sample taken in the kernel goes to the category of the OUTERMOST
    kernel frame of its chain that a category names: the system call or
    kernel path the server was in. So the scheduler's time after blocking
    in epoll_wait counts as waiting, after blocking on a futex as locks,
    and, on loopback, the receiver's softirq processing run inside the
    sender's sendmsg counts as sending;
  - if no kernel frame is named (a paravirtualised kernel defers a timer
    tick taken with interrupts off to where they are re-enabled, so many
    samples land on pvm_irq_enable right under do_syscall_64), the libc
    system-call wrapper just outside the kernel names it (sendmsg: send);
  - a sample taken in user space goes by its own symbol only (without
    frame pointers, user-space call chains are not reliable); one in a
    libc system-call wrapper (the deferred tick lands there too, just
    after the system call returns) by that wrapper.
What no rule names is "other (kernel)" or "other (user space)"."""

import json
import os
import re
import shutil
import subprocess
import time

from .common import LIMIT, LOG_DIR, VARIANTS, say
from .runs import loadgen_command
from .servers import Server

CELL = {"kind": "profile", "pairs": 8, "size": 64}
SECONDS = 2.0          # recorded, per server
QUICK_SECONDS = 1.0

SEND, RECV = "kernel: send", "kernel: receive"
WAIT, LOCK = "waiting (epoll)", "locks and scheduler"
PARSE = "parsing and copying (user)"
OTHER_K, OTHER_U = "other (kernel)", "other (user space)"
CATEGORIES = [SEND, RECV, WAIT, LOCK, PARSE, OTHER_K, OTHER_U]

KERNEL = [
    (SEND, r"(__x64_sys_|_*sys_)send(msg|to|mmsg)|sock_sendmsg|inet_sendmsg"
     r"|sock_write_iter|tcp_sendmsg\w*"),
    (RECV, r"(__x64_sys_|_*sys_)recv(msg|from|mmsg)|sock_recvmsg"
     r"|inet_recvmsg|sock_read_iter|tcp_recvmsg\w*"),
    (WAIT, r"__x64_sys_epoll_\w+|do_epoll_\w+|ep_poll|ep_insert|ep_remove"
     r"|ep_modify|eventfd_\w+|__x64_sys_(poll|ppoll|select|pselect6)"
     r"|do_sys_poll|do_select"),
    (LOCK, r"__x64_sys_futex|do_futex|futex_\w+|__x64_sys_sched_yield"
     r"|schedule|__schedule|schedule_\w+|finish_task_switch\w*"),
]
# The libc wrapper a system call was made from: the first user-space
# frame of a kernel sample.
WRAPPER = [
    (LOCK, r"futex|pthread|lll_|sched_yield"),
    (WAIT, r"epoll|poll|select"),
    (SEND, r"send|write"),
    (RECV, r"recv|read"),
]
USER = [
    (PARSE, r"mem(chr|move|cpy|cmp)|frame_parser"),
    (LOCK, r"pthread_(mutex|cond|spin|rwlock)|lll_lock|lll_unlock|futex"),
]


def compile_rules(rules, whole):
    return [(c, re.compile(f"^({p})$" if whole else p)) for c, p in rules]


KERNEL_RULES = compile_rules(KERNEL, True)
WRAPPER_RULES = compile_rules(WRAPPER, False)
USER_RULES = compile_rules(USER, False)


def first_match(rules, sym):
    for category, pattern in rules:
        if pattern.search(sym):
            return category
    return None


def is_kernel(dso):
    return dso.startswith("[kernel") or dso == "[vdso]"


def is_libc(dso):
    return os.path.basename(dso).startswith("libc.so")


def classify(chain):
    """chain: [(symbol, dso), ...], innermost first."""
    if not chain:
        return OTHER_U
    sym, dso = chain[0]
    if not is_kernel(dso):
        return (first_match(USER_RULES, sym)
                or (first_match(WRAPPER_RULES, sym) if is_libc(dso) else None)
                or OTHER_U)
    kernel = [sym for sym, dso in chain if is_kernel(dso)]
    named = [first_match(KERNEL_RULES, sym) for sym in kernel]
    named = [c for c in named if c]
    if named:
        return named[-1]
    user = [sym for sym, dso in chain if not is_kernel(dso)]
    return (first_match(WRAPPER_RULES, user[0]) if user else None) or OTHER_K


FRAME = re.compile(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def samples(script_text):
    """perf script's output: the call chain of each sample, innermost
    first (samples are separated by blank lines)."""
    chain = None
    for line in script_text.splitlines():
        if not line.strip():
            if chain is not None:
                yield chain
            chain = None
        elif not line[0].isspace():
            chain = []          # the sample's header: comm, tid, period
        elif chain is not None:
            m = FRAME.match(line)
            if m:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                chain.append((sym, m.group(2)))
    if chain is not None:
        yield chain


def tally(script_text):
    """The share of samples in each category, the busiest symbols of
    each (the innermost frame's), and the number of samples."""
    counts = {c: 0 for c in CATEGORIES}
    symbols = {c: {} for c in CATEGORIES}
    n = 0
    for chain in samples(script_text):
        n += 1
        c = classify(chain)
        counts[c] += 1
        sym = chain[0][0] if chain else "[unknown]"
        symbols[c][sym] = symbols[c].get(sym, 0) + 1
    if n == 0:
        return None
    top = {c: [[sym, k / n] for sym, k in sorted(
        symbols[c].items(), key=lambda kv: -kv[1])[:3]] for c in CATEGORIES}
    return {"samples": n, "shares": {c: counts[c] / n for c in CATEGORIES},
            "top": top}


class PerfError(RuntimeError):
    """perf itself failed (not permitted, say): no use trying the others."""


def profiled(servers):
    """The servers profiled: the variants and the limit line, whose
    symbols the categories know (not the peers)."""
    return [n for n in servers if n in VARIANTS + [LIMIT]]


def seconds(config):
    return QUICK_SECONDS if config.quick else SECONDS


def planned_seconds(config, servers):
    """For the time-left estimate: warmup, the recording, perf script."""
    if not config.profile:
        return 0.0
    return len(profiled(servers)) * (config.warmup + seconds(config) + 4.0)


def run_profiles(config, servers):
    """{"cell", "seconds", "servers": {name: profile}}, or {"skipped":
    why}; says why when it skips."""
    if not config.profile:
        why = ("--quick does not record it (--profile does)" if config.quick
               else "--no-profile")
        say(f"no profile: {why}")
        return {"skipped": why}
    if shutil.which("perf") is None:
        why = "perf is not installed (scripts/install-deps installs it)"
        say(f"no profile: {why}")
        return {"skipped": why}
    out = {"cell": f"{CELL['pairs']}x{CELL['size']}",
           "seconds": seconds(config), "servers": {}}
    for name in profiled(servers):
        say(f"profiling {name} ({out['cell']}, {seconds(config):g} s)...")
        try:
            out["servers"][name] = profile_one(name, config)
        except PerfError as e:
            say(f"no profile: {e}")
            return {"skipped": str(e)}
        except (RuntimeError, subprocess.SubprocessError, ValueError) as e:
            say(f"no profile of {name}: {e}")
    return out


def profile_one(name, config):
    """One server under the load generator, recorded by perf after the
    warmup: loadgen's figures and the categories' shares."""
    data = os.path.join(LOG_DIR, f"{name}.perf.data")
    server = Server(name, config)
    try:
        cell = dict(CELL, duration=seconds(config) + 0.5)
        gen = subprocess.Popen(loadgen_command(name, cell, config, server),
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        time.sleep(config.warmup + 0.1)
        rec = subprocess.run(
            ["perf", "record", "-e", "cpu-clock", "-g", "-p",
             str(server.pid), "-o", data, "--", "sleep",
             str(seconds(config))], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, timeout=seconds(config) + 60)
        run = json.loads(gen.communicate(timeout=120)[0].decode())
    finally:
        server.stop()
    if rec.returncode != 0 or not os.path.exists(data):
        raise PerfError(perf_complaint(rec.stderr.decode(errors="replace")))
    try:
        script = subprocess.run(
            ["perf", "script", "-i", data, "-F", "comm,tid,period,ip,sym,dso"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True,
            timeout=120).stdout.decode(errors="replace")
    finally:
        os.remove(data)
    t = tally(script)
    if t is None:
        raise ValueError("perf recorded no sample")
    srv = run.get("server", {})
    return dict(t, cpu_us_per_msg=srv.get("cpu_us_per_msg"),
                msgs_per_s=run.get("msgs_per_s"))


def perf_complaint(stderr):
    """perf's reason, from its stderr ("Error:" on a line of its own, the
    reason after it)."""
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and ln.strip().lower() != "error:"]
    reasons = [ln for ln in lines if re.search(
        r"error|permi|access|paranoid", ln, re.I)]
    why = (reasons or lines or ["no message"])[0].rstrip(".")
    return f"perf record failed: {why}"
