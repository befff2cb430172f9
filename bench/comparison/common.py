"""Paths, the servers' names and labels, and the small helpers every module
uses to format figures."""

import os
import statistics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
BIN = os.path.join(BUILD, "bin")
# The servers' stderr, one file per server, truncated at each start.
LOG_DIR = os.path.join(BUILD, "bench-logs")
# models.txt: one line per model, name then family (its header says more).
with open(os.path.join(ROOT, "models.txt")) as _f:
    _MODELS = [line.split() for line in _f
               if line.strip() and not line.startswith("#")]
VARIANTS = [m[0] for m in _MODELS]
REACTORS = [m[0] for m in _MODELS if m[1] == "reactor"]
# The models that queue for a slow reader, up to the hard limit.
QUEUING = [m[0] for m in _MODELS if m[2] == "queuing"]
# Rows that run a variant's binary with --threads: the reactors' shards
# (docs/08-past-one-core.md). name: (binary, shards).
SHARDED_ROWS = {"reactor_handrolled_t2": ("reactor_handrolled", 2)}
# common::hard_pending_factor: a backlog that would pass this many times
# --max-pending is cut at once (docs/protocol.md, "Command line").
HARD_PENDING_FACTOR = 4
# The routers' default --write-timeout, in seconds: how long a backlog may
# stay past --max-pending below the hard limit.
DEFAULT_WRITE_TIMEOUT_S = 10
LIMIT = "limit"   # the epoll forwarder
REDIS = "redis"
NATS = "nats"
PEERS = [REDIS, NATS]   # real-world servers, driven through an adapter
PROTOCOL = {REDIS: "redis", NATS: "nats"}   # loadgen's; the rest: router
LABEL = {LIMIT: "limit line (bare epoll)", REDIS: "Redis 7 pub/sub (peer)",
         NATS: "NATS 2.9 core pub/sub (peer)",
         **{row: f"{binary} --threads {n}"
            for row, (binary, n) in SHARDED_ROWS.items()}}


def say(*args):
    print(*args, flush=True)


def label(name):
    return LABEL.get(name, name)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


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


def hard_limit(max_pending):
    return HARD_PENDING_FACTOR * max_pending


def kb_mb(kb):
    return None if kb is None else kb / 1024


def gb(v):
    return None if v is None else v / 1e9


def slow_disconnected(r):
    return bool(r.get("slow_client", {}).get("disconnected")
                or r.get("server_logged_slow_consumer"))


def mostly(count, runs):
    """True if more than half of the runs had it."""
    return count * 2 > runs
