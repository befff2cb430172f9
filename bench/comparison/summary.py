"""Medians over the repetitions, the machine's description, and
results.json (written after a run, read back by --replot)."""

import datetime
import json
import os
import platform
import re

from .common import med, slow_disconnected


def figures(runs, f):
    """f of each run that has the figure."""
    out = []
    for r in runs:
        try:
            v = f(r)
        except (KeyError, TypeError, ZeroDivisionError):
            continue
        if v is not None:
            out.append(v)
    return out


def pick(runs, f):
    """The median of f over the runs that have the figure."""
    return med(figures(runs, f))


def spread(runs, f):
    """[lowest, highest] of f over the runs that have the figure."""
    values = figures(runs, f)
    return [min(values), max(values)] if values else None


def summarise(raw):
    """Medians over the repetitions of each (server, cell)."""
    s = {}
    for (name, key), runs in raw.items():
        def p(f):
            return pick(runs, f)
        s[(name, key)] = {
            "runs": len(runs),
            "msgs_per_s": p(lambda r: r["msgs_per_s"]),
            "mb_per_s": p(lambda r: r["mb_per_s"]),
            "min_client_msgs_per_s": p(lambda r: r["min_client_msgs_per_s"]),
            "cpu_us_per_msg": p(lambda r: r["server"]["cpu_us_per_msg"]),
            "cpu_us_per_msg_spread": spread(
                runs, lambda r: r["server"]["cpu_us_per_msg"]),
            "p50": p(lambda r: r["latency_us"]["p50"]),
            "p99": p(lambda r: r["latency_us"]["p99"]),
            "p999": p(lambda r: r["latency_us"]["p999"]),
            "peak_rss_kb": p(lambda r: r["server"]["peak_rss_kb"]),
            "idle_held": p(lambda r: r["idle_held"]),
            "others_cores": p(lambda r: r["others_cores"]),
            "copies_per_byte": p(lambda r: r["copies"]["copied"]
                                 / r["copies"]["delivered"]),
            "errors": sum(r.get("errors", {}).get("total", 0) for r in runs),
            "stalled": sum(bool(r.get("stalled")) for r in runs),
            "slow_disconnected": sum(slow_disconnected(r) for r in runs),
            "not_connected": sum(not r.get("connected", False) for r in runs),
            "server_problems": sorted({r["server_problem"] for r in runs
                                       if r.get("server_problem")}),
        }
    return s


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


def load_average():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def save(path, args, raw, s, micro, info, extra):
    """extra: the per-model figures and the profiles, beside the runs."""
    with open(path, "w") as f:
        json.dump({"machine": info, "quick": args.quick, "reps": args.reps,
                   "runs": {f"{k[0]} {k[1]}": v for k, v in raw.items()},
                   "medians": {f"{k[0]} {k[1]}": v for k, v in s.items()},
                   "parser_bench": micro, **extra}, f, indent=1)


class Saved:
    """results.json read back: what the report and the charts need."""

    def __init__(self, path):
        with open(path) as f:
            saved = json.load(f)
        self.info = saved["machine"]
        self.quick = saved["quick"]
        self.reps = saved["reps"]
        # The medians again, from the runs: a report written by a newer
        # summarise() than the run's has every figure it prints.
        raw = {tuple(k.split(" ", 1)): v for k, v in saved["runs"].items()}
        self.s = summarise(raw)
        self.servers = []
        for name, _ in raw:
            if name not in self.servers:
                self.servers.append(name)
        # JSON keys are strings: the payload sizes were ints.
        micro = saved.get("parser_bench")
        self.micro = ({int(k): v for k, v in micro.items()}
                      if micro else micro)
        self.profile = saved.get("profile")   # absent before profiles
        self.calls = calls_from_json(saved.get("syscalls"))
        # Each re-run shows in its run's attempts.
        self.retried = sum(r.get("attempts", 1) - 1
                           for runs in saved["runs"].values() for r in runs)


def calls_to_json(calls):
    """syscalls.count_cells's figures with "server cell" keys."""
    if "cells" not in calls:
        return calls
    return dict(calls, cells={" ".join(k): v
                              for k, v in calls["cells"].items()})


def calls_from_json(saved):
    if saved is None:
        return {"skipped": "results.json holds no system call counts"}
    if "cells" not in saved:
        return saved
    return dict(saved, cells={tuple(k.split(" ", 1)): v
                              for k, v in saved["cells"].items()})
