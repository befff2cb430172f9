"""One measured run: a fresh server, the load generator, the verdict; and
the parser micro-benchmark."""

import json
import os
import re
import subprocess

from .common import BIN, PROTOCOL, slow_disconnected
from .servers import Server


def loadgen_command(name, cell, config, server):
    cmd = [os.path.join(BIN, "loadgen"), "--port", str(server.port),
           "--server-pid", str(server.pid),
           "--protocol", PROTOCOL.get(name, "router"),
           "--pairs", str(cell["pairs"]), "--size", str(cell["size"]),
           "--duration", str(cell["duration"]),
           "--warmup", str(config.warmup),
           "--stall-after", str(config.stall_after)]
    if cell.get("rate"):
        cmd += ["--rate", str(cell["rate"])]
    else:
        cmd += ["--window", str(config.window)]
    if cell.get("idle"):
        cmd += ["--idle", str(cell["idle"])]
    if cell.get("pair_stride"):
        cmd += ["--pair-stride", str(cell["pair_stride"])]
    if cell.get("slow"):
        cmd += ["--slow-client", "--flood-bytes",
                str(int(config.flood_mb * 2**20))]
    return cmd


def run_cell(name, cell, config, bin_dir=None):
    """One measured run: loadgen's JSON, plus what the server said.
    bin_dir: where the server's binary is (default build/bin)."""
    server = Server(name, config, cell, bin_dir)
    cmd = loadgen_command(name, cell, config, server)
    try:
        # loadgen has its own hard deadline; this one only guards against a
        # load generator that itself misbehaves.
        out = subprocess.run(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=120).stdout
        result = json.loads(out.decode())
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        result = {"failed": f"loadgen: {type(e).__name__}", "stalled": True,
                  "msgs_per_s": 0}
    result["server_problem"] = server.stop()
    read_log(server, result)
    return result


# The server's own word on the slow client, besides loadgen's drain.
SLOW_CONSUMER = re.compile(r"slow consumer|max-pending|output buffer", re.I)
# What a router prints at exit: payload bytes delivered to clients, and
# payload bytes it copied in user space on their way.
COPIES = re.compile(r"^copies: delivered (\d+) bytes, copied (\d+) bytes$")


def read_log(server, result):
    """Adds to the run what the server wrote on stderr: whether it cut off
    a slow consumer, and its copy counts (absent if it printed none)."""
    slow = False
    for line in server.log_lines():
        slow = slow or bool(SLOW_CONSUMER.search(line))
        m = COPIES.match(line.strip())
        if m:
            result["copies"] = {"delivered": int(m[1]), "copied": int(m[2])}
    result["server_logged_slow_consumer"] = slow


def failed(error):
    """A run that could not be made (the server did not start)."""
    return {"failed": str(error), "stalled": True, "msgs_per_s": 0}


def short(r):
    """One run in a few words, for the progress line."""
    if r.get("failed"):
        return r["failed"]
    if not r.get("connected", True):
        return "could not connect: " + r.get("connect_error", "")
    s = f"{r['msgs_per_s']/1e3:9.1f}k msg/s"
    lat = r.get("latency_us", {})
    if r.get("rate"):
        s += f", p99 {lat.get('p99', 0):.0f} us"
    cpu = r.get("server", {}).get("cpu_us_per_msg")
    if cpu is not None:
        s += f", {cpu:.2f} us CPU/msg"
    if r.get("errors", {}).get("total"):
        s += f", {r['errors']['total']} ERRORS"
    if r.get("stalled"):
        s += ", STALLED"
    if "slow_client" in r:
        s += (", slow client disconnected" if slow_disconnected(r)
              else ", slow client kept")
    return s


def parser_bench(config):
    """bytes/s per payload size of each benchmark (parser, memchr_limit,
    memcpy_memchr_limit)."""
    exe = os.path.join(BIN, "parser_bench")
    out = subprocess.run(
        [exe, "--benchmark_format=json",
         f"--benchmark_min_time={0.05 if config.quick else 0.5}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        name, size = b["name"].split("/")
        rows.setdefault(int(size), {})[name] = b["bytes_per_second"]
    return rows
