"""--shards-only: what a frame that crosses shards costs
(docs/08-past-one-core.md). Each reactor runs each cell as one reactor
(--threads 1) and as two (--threads 2) twice: with every pair of clients
on one shard, and with every pair across the two, the load generator
choosing partners by the ids the server gave (loadgen --pair-stride 2 and
1: a client's shard is its id % 2). The runs of one cell follow each
other, in the opposite order every other repetition, so each repetition
gives paired ratios. Writes OUT/shards.json and OUT/shards.md, which
results.md includes (report.py)."""

import json
import os
import time

from . import summary
from .common import BIN, ROOT, VARIANTS, fmt, generated_line, med, say
from .plan import cell_key
from .revisions import working_tree
from .runner import quietest
from .runs import short

REACTORS = ["reactor_handrolled", "reactor_select"]
# (label, --threads, --pair-stride): stride 2 with two shards keeps both
# partners on one shard, stride 1 puts them on two.
SETUPS = [("one reactor", 1, 0), ("two, pairs on one shard", 2, 2),
          ("two, pairs across shards", 2, 1)]
FIGURES = {"cpu_us_per_msg": lambda r: r["server"]["cpu_us_per_msg"],
           "msgs_per_s": lambda r: r["msgs_per_s"]}


def cells_of(config):
    pairs = [8] if config.quick else [8, 64]
    return [{"kind": "throughput", "pairs": p, "size": 16,
             "duration": 1.0 if config.quick else config.duration}
            for p in pairs]


def run(config):
    """The whole --shards-only job."""
    started = time.monotonic()
    load_before = summary.load_average()
    names = [n for n in REACTORS if n in VARIANTS
             and os.path.exists(os.path.join(BIN, n))]
    if not names:
        raise SystemExit("bench/compare --shards-only: no reactor built")
    cells = cells_of(config)
    runs = measure(config, names, cells)
    result = {"machine": dict(summary.machine(), load_before=load_before),
              "commit": working_tree(), "quick": config.quick,
              "reps": config.reps, "window": config.window,
              "warmup": config.warmup, "servers": names,
              "cells": [cell_key(c) for c in cells],
              "setups": [s[0] for s in SETUPS], "runs": runs}
    with open(os.path.join(config.out, "shards.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(config.out, "shards.md"), "w") as f:
        f.write(report(result))
    say(f"wrote {os.path.relpath(config.out, ROOT)}/shards.md and "
        f"shards.json in {time.monotonic() - started:.0f} s")


def measure(config, names, cells):
    """{cell key: {server: {setup: [run, ...]}}}, one run per repetition."""
    jobs = [(name, setup) for name in names for setup in SETUPS]
    runs = {}
    budget = 0 if config.quick else len(cells) * config.reps
    retried = {name: 0 for name in names}
    for cell in cells:
        key = cell_key(cell)
        for rep in range(config.reps):
            for name, (label, threads, stride) in (
                    jobs if rep % 2 == 0 else jobs[::-1]):
                c = dict(cell, threads=threads, pair_stride=stride)
                r = quietest(name, c, config, budget, retried)
                runs.setdefault(key, {}).setdefault(name, {}).setdefault(
                    label, []).append(r)
                say(f"{name:20} {key:18} {label:26} rep {rep + 1}: "
                    f"{short(r)}")
    return runs


def figure(r, what):
    try:
        return FIGURES[what](r)
    except (KeyError, TypeError):
        return None


def spread(values, digits):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return (f"{fmt(med(values), digits)} ({fmt(min(values), digits)}-"
            f"{fmt(max(values), digits)})")


def paired(a_runs, b_runs, what):
    """Per repetition a / b, then their median, lowest and highest."""
    ratios = [figure(a, what) / figure(b, what)
              for a, b in zip(a_runs, b_runs)
              if figure(a, what) and figure(b, what)]
    if not ratios:
        return "n/a"
    return (f"{med(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}, "
            f"{len(ratios)} pairs)")


def report(result):
    """shards.md: when and how, then one table per cell."""
    L = ["# Past one core: frames across shards\n",
         generated_line("--shards-only", result),
         "Closed loop, 16-byte payloads, "
         f"{result['window']} frames in flight per client, "
         f"{result['reps']} repetitions, each a fresh server. Each reactor "
         "runs as one (`--threads 1`) and as two (`--threads 2`), the "
         "second twice: the load generator pairs the clients by the ids "
         "the server gave (`loadgen --pair-stride`), so that every pair is "
         "on one shard (ids i and i + 2: one parcel never crosses) or "
         "across the two (ids i and i + 1: every frame crosses). CPU per "
         "message is the server's CPU time, all threads, over the measured "
         "window, per message delivered; figures are medians (lowest-"
         "highest). The load generator is one thread on the same 2 cores: "
         "the two shards and it share them "
         "([docs/08-past-one-core.md](08-past-one-core.md)).\n"]
    for key in result["cells"]:
        L += cell_table(result, key)
    return "\n".join(L) + "\n"


def cell_table(result, key):
    pairs = key.split("/")[1].split("x")[0]
    L = [f"**{pairs} pairs x 16 B**\n",
         "| server | run | messages/s | CPU us per message |",
         "|---|---|---:|---:|"]
    for name in result["servers"]:
        by_setup = result["runs"][key][name]
        for label in result["setups"]:
            runs = by_setup.get(label, [])
            L.append(f"| {name} | {label} | "
                     f"{spread([figure(r, 'msgs_per_s') for r in runs], 0)}"
                     f" | {spread([figure(r, 'cpu_us_per_msg') for r in runs], 3)} |")
    L.append("")
    for name in result["servers"]:
        s = result["runs"][key][name]
        across, one, single = (s.get(label, []) for label in (
            SETUPS[2][0], SETUPS[1][0], SETUPS[0][0]))
        L.append(f"- {name}: CPU per message across shards / on one shard "
                 f"{paired(across, one, 'cpu_us_per_msg')}; two shards, "
                 f"pairs on one / one reactor: CPU per message "
                 f"{paired(one, single, 'cpu_us_per_msg')}, messages/s "
                 f"{paired(one, single, 'msgs_per_s')}; across / one "
                 f"reactor: messages/s "
                 f"{paired(across, single, 'msgs_per_s')}.")
    return L + [""]
