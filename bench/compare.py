#!/usr/bin/env python3
"""bench/compare: the side-by-side comparison of the five variants.

What it measures, for each variant, the limit line (bench/epoll_forwarder:
one thread, bare epoll, batched writes; a reference, not a variant) and,
when Debian's redis-server is there, Redis 7 pub/sub as a real-world peer:

  throughput  closed loop, pairs 1/8/64/512 x payload 16/256/4096 bytes:
              delivered messages/s, MB/s, server CPU time per message
  latency     open loop at a fixed rate every variant sustains: p50/p99/p99.9
  hol         the same run plus a client that never reads, flooded with
              --flood-mb: the others' throughput and p99 against the run
              without it, whether they stalled, whether the slow client was
              disconnected; the server's peak RSS (memory)
  scale       8 active pairs with 0, 1000 and 10000 idle connections open:
              throughput against the 0-idle run
  parser      the frame parser's bytes/s beside memchr (Google Benchmark)

Every cell starts a fresh server on port 0 and is repeated (median of
--reps); the repetitions are interleaved across servers so that a noisy
moment on the machine does not land on one variant only. It writes
docs/results.md, docs/results.json and the charts docs/*.png (--quick: a
smoke run in under a minute, written to build/bench-quick/ instead).

usage: bench/compare [--quick] [--variants a,b] [--reps N] [--out DIR]
                     [--no-redis] [--no-build] [--no-install]
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
BIN = os.path.join(BUILD, "bin")
VARIANTS = ["naive_mutex", "csp", "csp_channel_per_writer",
            "reactor_handrolled", "reactor_select"]
REACTORS = ["reactor_handrolled", "reactor_select"]
LIMIT = "limit"   # the epoll forwarder
REDIS = "redis"
LABEL = {LIMIT: "limit line (bare epoll)", REDIS: "Redis 7 pub/sub (peer)"}


def say(*args):
    print(*args, flush=True)


def is_root():
    return os.geteuid() == 0


# ------------------------------------------------------------ dependencies

def have_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def apt_install(packages, allowed):
    if not allowed or not is_root() or not shutil.which("apt-get"):
        return False
    say(f"installing {' '.join(packages)} from Debian's packages...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "install", "-y", "-qq"] + packages,
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq"] + packages):
        ok = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode == 0
        if ok and cmd[1] == "install":
            return True
    return False


def ensure_matplotlib(allowed):
    """Debian's python3-matplotlib lives in /usr/bin/python3's path: if
    this interpreter is another one (pyenv, a venv), re-run under it."""
    if have_matplotlib():
        return True
    system = "/usr/bin/python3"
    other = (os.path.exists(system) and os.path.realpath(sys.executable)
             != os.path.realpath(system)
             and not os.environ.get("COMPARE_REEXEC"))

    def system_has_it():
        return subprocess.run([system, "-c", "import matplotlib"],
                              stderr=subprocess.DEVNULL).returncode == 0

    if not (other and system_has_it()):
        apt_install(["python3-matplotlib"], allowed)
    if other and system_has_it():
        os.environ["COMPARE_REEXEC"] = "1"
        os.execv(system, [system] + sys.argv)
    return have_matplotlib()


def redis_binary(allowed):
    path = shutil.which("redis-server")
    if path is None and apt_install(["redis-server"], allowed):
        # The package starts a service on port 6379: we start our own.
        subprocess.run(["service", "redis-server", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        path = shutil.which("redis-server")
    return path


def raise_fd_limit(needed):
    """The servers inherit it; some use two descriptors per connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(needed, hard)
    if is_root() and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------ build

def present_variants():
    return [v for v in VARIANTS
            if os.path.exists(os.path.join(ROOT, v, "CMakeLists.txt"))]


