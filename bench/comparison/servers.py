"""Building the binaries, choosing the servers to measure, and starting and
stopping one server process."""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time

from .common import (BIN, BUILD, DEFAULT_WRITE_TIMEOUT_S, LIMIT, LOG_DIR,
                     NATS, PROTOCOL, REDIS, ROOT, SHARDED_ROWS, VARIANTS,
                     hard_limit, say)

# The peers: Debian's binaries, each started on a free port of our own (a
# package's service, if running, keeps its default port).
PEER_BINARY = {REDIS: "redis-server", NATS: "nats-server"}
# How each server is asked to stop: nats-server exits 1 on SIGTERM, 0 on
# SIGINT (its "clean shutdown").
STOP_SIGNAL = {NATS: signal.SIGINT}


def peer_command(name, path, port, config):
    if name == REDIS:
        return [path, "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--maxclients", "30000", "--loglevel", "warning",
                # The routers' rule, which is Redis's: a subscriber's
                # backlog is cut at once past the hard limit, and after
                # the default --write-timeout past --max-pending.
                "--client-output-buffer-limit",
                f"pubsub {hard_limit(config.max_pending)} "
                f"{config.max_pending} {DEFAULT_WRITE_TIMEOUT_S}"]
    # Its defaults: a slow consumer is closed at the write deadline (10 s)
    # or beyond max_pending (64 MB).
    return [path, "-a", "127.0.0.1", "-p", str(port)]


# ------------------------------------------------------------ build

def present_variants():
    return [v for v in VARIANTS
            if os.path.exists(os.path.join(ROOT, v, "CMakeLists.txt"))]


def configured_variants():
    cache = os.path.join(BUILD, "CMakeCache.txt")
    if not os.path.exists(cache):
        return None
    with open(cache) as f:
        m = re.search(r"^ROUTER_VARIANTS:STRING=(.*)$", f.read(), re.M)
    return m.group(1).split(";") if m else None


def build(variants):
    present = present_variants()
    if configured_variants() != present:
        say(f"configuring build/ for {', '.join(present)}...")
        subprocess.run(["cmake", "--preset", "default",
                        "-DROUTER_VARIANTS=" + ";".join(present)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    targets = ["loadgen", "epoll_forwarder", "parser_bench"] + \
        [v for v in variants if v in present]
    say(f"building {', '.join(targets)}...")
    subprocess.run(["cmake", "--build", BUILD, "--target"] + targets,
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def choose(config):
    """The servers to measure: those asked for whose binary is there, and
    the limit line, which is in every chart."""
    servers = []
    for v in config.wanted:
        exe = SHARDED_ROWS.get(v, (v,))[0]
        if exe in VARIANTS and not os.path.exists(os.path.join(BIN, exe)):
            say(f"skipping {v}: build/bin/{exe} is missing "
                "(not in this tree?)")
        elif v in PEER_BINARY:
            path = shutil.which(PEER_BINARY[v])
            if path is None:
                say(f"skipping {v}: {PEER_BINARY[v]} is not installed "
                    f"(scripts/install-deps installs it)")
            elif not loadgen_speaks(PROTOCOL[v]):
                say(f"skipping {v}: build/bin/loadgen has no "
                    f"--protocol {PROTOCOL[v]}")
            else:
                servers.append(v)
        else:
            servers.append(v)
    if LIMIT not in servers:
        servers.append(LIMIT)
    return servers


def loadgen_speaks(protocol):
    """False if loadgen rejects --protocol PROTOCOL (a bad --pairs after it
    makes it exit at once either way)."""
    exe = os.path.join(BIN, "loadgen")
    if not os.path.exists(exe):
        return True   # the runs will say what is wrong
    err = subprocess.run([exe, "--protocol", protocol, "--pairs", "x"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         timeout=10).stderr.decode(errors="replace")
    return "loadgen: --protocol" not in err


def is_root():
    return os.geteuid() == 0


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


# ------------------------------------------------------------ one server

class Server:
    """One server process, started fresh for each measured run."""

    def __init__(self, name, config, cell=None, bin_dir=None):
        """bin_dir: where the router's binary is (default build/bin; the
        peers' come from the system's PATH)."""
        self.name = name
        # Its stderr, this run's only: truncated at each start, so the file
        # never holds more than one run's output.
        self.log = open(os.path.join(LOG_DIR, f"{name}.stderr"), "wb")
        if name in PEER_BINARY:
            self.port = free_port()
            path = shutil.which(PEER_BINARY[name])
            if path is None:
                self.log.close()
                raise RuntimeError(f"{PEER_BINARY[name]} is not installed")
            self.proc = subprocess.Popen(
                peer_command(name, path, self.port, config),
                stdout=subprocess.DEVNULL, stderr=self.log)
            wait_for_port(self.port, self.proc, PEER_BINARY[name])
            return
        binary, shards = SHARDED_ROWS.get(name, (name, None))
        exe = os.path.join(bin_dir or BIN,
                           "epoll_forwarder" if name == LIMIT else binary)
        cmd = [exe, "--port", "0", "--max-pending", str(config.max_pending)]
        if cell and cell.get("threads"):
            shards = cell["threads"]   # shards.py's runs
        if shards:
            cmd += ["--threads", str(shards)]
        if cell and cell.get("write_timeout"):
            cmd += ["--write-timeout", str(cell["write_timeout"])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.log)
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
        """SIGTERM (SIGINT for NATS); returns "" if it exited 0 within 3 s,
        else what went wrong (it died during the run, ignored the signal,
        exited non-zero)."""
        problem = ""
        sig = STOP_SIGNAL.get(self.name, signal.SIGTERM)
        if self.proc.poll() is not None:
            problem = f"died during the run (status {self.proc.returncode})"
        else:
            self.proc.send_signal(sig)
            try:
                if self.proc.wait(timeout=3) != 0:
                    problem = (f"exit status {self.proc.returncode} "
                               f"on {sig.name}")
            except subprocess.TimeoutExpired:
                problem = f"still running 3 s after {sig.name}: killed"
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return problem

    def log_lines(self):
        """What it wrote on stderr during this run, line by line."""
        with open(self.log.name, "rb") as f:
            for line in f:
                yield line.decode(errors="replace").rstrip("\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening")
