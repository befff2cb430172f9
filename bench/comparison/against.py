"""--against REV[,REV...]: the servers of this working tree ("now") against
the same servers built at each REV ("then"), run interleaved in every cell
with the same (current) load generator; writes OUT/against.md and
OUT/against.json.

In each repetition, every server's runs of one cell follow each other,
now and then back to back, in the opposite order every other repetition;
each repetition thus gives a paired ratio now / then, and a figure is the
median of those ratios, with their lowest and highest beside it. The
system calls per message of each side come from one more run per cell
(syscalls.py), which tracing slows, so it is not among the timed runs."""

import json
import os
import time

from . import summary, syscalls
from .common import BIN, LIMIT, ROOT, VARIANTS, fmt, med, say
from .plan import cell_key
from .revisions import BINARY, Revision, build, working_tree
from .runner import quietest
from .runs import short

# (pairs, payload bytes): 8 x 64 B is the cell the profile records.
QUICK_CELLS = [(8, 64), (64, 16)]
FULL_CELLS = [(1, 16), (8, 16), (8, 64), (64, 16), (64, 4096)]
QUICK_DURATION = 1.0
NOW = "now"
FIGURES = {"cpu_us_per_msg": lambda r: r["server"]["cpu_us_per_msg"],
           "msgs_per_s": lambda r: r["msgs_per_s"]}


def cells_of(config):
    pairs_sizes = QUICK_CELLS if config.quick else FULL_CELLS
    duration = QUICK_DURATION if config.quick else config.duration
    return [{"kind": "throughput", "pairs": p, "size": z,
             "duration": duration} for p, z in pairs_sizes]


def run(config):
    """The whole --against job."""
    started = time.monotonic()
    wanted = [n for n in config.wanted if n in VARIANTS + [LIMIT]]
    for name in [n for n in wanted if not os.path.exists(
            os.path.join(BIN, BINARY.get(n, n)))]:
        say(f"skipping {name}: build/bin/{BINARY.get(name, name)} is "
            "missing")
        wanted.remove(name)
    revisions = [Revision(rev) for rev in config.against.split(",")]
    for revision in revisions:
        build(revision, wanted)
    sides = {NOW: None, **{r.label: r.bin_dir for r in revisions}}
    servers = {name: [NOW] + [r.label for r in revisions
                              if name in r.servers(wanted)]
               for name in wanted}
    servers = {name: s for name, s in servers.items() if len(s) > 1}
    if not servers:
        raise SystemExit("bench/compare --against: no server to compare "
                         "(the five variants and the limit line are; "
                         "Redis and NATS do not change with a revision)")
    cells = cells_of(config)
    load_before = summary.load_average()
    runs = run_interleaved(config, servers, sides, cells)
    counts = count_syscalls(config, servers, sides, cells)
    info = dict(summary.machine(), load_before=load_before)
    result = {"machine": info, "quick": config.quick, "reps": config.reps,
              "now": working_tree(),
              "revisions": {r.label: r.as_json() for r in revisions},
              "cells": [cell_key(c) for c in cells],
              "servers": servers,
              "runs": {" ".join(k): v for k, v in runs.items()},
              "syscalls": counts}
    with open(os.path.join(config.out, "against.json"), "w") as f:
        json.dump(result, f, indent=1)
    text = report(result, command(config))
    with open(os.path.join(config.out, "against.md"), "w") as f:
        f.write(text)
    say(text)
    say(f"wrote {os.path.relpath(config.out, ROOT)}/against.md and "
        f"against.json in {time.monotonic() - started:.0f} s")


def command(config):
    return ("bench/compare --against " + config.against
            + (" --quick" if config.quick else "")
            + (f" --reps {config.reps}" if config.given["reps"] else ""))


def run_interleaved(config, servers, sides, cells):
    """{(server, cell key, side): [run of each repetition]}."""
    jobs = []
    for rep in range(config.reps):
        for cell in cells:
            for name, names in servers.items():
                order = names if rep % 2 == 0 else names[::-1]
                jobs += [(rep, cell, name, side) for side in order]
    say(f"{len(servers)} servers x {len(cells)} cells x {config.reps} "
        f"repetitions, now and then: {len(jobs)} runs")
    budget = 0 if config.quick else int(len(cells) * config.reps
                                        * config.retry_budget)
    retried_by = {(n, s): 0 for n, names in servers.items() for s in names}
    runs = {}
    started = time.monotonic()
    for n, (rep, cell, name, side) in enumerate(jobs, 1):
        key = cell_key(cell)
        r = quietest(name, cell, config, budget, retried_by,
                     bin_dir=sides[side], who=(name, side))
        runs.setdefault((name, key, side), []).append(r)
        say(f"[{n:3}/{len(jobs)}] {name:22} {key:20} {side:18} rep "
            f"{rep + 1}: {short(r)}  ({time.monotonic() - started:.0f} s)")
    return runs