def build(variants):
    present = present_variants()
    cache = os.path.join(BUILD, "CMakeCache.txt")
    configured = None
    if os.path.exists(cache):
        with open(cache) as f:
            m = re.search(r"^ROUTER_VARIANTS:STRING=(.*)$", f.read(), re.M)
            configured = m.group(1).split(";") if m else None
    if configured != present:
        say(f"configuring build/ for {', '.join(present)}...")
        subprocess.run(["cmake", "--preset", "default",
                        "-DROUTER_VARIANTS=" + ";".join(present)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    targets = ["loadgen", "epoll_forwarder", "parser_bench"] + \
        [v for v in variants if v in present]
    say(f"building {', '.join(targets)}...")
    subprocess.run(["cmake", "--build", BUILD, "--target"] + targets,
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


# ------------------------------------------------------------ servers

class Server:
    """One server process, started fresh for each measured run."""

    def __init__(self, name, args, redis_path=None):
        self.name = name
        self.log = open(os.path.join(args.tmp, f"{name}.stderr"), "ab")
        if name == REDIS:
            self.port = free_port()
            cmd = [redis_path, "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                   "--maxclients", "30000", "--loglevel", "warning",
                   # Like --max-pending: a subscriber that falls this far
                   # behind is disconnected.
                   "--client-output-buffer-limit",
                   f"pubsub {args.max_pending} 0 0"]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                         stderr=self.log)
            wait_for_port(self.port, self.proc)
            return
        exe = os.path.join(BIN, "epoll_forwarder" if name == LIMIT else name)
        self.proc = subprocess.Popen(
            [exe, "--port", "0", "--max-pending", str(args.max_pending)],
            stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"listening on .*:(\d+)$", line.strip())
        if not m:
            self.stop()
            raise RuntimeError(f"{name}: no 'listening on' line ({line!r})")
        self.port = int(m.group(1))

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        """SIGTERM; returns "" if it exited 0 within 3 s, else what went
        wrong (it died during the run, ignored SIGTERM, exited non-zero)."""
        problem = ""
        if self.proc.poll() is not None:
            problem = f"died during the run (status {self.proc.returncode})"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                if self.proc.wait(timeout=3) != 0:
                    problem = (f"exit status {self.proc.returncode} "
                               "on SIGTERM")
            except subprocess.TimeoutExpired:
                problem = "still running 3 s after SIGTERM: killed"
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return problem


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("redis-server exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start listening")


def run_cell(name, cell, args, redis_path):
    """One measured run: a fresh server, the load generator, the verdict."""
    server = Server(name, args, redis_path)
    log_start = os.path.getsize(server.log.name)
    cmd = [os.path.join(BIN, "loadgen"), "--port", str(server.port),
           "--server-pid", str(server.pid),
           "--protocol", "redis" if name == REDIS else "router",
           "--pairs", str(cell["pairs"]), "--size", str(cell["size"]),
           "--duration", str(cell["duration"]),
           "--warmup", str(args.warmup),
           "--stall-after", str(args.stall_after)]
    if cell.get("rate"):
        cmd += ["--rate", str(cell["rate"])]
    else:
        cmd += ["--window", str(args.window)]
    if cell.get("idle"):
        cmd += ["--idle", str(cell["idle"])]
    if cell.get("slow"):
        cmd += ["--slow-client", "--flood-bytes",
                str(int(args.flood_mb * 2**20))]
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
    with open(server.log.name, "rb") as f:
        f.seek(log_start)
        log = f.read().decode(errors="replace")
    # The server's own word on the slow client, besides loadgen's drain.
    result["server_logged_slow_consumer"] = bool(
        re.search(r"slow consumer|max-pending|output buffer", log, re.I))
    return result


# ------------------------------------------------------------ the plan

def plan(args):
    q = args.quick
    d = 0.5 if q else args.duration
    cells = []
    for pairs in ([8, 64] if q else [1, 8, 64, 512]):
        for size in ([16] if q else [16, 256, 4096]):
            cells.append({"kind": "throughput", "pairs": pairs, "size": size,
                          "duration": d})
    lat = {"pairs": 8, "size": 64, "rate": args.rate,
           "duration": 1.0 if q else args.latency_duration}
    cells.append(dict(lat, kind="latency"))
    cells.append(dict(lat, kind="hol", slow=True))
    for idle in ([0, 1000] if q else [0, 1000, 10000]):
        # Longer than the throughput runs: the ratio between two runs is
        # what matters here, and noise from elsewhere averages out.
        cells.append({"kind": "scale", "pairs": 8, "size": 16, "idle": idle,
                      "duration": d if q else args.latency_duration})
    return cells


def cell_key(cell):
    k = cell["kind"]
    if k == "throughput":
        return f"throughput/{cell['pairs']}x{cell['size']}"
    if k == "scale":
        return f"scale/{cell['idle']}"
    return k


def short(r):
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


def slow_disconnected(r):
    return bool(r.get("slow_client", {}).get("disconnected")
                or r.get("server_logged_slow_consumer"))


# ------------------------------------------------------------ summary

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(raw):
    """Medians over the repetitions of each (server, cell)."""
    s = {}
    for (name, key), runs in raw.items():
        def pick(f):
            out = []
            for r in runs:
                try:
                    out.append(f(r))
                except (KeyError, TypeError):
                    out.append(None)
            return med(out)
        s[(name, key)] = {
            "runs": len(runs),
            "msgs_per_s": pick(lambda r: r["msgs_per_s"]),
            "mb_per_s": pick(lambda r: r["mb_per_s"]),
            "min_client_msgs_per_s": pick(lambda r: r["min_client_msgs_per_s"]),
            "cpu_us_per_msg": pick(lambda r: r["server"]["cpu_us_per_msg"]),
            "p50": pick(lambda r: r["latency_us"]["p50"]),
            "p99": pick(lambda r: r["latency_us"]["p99"]),
            "p999": pick(lambda r: r["latency_us"]["p999"]),
            "peak_rss_kb": pick(lambda r: r["server"]["peak_rss_kb"]),
            "idle_held": pick(lambda r: r["idle_held"]),
            "others_cores": pick(lambda r: r["others_cores"]),
            "errors": sum(r.get("errors", {}).get("total", 0) for r in runs),
            "stalled": sum(bool(r.get("stalled")) for r in runs),
            "slow_disconnected": sum(slow_disconnected(r) for r in runs),
            "not_connected": sum(not r.get("connected", False) for r in runs),
            "server_problems": sorted({r["server_problem"] for r in runs
                                       if r.get("server_problem")}),
        }
    return s


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, digits=1, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float) and abs(v) >= 1e6:
        return f"{v/1e6:.2f}M{unit}"
    if isinstance(v, float) and abs(v) >= 1e4:
        return f"{v/1e3:.0f}k{unit}"
    return f"{v:.{digits}f}{unit}"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC")}


# ------------------------------------------------------------ parser bench

def parser_bench(args):
    exe = os.path.join(BIN, "parser_bench")
    out = subprocess.run(
        [exe, "--benchmark_format=json",
         f"--benchmark_min_time={0.05 if args.quick else 0.5}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        name, size = b["name"].split("/")
        rows.setdefault(int(size), {})[name] = b["bytes_per_second"]
    return rows


# ------------------------------------------------------------ report

def write_report(args, servers, s, micro, info):
    L = []
    w = L.append
    thr_cells = [c for c in plan(args) if c["kind"] == "throughput"]
    idles = [c["idle"] for c in plan(args) if c["kind"] == "scale"]
    w("# Benchmark results\n")
    w("Generated by `bench/compare" + (" --quick" if args.quick else "") +
      "`; do not edit by hand. Rerun it to measure your own machine.\n")
    w(f"- Machine: {info['cpu']}, {info['cores']} cores; kernel "
      f"{info['kernel']}; {info['date']}. Load average before the run "
      f"{info['load_before']}, after {info['load']}: other work on the "
      "machine makes messages/s noisy, CPU time per message much less so.")
    contention = med([r["others_cores"] for r in s.values()])
    w(f"- Other processes on the machine used a median of "
      f"{fmt(contention, 2)} cores during the measured windows; "
      f"{getattr(args, 'retried', 0)} runs during which they took more than "
      f"{args.max_contention:g} of a core were run again (the quietest try "
      "is kept).")
    w(f"- Each figure is the median of {args.reps} run(s); each run starts a "
      "fresh server on port 0. The load generator (`bench/loadgen`) shares "
      "the machine with the server, so on few cores the server's **CPU time "
      "per delivered message** is the fairest figure.")
    w(f"- **{LABEL[LIMIT]}** is `bench/epoll_forwarder`: one thread, bare "
      "epoll, batched writes. It is the physical limit of this machine for "
      "the protocol, not a sixth variant.")
    missing = [v for v in VARIANTS if v not in servers]
    if missing:
        w(f"- Not measured (binary missing or not chosen): "
          f"{', '.join(missing)}.")
    if REDIS in servers:
        w(f"- **{LABEL[REDIS]}**: Debian's redis-server, each client "
          "subscribed to its own channel and publishing to its partner's "
          "(RESP3); a production reactor on the same workload.")
    w(f"- Settings: closed loop with {args.window} frames in flight per "
      f"client, refilled {args.window // 2} at a time; latency at {args.rate} frames/s offered over 8 pairs "
      f"(64-byte payloads); `--max-pending {args.max_pending}`; flood of "
      f"{args.flood_mb:g} MB to the non-reading client. How each figure "
      "is measured, and the caveats: [bench/README.md](../bench/README.md).\n")

    # Targets first: they are what this round is judged on.
    w("## Targets of this round\n")
    w(targets(args, servers, s))

    w("\n## What this run shows\n")
    w(findings(args, servers, s))

    w("\n## Throughput (closed loop)\n")
    w(f"Each client keeps up to {args.window} frames in flight to its "
      "partner. The limit line is dashed, Redis dotted.\n")
    w("![throughput](throughput.png)\n")
    sizes = sorted({c["size"] for c in thr_cells})
    pair_counts = sorted({c["pairs"] for c in thr_cells})
    w("Each cell: messages/s, MB/s of payload, server CPU time per message "
      "(the median of each).\n")
    for size in sizes:
        w(f"**{size}-byte payloads**\n")
        w("| server | " + " | ".join(f"{p} pair{'s' if p > 1 else ''}"
                                    for p in pair_counts) + " |")
        w("|---|" + "---:|" * len(pair_counts))
        for name in servers:
            cols = []
            for p in pair_counts:
                r = s.get((name, f"throughput/{p}x{size}"))
                if not r:
                    cols.append("n/a")
                    continue
                flag = " (stalled)" if r["stalled"] * 2 > r["runs"] else ""
                cols.append(f"{fmt(r['msgs_per_s'])}/s, "
                            f"{fmt(r['mb_per_s'], 1)} MB/s, "
                            f"{fmt(r['cpu_us_per_msg'], 2)} us{flag}")
            w(f"| {label(name)} | " + " | ".join(cols) + " |")
        if size != sizes[-1]:
            w("")
    w("\n## Latency, head-of-line blocking and memory\n")
    w(f"Open loop: {args.rate} frames/s offered in total by 8 pairs; "
      "latency is one-way, from the frame's due time (a frame held back by "
      "a stalled server counts its wait). *With a slow client*: the same "
      "run, plus a client that never reads while another floods it.\n")
    w("![latency](latency.png)\n")
    w("![head-of-line blocking](hol.png)\n")
    w("| server | p50 us | p99 us | p99.9 us | with slow client: "
      "throughput | p99 | stalled | slow client disconnected | "
      "peak RSS MB (base -> slow) |")
    w("|---|---:|---:|---:|---:|---:|---|---|---|")
    for name in servers:
        a = s.get((name, "latency"))
        b = s.get((name, "hol"))
        if not a or not b:
            continue
        w(f"| {name} | {fmt(a['p50'])} | {fmt(a['p99'])} | {fmt(a['p999'])} "
          f"| {fmt(ratio(b['msgs_per_s'], a['msgs_per_s']), 2, 'x')} "
          f"| {fmt(ratio(b['p99'], a['p99']), 1, 'x')} "
          f"| {b['stalled']}/{b['runs']} runs "
          f"| {b['slow_disconnected']}/{b['runs']} runs "
          f"| {fmt(kb_mb(a['peak_rss_kb']))} -> {fmt(kb_mb(b['peak_rss_kb']))} |")
    w("\n## Idle connections\n")
    w("8 active pairs (16-byte payloads, closed loop) while idle "
      "connections are held open. Each cell: messages/s, then as a fraction "
      "of the run without idle connections, and the server's CPU time per "
      "message as a multiple of that run's (the steadier figure). A server "
      "that watches every socket on every event pays for each idle one.\n")
    w("![scale](scale.png)\n")
    w("| server | " + " | ".join(f"{i} idle" for i in idles) + " |")
    w("|---|" + "---:|" * len(idles))
    for name in servers:
        base = s.get((name, "scale/0"), {}).get("msgs_per_s")
        base_cpu = s.get((name, "scale/0"), {}).get("cpu_us_per_msg")
        cols = []
        for i in idles:
            r = s.get((name, f"scale/{i}"))
            if not r:
                cols.append("n/a")
            elif r["not_connected"]:
                cols.append("could not connect")
            else:
                held = r.get("idle_held")
                note = (f", only {held:.0f} held" if held is not None
                        and held < i else "")
                cpu = ratio(r["cpu_us_per_msg"], base_cpu)
                cols.append(f"{fmt(r['msgs_per_s'])}/s "
                            f"({fmt(ratio(r['msgs_per_s'], base), 2, 'x')}), "
                            f"CPU/msg {fmt(cpu, 2, 'x')}{note}")
        w(f"| {name} | " + " | ".join(cols) + " |")
    if micro:
        w("\n## Frame parser (micro-benchmark)\n")
        w("`build/bin/parser_bench`: bytes/s through `common::frame_parser` "
          "(copy in as a read would, then every frame out), beside `memchr` "
          "over the same bytes (its limit) and memcpy + memchr.\n")
        w("| payload | parser GB/s | memchr GB/s | memcpy+memchr GB/s | "
          "parser / memcpy+memchr |")
        w("|---:|---:|---:|---:|---:|")
        for size, r in sorted(micro.items()):
            p, m, mm = (r.get("parser"), r.get("memchr_limit"),
                        r.get("memcpy_memchr_limit"))
            w(f"| {size} | {fmt(gb(p), 2)} | {fmt(gb(m), 2)} | "
              f"{fmt(gb(mm), 2)} | {fmt(ratio(p, mm), 2, 'x')} |")
    problems = []
    for (name, key), r in sorted(s.items()):
        if r["errors"]:
            problems.append(f"{name} {key}: {r['errors']} frame errors")
        if r["stalled"] and key != "hol":
            problems.append(
                f"{name} {key}: stalled in {r['stalled']}/{r['runs']} runs "
                f"(a client received nothing for {args.stall_after:g} s "
                "while frames were on their way to it)")
        if r["not_connected"]:
            problems.append(f"{name} {key}: could not connect in "
                            f"{r['not_connected']} runs")
        for p in r["server_problems"]:
            problems.append(f"{name} {key}: the server {p}")
    w("\n## Anomalies\n")
    w("\n".join(f"- {p}" for p in problems) if problems else
      "None: every frame was verified (right partner, intact, in order) and "
      "no run stalled outside the slow-client test.")
    return "\n".join(L) + "\n"


def findings(args, servers, s):
    """The article's claims, one line per server, from this run's medians."""
    out = []
    thr = [c for c in plan(args) if c["kind"] == "throughput"]
    ref = "throughput/64x16" if any(cell_key(c) == "throughput/64x16"
                                     for c in thr) else cell_key(thr[-1])
    ref_txt = ref.split("/")[1].replace("x", " pairs x ") + " B"
    lim = s.get((LIMIT, ref), {})
    out.append(f"**Distance to the limit line** ({ref_txt}; the limit "
               f"delivers {fmt(lim.get('msgs_per_s'))} msg/s at "
               f"{fmt(lim.get('cpu_us_per_msg'), 2)} us of CPU each):")
    for n in servers:
        r = s.get((n, ref))
        if n == LIMIT or not r:
            continue
        out.append(f"- {n}: {fmt(ratio(r['msgs_per_s'], lim.get('msgs_per_s')), 2, 'x')} "
                   f"its messages/s, "
                   f"{fmt(ratio(r['cpu_us_per_msg'], lim.get('cpu_us_per_msg')), 1, 'x')} "
                   "its CPU per message.")
    out.append("\n**A client that never reads** (head-of-line blocking and "
               "memory; the others' figures against the same run without "
               "it):")
    for n in servers:
        a, b = s.get((n, "latency")), s.get((n, "hol"))
        if not a or not b:
            continue
        t = fmt(ratio(b["msgs_per_s"], a["msgs_per_s"]), 2, "x")
        grown = None
        if a["peak_rss_kb"] and b["peak_rss_kb"]:
            grown = (b["peak_rss_kb"] - a["peak_rss_kb"]) / 1024
        mem = f"peak RSS {'+' if (grown or 0) >= 0 else ''}{fmt(grown)} MB"
        if b["stalled"] * 2 > b["runs"]:
            out.append(f"- {n}: **stalled** in {b['stalled']}/{b['runs']} "
                       f"runs: the others' throughput fell to {t}, their "
                       f"p99 to {fmt(b['p99'] / 1e3 if b['p99'] else None)} "
                       f"ms; {mem}.")
        else:
            disc = ("the slow client was disconnected"
                    if b["slow_disconnected"] * 2 > b["runs"]
                    else "the slow client was kept")
            out.append(f"- {n}: the others kept {t} of their throughput, "
                       f"p99 {fmt(ratio(b['p99'], a['p99']), 1, 'x')}; "
                       f"{disc}; {mem} (bound: 2 x --max-pending = "
                       f"{2 * args.max_pending / 2**20:.0f} MB).")
    idles = [c["idle"] for c in plan(args) if c["kind"] == "scale"]
    top = max(idles)
    out.append(f"\n**Idle connections** (throughput with {top:,} idle "
               "against none):")
    for n in servers:
        a, b = s.get((n, "scale/0")), s.get((n, f"scale/{top}"))
        if not a or not b:
            continue
        held = b.get("idle_held")
        note = (f" (the server held only {held:.0f} of them)"
                if held is not None and held < top else "")
        out.append(f"- {n}: throughput "
                   f"{fmt(ratio(b['msgs_per_s'], a['msgs_per_s']), 2, 'x')}, "
                   "CPU per message "
                   f"{fmt(ratio(b['cpu_us_per_msg'], a['cpu_us_per_msg']), 2, 'x')}"
                   f"{note}.")
    return "\n".join(out)


def kb_mb(kb):
    return None if kb is None else kb / 1024


def gb(v):
    return None if v is None else v / 1e9


def targets(args, servers, s):
    rows = []

    def row(what, value, ok):
        verdict = "n/a" if ok is None else ("met" if ok else "**missed**")
        rows.append(f"| {what} | {value} | {verdict} |")

    h = "reactor_handrolled"
    if h in servers and not args.quick:
        thr = s.get((h, "throughput/64x16"), {})
        lim = s.get((LIMIT, "throughput/64x16"), {})
        r1 = ratio(thr.get("msgs_per_s"), lim.get("msgs_per_s"))
        row("reactor_handrolled, 64 pairs x 16 B: msg/s vs limit (>= 0.5)",
            fmt(r1, 2, "x"), None if r1 is None else r1 >= 0.5)
        r2 = ratio(thr.get("cpu_us_per_msg"), lim.get("cpu_us_per_msg"))
        row("reactor_handrolled, 64 pairs x 16 B: CPU/msg vs limit (<= 2)",
            fmt(r2, 2, "x"), None if r2 is None else r2 <= 2)
        r3 = ratio(s.get((h, "scale/10000"), {}).get("msgs_per_s"),
                   s.get((h, "scale/0"), {}).get("msgs_per_s"))
        row("reactor_handrolled, 10 000 idle: throughput vs 0 idle (>= 0.8)",
            fmt(r3, 2, "x"), None if r3 is None else r3 >= 0.8)
    for v in REACTORS:
        if v not in servers:
            continue
        a, b = s.get((v, "latency"), {}), s.get((v, "hol"), {})
        r = ratio(b.get("msgs_per_s"), a.get("msgs_per_s"))
        row(f"{v}, slow client: throughput vs baseline (>= 0.9)",
            fmt(r, 2, "x"), None if r is None else r >= 0.9)
        if a.get("peak_rss_kb") and b.get("peak_rss_kb"):
            grown = (b["peak_rss_kb"] - a["peak_rss_kb"]) * 1024
            limit = 2 * args.max_pending
            row(f"{v}, slow client: peak RSS above baseline (< 2 x "
                f"--max-pending = {limit/2**20:.0f} MB)",
                f"{grown/2**20:.1f} MB", grown < limit)
    if not rows:
        return ("No target applies to the servers measured"
                + (" (--quick does not judge them)." if args.quick else "."))
    return "| target | measured | verdict |\n|---|---:|---|\n" + "\n".join(rows)


# ------------------------------------------------------------ charts

STYLE = {
    "naive_mutex": dict(color="#d62728", marker="o"),
    "csp": dict(color="#ff7f0e", marker="s"),
    "csp_channel_per_writer": dict(color="#bcbd22", marker="D"),
    "reactor_handrolled": dict(color="#1f77b4", marker="^"),
    "reactor_select": dict(color="#17becf", marker="v"),
    LIMIT: dict(color="black", linestyle="--", linewidth=2.5, marker=""),
    REDIS: dict(color="#7f7f7f", linestyle=":", linewidth=2, marker="x"),
}


def label(name):
    return LABEL.get(name, name)


def charts(args, servers, s, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    cells = plan(args)
    sizes = sorted({c["size"] for c in cells if c["kind"] == "throughput"})
    pairs = sorted({c["pairs"] for c in cells if c["kind"] == "throughput"})

    # Throughput and CPU per message against the number of pairs.
    fig, axes = plt.subplots(2, len(sizes), figsize=(5 * len(sizes), 8),
                             squeeze=False)
    for j, size in enumerate(sizes):
        for name in servers:
            xs, ys, cs = [], [], []
            for p in pairs:
                r = s.get((name, f"throughput/{p}x{size}"))
                if r and r["msgs_per_s"]:
                    xs.append(p)
                    ys.append(r["msgs_per_s"])
                    cs.append(r["cpu_us_per_msg"])
            if not xs:
                continue
            axes[0][j].plot(xs, ys, label=label(name), **STYLE[name])
            axes[1][j].plot(xs, cs, label=label(name), **STYLE[name])
        axes[0][j].set_title(f"{size}-byte payloads")
        axes[0][j].set_ylabel("delivered messages/s")
        axes[1][j].set_ylabel("server CPU time per message (us)")
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("client pairs")
            ax.set_xticks(pairs, [str(p) for p in pairs])
            ax.grid(True, which="both", alpha=0.3)
    for ax in axes.flat:
        ax.yaxis.set_major_formatter(ticker.EngFormatter(sep=""))
        ax.yaxis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(ticker.EngFormatter(sep=""))
        ax.tick_params(axis="y", which="minor", labelsize=7)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Top: delivered messages/s (higher is better)\n"
                 "Bottom: server CPU per message (lower is better)")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "throughput.png"), dpi=90)
    plt.close(fig)

    def bars(ax, names, values, **kw):
        xs = range(len(names))
        ax.bar(xs, [v or 0 for v in values],
               color=[STYLE[n]["color"] for n in names],
               hatch=None, edgecolor="black", **kw)
        ax.set_xticks(list(xs), [label(n).replace(" (", "\n(") for n in names],
                      rotation=30, ha="right", fontsize=8)

    # Latency percentiles, grouped per server.
    names = [n for n in servers if s.get((n, "latency"))]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.27
    for k, (q, shade) in enumerate((("p50", 0.35), ("p99", 0.65),
                                    ("p999", 1.0))):
        vals = [s[(n, "latency")][q] or 0 for n in names]
        ax.bar([i + (k - 1) * width for i in range(len(names))], vals, width,
               color=[STYLE[n]["color"] for n in names], alpha=shade,
               edgecolor="black", label=q.replace("p999", "p99.9"))
    ax.set_xticks(range(len(names)), [label(n).replace(" (", "\n(")
                                      for n in names],
                  rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.EngFormatter(sep=""))
    ax.set_ylabel("one-way latency (us)")
    ax.set_title(f"Latency at {args.rate} frames/s offered "
                 "(bars: p50, p99, p99.9; lower is better)")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "latency.png"), dpi=90)
    plt.close(fig)

    # Head-of-line blocking: the others' throughput, and memory.
    names = [n for n in servers if s.get((n, "hol")) and s.get((n, "latency"))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    thr = [ratio(s[(n, "hol")]["msgs_per_s"], s[(n, "latency")]["msgs_per_s"])
           for n in names]
    bars(ax1, names, thr)
    for i, n in enumerate(names):
        r = s[(n, "hol")]
        note = "STALLED" if r["stalled"] * 2 > r["runs"] else ""
        if r["slow_disconnected"] * 2 > r["runs"]:
            note += ("\n" if note else "") + "slow client\ndisconnected"
        ax1.text(i, (thr[i] or 0) + 0.02, note, ha="center", fontsize=7)
    ax1.axhline(1.0, color="grey", linewidth=1)
    ax1.set_ylim(0, 1.35)
    ax1.set_ylabel("others' throughput with a slow client / without")
    ax1.set_title("Head-of-line blocking (higher is better)")
    base = [kb_mb(s[(n, "latency")]["peak_rss_kb"]) or 0 for n in names]
    peak = [kb_mb(s[(n, "hol")]["peak_rss_kb"]) or 0 for n in names]
    xs = range(len(names))
    ax2.bar([x - 0.2 for x in xs], base, 0.4, color="#cccccc",
            edgecolor="black", label="without slow client")
    ax2.bar([x + 0.2 for x in xs], peak, 0.4,
            color=[STYLE[n]["color"] for n in names], edgecolor="black",
            label="with slow client")
    bound = 2 * args.max_pending / 2**20
    for x, b in zip(xs, base):
        ax2.hlines(b + bound, x - 0.45, x + 0.45, color="black",
                   linestyle=":",
                   label="baseline + 2 x --max-pending" if x == 0 else None)
    ax2.set_xticks(list(xs), [label(n).replace(" (", "\n(") for n in names],
                   rotation=30, ha="right", fontsize=8)
    ax2.set_ylim(0, 1.25 * max([b + bound for b in base] + peak + [1]))
    ax2.set_ylabel("server peak RSS (MB)")
    ax2.set_title("Memory while a client does not read")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "hol.png"), dpi=90)
    plt.close(fig)

    # Idle connections.
    idles = [c["idle"] for c in cells if c["kind"] == "scale"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    for name in servers:
        base = s.get((name, "scale/0"), {})
        xs, ys, cs = [], [], []
        for i in idles:
            r = s.get((name, f"scale/{i}"))
            v = ratio(r["msgs_per_s"], base.get("msgs_per_s")) if r else None
            c = (ratio(r["cpu_us_per_msg"], base.get("cpu_us_per_msg"))
                 if r else None)
            if v is not None and c is not None:
                xs.append(i)
                ys.append(v)
                cs.append(c)
        if xs:
            ax.plot(xs, ys, label=label(name), **STYLE[name])
            ax2.plot(xs, cs, label=label(name), **STYLE[name])
    for a in (ax, ax2):
        a.set_xscale("symlog", linthresh=1000)
        a.set_xticks(idles, [f"{i:,}" for i in idles])
        a.set_xlabel("idle connections held open")
        a.axhline(1.0, color="grey", linewidth=1)
        a.grid(True, which="both", alpha=0.3)
    ax.set_ylabel("throughput / throughput with 0 idle")
    ax.set_ylim(0, max(1.3, ax.get_ylim()[1]))
    ax.set_title("Throughput among idle connections (higher is better)")
    ax.legend(fontsize=8)
    ax2.set_yscale("log")
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(min(lo, 0.5), max(hi, 2.0))
    times = ticker.FuncFormatter(lambda v, _: f"{v:g}x")
    ax2.yaxis.set_major_formatter(times)
    ax2.yaxis.set_minor_formatter(times)
    ax2.tick_params(axis="y", which="minor", labelsize=7)
    ax2.set_ylabel("server CPU per message / same with 0 idle")
    ax2.set_title("Cost per message among idle connections "
                  "(lower is better)")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "scale.png"), dpi=90)
    plt.close(fig)


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(
        description="Runs the side-by-side comparison; writes "
        "docs/results.md and docs/*.png.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run in under a minute (1 run per cell, "
                    "fewer cells), written to build/bench-quick/")
    ap.add_argument("--variants", help="comma-separated list: any of "
                    + ", ".join(VARIANTS) + f", {LIMIT}, {REDIS}")
    ap.add_argument("--reps", type=int, help="runs per cell (default 3)")
    ap.add_argument("--duration", type=float, default=1.5,
                    help="measured seconds per throughput/scale run")
    ap.add_argument("--latency-duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--rate", type=int, default=20000,
                    help="frames/s offered in the latency runs")
    ap.add_argument("--max-pending", type=int, default=8 * 2**20)
    ap.add_argument("--flood-mb", type=float, default=24)
    ap.add_argument("--stall-after", type=float)
    ap.add_argument("--max-contention", type=float, default=0.3,
                    help="cores' worth of CPU other processes may take "
                    "during a run before it is run again")
    ap.add_argument("--retry-budget", type=float, default=0.15,
                    help="runs that may be repeated, as a fraction of all")
    ap.add_argument("--out", help="directory for results.md and charts")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the charts from OUT/results.json")
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-install", action="store_true",
                    help="never apt-get install missing tools")
    args = ap.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.warmup is None:
        args.warmup = 0.1 if args.quick else 0.3
    if args.stall_after is None:
        args.stall_after = 0.5 if args.quick else 1.0
    args.out = args.out or os.path.join(
        ROOT, "build/bench-quick" if args.quick else "docs")
    os.makedirs(args.out, exist_ok=True)
    if args.replot:
        ensure_matplotlib(not args.no_install)
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        s, servers = {}, []
        for k, v in saved["medians"].items():
            name, key = k.split(" ", 1)
            s[(name, key)] = v
            if name not in servers:
                servers.append(name)
        charts(args, servers, s, args.out)
        say(f"redrew the charts in {args.out}")
        return
    args.tmp = os.path.join(BUILD, "bench-logs")
    started = time.monotonic()
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())

    can_chart = ensure_matplotlib(not args.no_install)
    # --quick runs Redis only if it is already installed.
    with_redis = not args.no_redis and (
        not args.quick or shutil.which("redis-server"))
    wanted = (args.variants.split(",") if args.variants
              else VARIANTS + [LIMIT] + ([REDIS] if with_redis else []))
    unknown = [v for v in wanted if v not in VARIANTS + [LIMIT, REDIS]]
    if unknown:
        ap.error(f"unknown variant(s): {', '.join(unknown)}")
    if not args.no_build:
        build([v for v in wanted if v in VARIANTS])
    os.makedirs(args.tmp, exist_ok=True)
    for f in os.listdir(args.tmp):
        os.remove(os.path.join(args.tmp, f))

    servers = []
    for v in wanted:
        if v in VARIANTS and not os.path.exists(os.path.join(BIN, v)):
            say(f"skipping {v}: build/bin/{v} is missing (not in this tree?)")
        else:
            servers.append(v)
    redis_path = None
    if REDIS in servers:
        redis_path = redis_binary(not args.no_install)
        if redis_path is None:
            say("skipping redis: redis-server is not installed "
                "(apt-get install redis-server)")
            servers.remove(REDIS)
    # The limit line is in every chart: measure it even if not asked for.
    if LIMIT not in servers:
        servers.append(LIMIT)

    cells = plan(args)
    idle_max = max(c.get("idle", 0) for c in cells)
    limit = raise_fd_limit(2 * idle_max + 4096)
    if limit < idle_max + 1100:
        fit = max(0, (limit - 1100) // 1000 * 1000)
        say(f"descriptor limit {limit}: idle connections capped at {fit}")
        for c in cells:
            if c.get("idle", 0) > fit:
                c["idle"] = fit

    total = len(cells) * len(servers) * args.reps
    say(f"{len(servers)} servers x {len(cells)} cells x {args.reps} runs = "
        f"{total} runs: {', '.join(servers)}")
    raw = {}
    n = 0
    # A run during which other processes took more than --max-contention
    # of a core is run again (within a budget), keeping the quietest try.
    # The budget is per server, so the first servers cannot spend it all.
    retry_budget = 0 if args.quick else int(
        len(cells) * args.reps * args.retry_budget)
    retried_by = {name: 0 for name in servers}
    for rep in range(args.reps):
        for name in servers:
            for cell in cells:
                n += 1
                key = cell_key(cell)
                best = None
                for attempt in range(3):
                    try:
                        r = run_cell(name, cell, args, redis_path)
                    except RuntimeError as e:
                        r = {"failed": str(e), "stalled": True,
                             "msgs_per_s": 0}
                    if best is None or (r.get("others_cores", 0)
                                        < best.get("others_cores", 0)):
                        best = r
                    if (best.get("others_cores", 0) <= args.max_contention
                            or retried_by[name] >= retry_budget):
                        break
                    retried_by[name] += 1
                    say(f"      ({name} {key}: other processes took "
                        f"{r.get('others_cores', 0):.2f} of a core; "
                        "running it again)")
                best["attempts"] = attempt + 1
                raw.setdefault((name, key), []).append(best)
                say(f"[{n:3}/{total}] {name:24} {key:22} rep {rep+1}: "
                    f"{short(best)}")
    args.retried = sum(retried_by.values())

    s = summarise(raw)
    micro = None
    try:
        say("parser micro-benchmark...")
        micro = parser_bench(args)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        say(f"parser_bench failed: {e}")
    info = machine()
    info["load_before"] = load_before
    report = write_report(args, servers, s, micro, info)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(report)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": info, "quick": args.quick, "reps": args.reps,
                   "runs": {f"{k[0]} {k[1]}": v for k, v in raw.items()},
                   "medians": {f"{k[0]} {k[1]}": v for k, v in s.items()},
                   "parser_bench": micro}, f, indent=1)
    if can_chart:
        charts(args, servers, s, args.out)
    else:
        say("no charts: python3-matplotlib is not installed")
    say(f"wrote {os.path.relpath(args.out, ROOT)}/results.md"
        + (" and charts" if can_chart else "")
        + f" in {time.monotonic() - started:.0f} s")
    say(targets(args, servers, s))


if __name__ == "__main__":
    main()
