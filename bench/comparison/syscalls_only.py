"""--syscalls-only: the counting runs of syscalls.py alone, one per server
in each throughput cell of the plan (--quick: 8 and 64 pairs x 16 B), and
none of the timed runs; writes OUT/syscalls.json and OUT/syscalls.md. A
results.md whose own run counted nothing includes syscalls.md as its
section on system calls (report.py), saying it comes from another run."""

import json
import os
import time

from . import servers as srv, summary
from .common import ROOT, fmt, generated_line, label, say
from .plan import cell_key, plan, thr_cells
from .revisions import working_tree
from .syscalls import TOTAL, count_cells, counted, kind_table


def run(config):
    """The whole --syscalls-only job."""
    started = time.monotonic()
    load_before = summary.load_average()
    servers = srv.choose(config)
    cells = thr_cells(plan(config))
    say(f"system calls only: {len(servers)} servers x {len(cells)} cells, "
        f"one counting run each: {', '.join(servers)}")
    calls = count_cells(config, servers, cells)
    if "cells" not in calls:
        raise SystemExit("bench/compare --syscalls-only: nothing counted ("
                         + calls["skipped"] + ")")
    result = {"machine": dict(summary.machine(), load_before=load_before),
              "commit": working_tree(), "quick": config.quick,
              "window": config.window, "warmup": config.warmup,
              "duration": cells[0]["duration"], "servers": servers,
              "cells": [cell_key(c) for c in cells],
              "syscalls": summary.calls_to_json(calls)}
    with open(os.path.join(config.out, "syscalls.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(config.out, "syscalls.md"), "w") as f:
        f.write(report(result, calls))
    say(f"wrote {os.path.relpath(config.out, ROOT)}/syscalls.md and "
        f"syscalls.json in {time.monotonic() - started:.0f} s")


def report(result, calls):
    """syscalls.md: the header line, the totals of every cell, then a
    table by kind per cell."""
    L = ["# System calls per message\n",
         generated_line("--syscalls-only", result),
         "Each server, started fresh, runs each cell once (closed loop, "
         f"{result['window']} frames in flight per client, "
         f"{result['warmup']:g} s of warm-up, then {result['duration']:g} "
         "s measured) while `perf stat` counts its system calls on the "
         "syscall tracepoints (`syscalls:sys_enter_*`; *other* is every "
         "call not named, from `raw_syscalls:sys_enter`) over the measured "
         "window only. Figures: calls per 1000 delivered messages. Nothing "
         "else is measured in this run (tracing slows the server). How: "
         "[bench/README.md](../bench/README.md#system-calls-per-message).\n"]
    if len(result["cells"]) > 2:
        L += totals_table(result["servers"], calls, result["cells"])
    for key in result["cells"]:
        L += kind_table(result["servers"], calls, key)
    return "\n".join(L)


def totals_table(servers, calls, keys):
    """Each server's total in every cell, one row per server."""
    def where(key):
        pairs, size = key.split("/")[1].split("x")
        return f"{pairs} x {size} B"
    L = ["**Total, every cell** (pairs x payload)\n",
         "| server | " + " | ".join(where(k) for k in keys) + " |",
         "|---|" + "---:|" * len(keys)]
    for name in servers:
        cols = [fmt((counted(calls, name, k) or {}).get(TOTAL), 1)
                for k in keys]
        L.append(f"| {label(name)} | " + " | ".join(cols) + " |")
    return L + [""]