def count_syscalls(config, servers, sides, cells):
    """{"server cell side": {"per_1000": ...} or {"failed": why}}, or
    {"skipped": why}."""
    if not config.syscalls:
        return {"skipped": "--no-syscalls"}
    kinds, why = syscalls.probe()
    if kinds is None:
        say(f"system calls: n/a ({why})")
        return {"skipped": why}
    out = {}
    for cell in cells:
        for name, names in servers.items():
            for side in names:
                key = f"{name} {cell_key(cell)} {side}"
                try:
                    out[key] = syscalls.count_run(name, cell, config, kinds,
                                                  sides[side])
                    say(f"      system calls: {key}: "
                        f"{out[key]['per_1000']['total']:.1f} per 1000 "
                        "messages")
                except syscalls.FAILURES as e:
                    out[key] = {"failed": str(e)}
                    say(f"      system calls: {key}: n/a ({e})")
    return out


# ------------------------------------------------------------ the report

def paired(result, name, key, side, figure):
    """(median, lowest, highest) of now / then over the repetitions, each
    repetition's now against its then; None if no pair has the figure."""
    f = FIGURES[figure]
    now = result["runs"].get(f"{name} {key} {NOW}", [])
    then = result["runs"].get(f"{name} {key} {side}", [])
    ratios = []
    for a, b in zip(now, then):
        x, y = summary.figures([a], f), summary.figures([b], f)
        if x and y and y[0]:
            ratios.append(x[0] / y[0])
    if not ratios:
        return None
    return med(ratios), min(ratios), max(ratios)


def median_of(result, name, key, side, figure):
    return summary.pick(result["runs"].get(f"{name} {key} {side}", []),
                        FIGURES[figure])


def ratio_text(r):
    if r is None:
        return "n/a"
    return f"{r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f})"


def calls(result, name, key, side):
    """System calls per 1000 messages, or n/a."""
    counts = result["syscalls"]
    c = counts.get(f"{name} {key} {side}", {}) if "skipped" not in counts \
        else {}
    return c.get("per_1000", {}).get("total")


def report(result, cmd):
    lines = header(result, cmd)
    for label, rev in result["revisions"].items():
        lines += [f"\n## {result['now']['label']} against {label}\n",
                  f"{label}: {rev['subject']}\n"]
        lines += table(result, label)
        lines += syscall_changes(result, label)
    return "\n".join(lines) + "\n"


def header(result, cmd):
    info = result["machine"]
    counts = result["syscalls"]
    why = ("\n- System calls: n/a (" + counts["skipped"] + ")."
           if "skipped" in counts else "")
    return [
        "# Before and after\n",
        f"Generated by `{cmd}` on {info['date']} ({info['cpu']}, "
        f"{info['cores']} cores; load average before {info['load_before']}, "
        f"after {info['load']}).\n",
        f"- Each server of this working tree (now) and of each revision "
        f"(then) runs every cell {result['reps']} times, now and then back "
        "to back in alternating order, with the same load generator. Each "
        "ratio is now / then: the median of the repetitions' paired "
        "ratios, and in brackets the lowest and the highest. CPU per "
        "message below 1 and msg/s above 1: now is better. How large a "
        "ratio must be to be more than noise: "
        "[bench/README.md](../bench/README.md#before-and-after).\n"
        "- CPU is the server's CPU time per delivered message, in us "
        "(medians); system calls are per 1000 messages, from one more run "
        "of each (traced, so not among the timed runs)." + why]


def table(result, label):
    rows = ["| server | cell | CPU/msg now | then | now/then | msg/s now | "
            "then | now/then | syscalls now | then |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key in result["cells"]:
        for name, names in result["servers"].items():
            if label not in names:
                continue
            rows.append(row(result, name, key, label))
    return rows


def row(result, name, key, label):
    """One server in one cell: CPU per message and msg/s, now, then and
    their paired ratio; the system calls of each."""
    cells = []
    for figure, digits in (("cpu_us_per_msg", 3), ("msgs_per_s", 1)):
        cells += [fmt(median_of(result, name, key, side, figure), digits)
                  for side in (NOW, label)]
        cells.append(ratio_text(paired(result, name, key, label, figure)))
    cells += [fmt(calls(result, name, key, side)) for side in (NOW, label)]
    where = key.split("/")[1].replace("x", " x ") + " B"
    return f"| {name} | {where} | " + " | ".join(cells) + " |"


def syscall_changes(result, label):
    """The kinds of system call whose count per message changed by more
    than 10 % (and 1 per 1000 messages), per server and cell."""
    counts = result["syscalls"]
    if "skipped" in counts:
        return []
    out = []
    for key in result["cells"]:
        for name in result["servers"]:
            a = counts.get(f"{name} {key} {NOW}", {}).get("per_1000")
            b = counts.get(f"{name} {key} {label}", {}).get("per_1000")
            if not a or not b:
                continue
            moved = [f"{k} {b.get(k, 0):.1f} -> {v:.1f}"
                     for k, v in a.items() if k != syscalls.TOTAL
                     and abs(v - b.get(k, 0)) > max(1.0, 0.1 * b.get(k, 0))]
            if moved:
                out.append(f"- {name}, {key.split('/')[1]}: "
                           + ", ".join(moved))
    if not out:
        return ["\nNo kind of system call changed its count per message "
                "by more than 10 % and 1 per 1000 messages."]
    return ["\nSystem calls per 1000 messages that changed (then -> now):\n"
            ] + out
