"""The command line: bench/compare's options and their defaults."""

import argparse
import os

from .common import LIMIT, NATS, PEERS, REDIS, ROOT, VARIANTS


def parser():
    ap = argparse.ArgumentParser(
        prog="bench/compare",
        description="Runs the side-by-side comparison; writes "
        "docs/results.md, docs/results.json and docs/*.png.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run in under a minute (1 run per cell, "
                    "fewer cells), written to build/bench-quick/")
    ap.add_argument("--variants", help="comma-separated list: any of "
                    + ", ".join(VARIANTS + [LIMIT] + PEERS))
    ap.add_argument("--reps", type=int, help="runs per cell (default 5)")
    ap.add_argument("--duration", type=float, default=1.5,
                    help="measured seconds per throughput/scale run")
    ap.add_argument("--latency-duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--rate", type=int, default=20000,
                    help="frames/s offered in the latency runs")
    ap.add_argument("--max-pending", type=int, default=8 * 2**20)
    ap.add_argument("--flood-mb", type=float, default=24)
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


def parse(argv=None):
    ap = parser()
    args = ap.parse_args(argv)
    args.given = dict(reps=args.reps, warmup=args.warmup,
                      stall_after=args.stall_after, profile=args.profile)
    set_quick(args, args.quick)
    default_out = ("build/bench-against" if args.against
                   else "build/bench-quick" if args.quick else "docs")
    args.out = args.out or os.path.join(ROOT, default_out)
    args.retried = 0
    args.wanted = wanted(args)
    unknown = [v for v in args.wanted if v not in VARIANTS + [LIMIT] + PEERS]
    if unknown:
        ap.error(f"unknown variant(s): {', '.join(unknown)}")
    return args


def set_quick(args, quick):
    """--quick, and the defaults that depend on it (--replot: as the run
    was)."""
    args.quick = quick
    g = args.given
    args.reps = g["reps"] if g["reps"] is not None else (1 if quick else 5)
    args.warmup = (g["warmup"] if g["warmup"] is not None
                   else (0.1 if quick else 0.3))
    args.stall_after = (g["stall_after"] if g["stall_after"] is not None
                        else (0.5 if quick else 1.0))
    args.profile = g["profile"] if g["profile"] is not None else not quick


def wanted(args):
    """The servers asked for, in the order of every table and chart."""
    if args.variants:
        return args.variants.split(",")
    peers = [p for p, off in ((REDIS, args.no_redis), (NATS, args.no_nats))
             if not off]
    return VARIANTS + [LIMIT] + peers
