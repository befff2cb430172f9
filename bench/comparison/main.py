"""The whole job: build, choose the servers, run the plan, write
results.md, results.json and the charts; or, with --replot, rebuild the
report and the charts from results.json."""

import os
import subprocess
import time

from . import against, charts, options, servers as srv, summary
from .common import BUILD, ROOT, VARIANTS, say
from .findings import targets
from .models import per_model
from .plan import as_measured, cap_idle, idle_counts, plan, thr_cells
from .profile import run_profiles
from .report import write_report
from .runner import run_all
from .runs import parser_bench
from .syscalls import count_cells


def main(argv=None):
    args = options.parse(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.replot:
        return replot(args)
    if args.against:
        if not args.no_build:
            srv.build([v for v in args.wanted if v in VARIANTS])
        fresh_log_dir(args)
        return against.run(args)
    started = time.monotonic()
    load_before = summary.load_average()
    if not args.no_build:
        srv.build([v for v in args.wanted if v in VARIANTS])
    fresh_log_dir(args)
    servers = srv.choose(args)
    cells = plan(args)
    cap_idle(cells)
    raw, args.retried = run_all(args, servers, cells)
    s = summary.summarise(raw)
    calls = (count_cells(args, servers, thr_cells(cells)) if args.syscalls
             else {"skipped": "--no-syscalls"})
    prof = run_profiles(args, servers)
    micro = run_parser_bench(args)
    info = summary.machine()
    info["load_before"] = load_before
    drew = write_outputs(args, servers, s, micro, info, cells, prof, calls,
                         raw)
    say(f"wrote {os.path.relpath(args.out, ROOT)}/results.md"
        + (" and charts" if drew else "")
        + f" in {time.monotonic() - started:.0f} s")
    say(targets(args, servers, s, cells))


def fresh_log_dir(args):
    """The servers' stderr, one file per server, for this run only."""
    args.tmp = os.path.join(BUILD, "bench-logs")
    os.makedirs(args.tmp, exist_ok=True)
    for f in os.listdir(args.tmp):
        os.remove(os.path.join(args.tmp, f))


def run_parser_bench(args):
    try:
        say("parser micro-benchmark...")
        return parser_bench(args)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        say(f"parser_bench failed: {e}")
        return None


def write_outputs(args, servers, s, micro, info, cells, prof, calls,
                  raw=None):
    """results.md, results.json (unless replotting: raw is None) and the
    charts; returns whether the charts were drawn. prof: the profiles
    (None: results.json has none); calls: the system call counts
    (syscalls.count_cells)."""
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(write_report(args, servers, s, micro, info, cells, prof,
                             calls))
    if raw is not None:
        extra = {"per_model": per_model(servers, s, idle_counts(cells)),
                 "profile": prof, "syscalls": summary.calls_to_json(calls)}
        summary.save(os.path.join(args.out, "results.json"),
                     args, raw, s, micro, info, extra)
    if not charts.available():
        say("no charts: python3-matplotlib is not installed")
        return False
    charts.draw(args, servers, s, cells, prof, args.out)
    return True


def replot(args):
    saved = summary.Saved(os.path.join(args.out, "results.json"))
    options.set_quick(args, saved.quick)
    args.reps, args.retried = saved.reps, saved.retried
    cells = as_measured(plan(args), [k for _, k in saved.s])
    drew = write_outputs(args, saved.servers, saved.s, saved.micro,
                         saved.info, cells, saved.profile, saved.calls)
    say(f"rebuilt results.md{' and the charts' if drew else ''} "
        f"in {args.out}")
