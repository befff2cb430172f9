"""The whole job: build, choose the servers, run the plan, write
results.md, results.json and the charts; or, with --replot, rebuild the
report and the charts from results.json; or, with --against, compare this
tree's servers with another revision's (against.py); or, with
--syscalls-only, only count their system calls (syscalls_only.py)."""

import os
import subprocess
import time

from . import (against, charts, options, servers as srv, shards, summary,
               syscalls_only)
from .common import LOG_DIR, ROOT, VARIANTS, say
from .findings import targets
from .models import per_model
from .plan import cap_idle, plan, thr_cells
from .profile import run_profiles
from .report import write_report
from .runner import run_all
from .runs import parser_bench
from .syscalls import count_cells


def main(argv=None):
    config = options.parse(argv)
    os.makedirs(config.out, exist_ok=True)
    if config.replot:
        return replot(config)
    if not config.no_build:
        srv.build([v for v in config.wanted if v in VARIANTS])
    fresh_log_dir()
    if config.against:
        return against.run(config)
    if config.syscalls_only:
        return syscalls_only.run(config)
    if config.shards_only:
        return shards.run(config)
    started = time.monotonic()
    results = measure(config)
    drew = write_outputs(results, save=True)
    say(f"wrote {os.path.relpath(config.out, ROOT)}/results.md"
        + (" and charts" if drew else "")
        + f" in {time.monotonic() - started:.0f} s")
    say(targets(results))


def measure(config):
    """Every run of the plan, the system call counts, the profiles and
    the parser benchmark."""
    load_before = summary.load_average()
    servers = srv.choose(config)
    cells = plan(config)
    cap_idle(cells)
    runs, retried = run_all(config, servers, cells)
    calls = (count_cells(config, servers, thr_cells(cells))
             if config.syscalls else {"skipped": "--no-syscalls"})
    profile = run_profiles(config, servers)
    parser = run_parser_bench(config)
    return summary.Results(
        config=config, servers=servers, cells=cells, runs=runs,
        medians=summary.summarise(runs), parser=parser,
        machine=dict(summary.machine(), load_before=load_before),
        profile=profile, calls=calls, retried=retried)


def fresh_log_dir():
    """The servers' stderr, one file per server, for this run only."""
    os.makedirs(LOG_DIR, exist_ok=True)
    for f in os.listdir(LOG_DIR):
        os.remove(os.path.join(LOG_DIR, f))


def run_parser_bench(config):
    try:
        say("parser micro-benchmark...")
        return parser_bench(config)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        say(f"parser_bench failed: {e}")
        return None


def write_outputs(results, save):
    """results.md, results.json (if save: not when replotting) and the
    charts; returns whether the charts were drawn."""
    out = results.config.out
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(write_report(results))
    if save:
        results.save(os.path.join(out, "results.json"),
                     {"per_model": per_model(results)})
    if not charts.available():
        say("no charts: python3-matplotlib is not installed")
        return False
    charts.draw(results)
    return True


def replot(config):
    results = summary.load(os.path.join(config.out, "results.json"), config)
    drew = write_outputs(results, save=False)
    say(f"rebuilt results.md{' and the charts' if drew else ''} "
        f"in {config.out}")
