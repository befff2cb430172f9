"""Medians over the repetitions, the machine's description, and
results.json (written after a run, read back by --replot)."""

import dataclasses
import datetime
import json
import os
import platform
import re

from .common import med, slow_disconnected
from .plan import as_measured, plan


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
    medians = {}
    for (name, key), runs in raw.items():
        def p(f):
            return pick(runs, f)
        medians[(name, key)] = {
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
    return medians


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


@dataclasses.dataclass
class Results:
    """One comparison's outcome: what the report, the charts and
    results.json are made of."""
    config: object          # options.Config
    servers: list           # measured, in the tables' order
    cells: list             # plan.plan's cells, as measured
    runs: dict              # (server, cell key) -> [loadgen's run, ...]
    medians: dict           # (server, cell key) -> summarise()'s figures
    parser: dict | None     # payload size -> parser_bench's bytes/s
    machine: dict           # machine(), plus the load before the run
    profile: dict | None    # profile.run_profiles, or None if not saved
    calls: dict             # syscalls.count_cells
    retried: int            # runs run again for contention

    def save(self, path, extra):
        """results.json; extra: the per-model figures."""
        with open(path, "w") as f:
            json.dump({"machine": self.machine, "quick": self.config.quick,
                       "reps": self.config.reps,
                       "runs": {" ".join(k): v for k, v in self.runs.items()},
                       "medians": {" ".join(k): v
                                   for k, v in self.medians.items()},
                       "parser_bench": self.parser, **extra,
                       "profile": self.profile,
                       "syscalls": calls_to_json(self.calls)}, f, indent=1)


def load(path, config):
    """results.json read back into Results, with config as the run's was
    (--quick and the repetitions); the cells come from plan.as_measured."""
    with open(path) as f:
        saved = json.load(f)
    config = config.with_quick(saved["quick"], saved["reps"])
    runs = {tuple(k.split(" ", 1)): v for k, v in saved["runs"].items()}
    servers = []
    for name, _ in runs:
        if name not in servers:
            servers.append(name)
    # JSON keys are strings: the payload sizes were ints.
    parser = saved.get("parser_bench")
    return Results(
        config=config, servers=servers,
        cells=as_measured(plan(config), [k for _, k in runs]),
        runs=runs,
        # The medians again, from the runs: a report written by a newer
        # summarise() than the run's has every figure it prints.
        medians=summarise(runs),
        parser={int(k): v for k, v in parser.items()} if parser else parser,
        machine=saved["machine"],
        profile=saved.get("profile"),   # absent before profiles
        calls=calls_from_json(saved.get("syscalls")),
        # Each re-run shows in its run's attempts.
        retried=sum(r.get("attempts", 1) - 1
                    for rs in saved["runs"].values() for r in rs))


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
