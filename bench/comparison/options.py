"""The command line: bench/compare's options and their defaults, settled
once into a frozen Config that every module reads and none changes."""

import argparse
import dataclasses
import os

from .common import (LIMIT, NATS, PEERS, REDIS, ROOT, SHARDED_ROWS, VARIANTS,
                     hard_limit)


def parser():
    ap = argparse.ArgumentParser(
        prog="bench/compare",
        description="Runs the side-by-side comparison; writes "
        "docs/results.md, docs/results.json and docs/*.png.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run in under a minute (1 run per cell, "
                    "fewer cells), written to build/bench-quick/")
    ap.add_argument("--variants", help="comma-separated list: any of "
                    + ", ".join(VARIANTS + list(SHARDED_ROWS) + [LIMIT]
                                + PEERS))
    ap.add_argument("--reps", type=int, help="runs per cell (default 5)")
    ap.add_argument("--duration", type=float, default=1.5,
                    help="measured seconds per throughput/scale run")
    ap.add_argument("--latency-duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--rate", type=int, default=20000,
                    help="frames/s offered in the latency runs")
    ap.add_argument("--max-pending", type=int, default=8 * 2**20)
    ap.add_argument("--flood-mb", type=float,
                    help="MiB sent to the client that never reads (default: "
                    "1.5 x the hard limit, 4 x --max-pending: 48 with the "
                    "default --max-pending, past the hard limit however "
                    "much of it the sockets' buffers take)")
    ap.add_argument("--short-write-timeout", type=int, default=500,
                    help="--write-timeout (ms) of the second head-of-line "
                    "run; the first runs with the servers' default")
    ap.add_argument("--stall-after", type=float)
    ap.add_argument("--max-contention", type=float, default=0.3,
                    help="cores' worth of CPU other processes may take "
                    "during a run before it is run again")
    ap.add_argument("--retry-budget", type=float, default=0.15,
                    help="runs that may be repeated, as a fraction of all")
    ap.add_argument("--profile", action=argparse.BooleanOptionalAction,
                    help="record with perf where each server's CPU time "
                    "goes, at 8 pairs x 64 B (default: yes, but not with "
                    "--quick)")
    ap.add_argument("--syscalls", action=argparse.BooleanOptionalAction,
                    default=True,
                    help="count each server's system calls per message "
                    "by kind, in one more run per cell (perf stat; "
                    "default: yes)")
    ap.add_argument("--syscalls-only", action="store_true",
                    help="only the counting runs of --syscalls, in every "
                    "throughput cell (--quick: 8 and 64 pairs x 16 B); "
                    "writes OUT/syscalls.md and syscalls.json, which a "
                    "results.md without counts of its own includes")
    ap.add_argument("--shards-only", action="store_true",
                    help="only the runs of the reactors' shards: --threads 1 "
                    "against --threads 2 with every pair on one shard and "
                    "with every pair across two; writes OUT/shards.md and "
                    "shards.json, which results.md includes")
    ap.add_argument("--against", metavar="REV[,REV...]",
                    help="before/after: build the servers at each REV and "
                    "run them interleaved with this tree's; writes "
                    "OUT/against.md and against.json (--quick: 2 cells, "
                    "3 repetitions)")
    ap.add_argument("--out", help="directory for results.md and charts")
    ap.add_argument("--replot", action="store_true",
                    help="only rebuild results.md and the charts from "
                    "OUT/results.json")
    ap.add_argument("--no-redis", action="store_true",
                    help="do not measure Redis (skipped anyway when "
                    "redis-server is not installed)")
    ap.add_argument("--no-nats", action="store_true",
                    help="do not measure NATS (skipped anyway when "
                    "nats-server is not installed)")
    ap.add_argument("--no-build", action="store_true",
                    help="use build/bin as it is")
    ap.add_argument("--no-install", action="store_true",
                    help="do not run scripts/install-deps first (read by "
                    "bench/compare, the shell entry point)")
    return ap


@dataclasses.dataclass(frozen=True)
class Config:
    """One run's settings (the options, their defaults resolved)."""
    quick: bool
    reps: int
    duration: float
    latency_duration: float
    warmup: float
    window: int
    rate: int
    max_pending: int
    flood_mb: float
    short_write_timeout: int
    stall_after: float
    max_contention: float
    retry_budget: float
    profile: bool
    syscalls: bool
    syscalls_only: bool
    shards_only: bool
    against: str | None
    out: str
    replot: bool
    no_build: bool
    wanted: tuple           # the servers asked for, in the tables' order
    given: dict             # reps, warmup, stall_after, profile as typed

    def with_quick(self, quick, reps=None):
        """The same settings for a run made with(out) --quick (--replot: as
        the run was), and its number of repetitions if known."""
        settled = defaults(self.given, quick, self.against)
        if reps is not None:
            settled["reps"] = reps
        return dataclasses.replace(self, quick=quick, **settled)


def defaults(given, quick, against):
    """The options whose default depends on --quick (and --against)."""
    reps = (3 if quick else 5) if against else (1 if quick else 5)

    def pick(name, default):
        return given[name] if given[name] is not None else default
    return {"reps": pick("reps", reps),
            "warmup": pick("warmup", 0.1 if quick else 0.3),
            "stall_after": pick("stall_after", 0.5 if quick else 1.0),
            "profile": pick("profile", not quick)}


def parse(argv=None):
    ap = parser()
    args = ap.parse_args(argv)
    if args.syscalls_only and (args.against or args.replot
                               or not args.syscalls):
        ap.error("--syscalls-only goes with none of --against, --replot, "
                 "--no-syscalls")
    given = dict(reps=args.reps, warmup=args.warmup,
                 stall_after=args.stall_after, profile=args.profile)
    default_out = ("build/bench-against" if args.against
                   else "build/bench-quick" if args.quick else "docs")
    servers = wanted(args)
    unknown = [v for v in servers
               if v not in VARIANTS + list(SHARDED_ROWS) + [LIMIT] + PEERS]
    if unknown:
        ap.error(f"unknown variant(s): {', '.join(unknown)}")
    fields = {f.name for f in dataclasses.fields(Config)}
    plain = {k: v for k, v in vars(args).items() if k in fields}
    if plain["flood_mb"] is None:
        plain["flood_mb"] = 1.5 * hard_limit(args.max_pending) / 2**20
    plain.update(defaults(given, args.quick, args.against),
                 out=args.out or os.path.join(ROOT, default_out),
                 wanted=tuple(servers), given=given)
    return Config(**plain)


def wanted(args):
    """The servers asked for, in the order of every table and chart."""
    if args.variants:
        return args.variants.split(",")
    peers = [p for p, off in ((REDIS, args.no_redis), (NATS, args.no_nats))
             if not off]
    return VARIANTS + list(SHARDED_ROWS) + [LIMIT] + peers
