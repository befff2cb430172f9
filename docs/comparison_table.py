"""The comparison table of docs/07-conclusion.md, for docs/check-snippets:
rebuilt from the sources (lines of code) and docs/results.json
(measurements), and the mask that tells a stale table (its code changed)
from one whose measurements only differ from results.json."""

import json
import os

# The comparison table: what each model is (the walkthrough's findings,
# kept here so the table is rebuilt in one place), then what is counted
# and measured. Order: the article's.
MODELS = [
    ("naive_mutex", "01-naive-mutex.md",
     "a coroutine per client; one lock around the table",
     "`--threads`",
     "one async lock (a channel of one), held across each write",
     "**yes**: one slow reader stalls all",
     "yes: nothing queued, senders wait",
     "no RAII unlock; a second lock deadlocks (`--deadlock`)"),
    ("csp", "02-csp.md",
     "readers send to one dispatcher that owns the table",
     "`--threads`",
     "ownership: the table is a local of the one dispatcher",
     "**yes**: the dispatcher waits on each write",
     "yes: a channel of 100 reads",
     "few: suspended senders simply vanish at shutdown; no error flows back to a sender"),
    ("csp_channel_per_writer", "03-csp-channel-per-writer.md",
     "one dispatcher, plus a channel and writer per client",
     "`--threads`",
     "ownership (dispatcher: table; writer: socket, on its strand); one "
     "atomic byte count per client",
     "no",
     "yes: `--max-pending` per client",
     "every task of a client must learn it left; cancel a channel before "
     "closing it"),
    ("reactor_handrolled", "04-reactor-handrolled.md",
     "one loop; readiness waits and a hand-written poll()",
     "1; `--threads N`: N loops, one per shard ([08](08-past-one-core.md))",
     "nothing needed: one thread owns all the state (of its shard)",
     "no",
     "yes: `--max-pending` per client",
     "a missed re-arm is a silent hang; late handlers find no connection"),
    ("reactor_select", "05-reactor-select.md",
     "one coroutine races readiness over every socket",
     "1; `--threads N`: N races, one per shard ([08](08-past-one-core.md))",
     "nothing needed: one thread owns all the state (of its shard)",
     "no",
     "yes: `--max-pending` per client",
     "racing reads loses bytes (`--unsafe-race`): race readiness only"),
]
MEASURED_COLUMNS = 4
# Shared code each model also runs, counted beside its own file.
SHARED = {
    "csp": {"csp_io": ["common/channels/csp_io.hpp",
                       "common/channels/csp_io.cpp"]},
    "reactor": {"reactor_io": ["common/reactor/reactor_io.hpp"],
                "router_core": ["common/reactor/router_core.hpp",
                                "common/reactor/router_core.cpp",
                                "common/reactor/router_core_time.cpp"]},
}


def code_lines(path):
    """Lines that are neither blank nor comments (// and /* */ only)."""
    count, in_block = 0, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = line.strip()
            if in_block:
                in_block = "*/" not in t
                continue
            if t.startswith("/*"):
                in_block = "*/" not in t
                continue
            if t and not t.startswith("//"):
                count += 1
    return count


def si(value):
    if value is None:
        return None
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def micros(value):
    if value is None:
        return None
    return f"{value / 1000:.1f} ms" if value >= 1000 else f"{value:.0f} us"


def comparison(root):
    results, per_model = {}, {}
    path = os.path.join(root, "docs", "results.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        results = saved.get("medians", {})
        per_model = saved.get("per_model", {})
    def shared_lines(name):
        out = []
        for prefix, parts in SHARED.items():
            if not name.startswith(prefix):
                continue
            for label, files in parts.items():
                paths = [os.path.join(root, p) for p in files]
                if all(os.path.exists(p) for p in paths):
                    out.append(f"{label} {sum(map(code_lines, paths))}")
        return out
    rows = ["| model | chapter | threads | what protects the state | "
            "head-of-line blocking | bounded memory | cancellation and "
            "other hazards | lines of code | msg/s | p99 | slow client | "
            "copies per byte (16 / 256 / 4096 B) |",
            "|---|---|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for (name, chapter, what, threads, guard, hol, memory,
         hazards) in MODELS:
        src = os.path.join(root, name, "server.cpp")
        if os.path.exists(src):
            loc = str(code_lines(src))
            if shared := shared_lines(name):
                loc += f" (+ {', '.join(shared)})"
            model = f"[`{name}`](../{name}/server.cpp): {what}"
        else:
            loc, model = "not yet written", f"`{name}`: {what}"
        thr = results.get(f"{name} throughput/64x16", {}).get("msgs_per_s")
        lat = results.get(f"{name} latency", {})
        hol_run = results.get(f"{name} hol", {})
        slow = None
        if hol_run.get("msgs_per_s") is not None and lat.get("msgs_per_s"):
            slow = f"{hol_run['msgs_per_s'] / lat['msgs_per_s']:.2f}x"
            if hol_run.get("stalled"):
                slow += ", stalled"
        measured = [si(thr), micros(lat.get("p99")), slow]
        measured = [m if m is not None else "see [results](results.md)"
                    for m in measured]
        # Bytes copied in user space per byte delivered, per payload size
        # (bench/compare: the median over that size's throughput cells).
        copies = ((per_model.get(name) or {}).get("copies") or {}).get(
            "by_size")
        measured.append("n/a" if not copies else " / ".join(
            f"{v:.2f}" for v in copies.values()))
        rows.append("| " + " | ".join(
            [model, f"[{chapter[:2]}]({chapter})", threads, guard, hol,
             memory, hazards, loc] + measured) + " |")
    return rows


def mask_measured(lines):
    out = []
    for line in lines:
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) > MEASURED_COLUMNS:
            cells[-MEASURED_COLUMNS:] = ["#"] * MEASURED_COLUMNS
        out.append(" | ".join(cells))
    return out
