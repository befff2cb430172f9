"""The report's judgements: the article's claims, one line per server, and
the targets this round is judged on, from this run's medians."""

from .common import (DEFAULT_WRITE_TIMEOUT_S, LIMIT, NATS, REACTORS, REDIS,
                     fmt, hard_limit, mostly, ratio)
from .plan import cell_key, idle_counts, thr_cells


def findings(results):
    return "\n".join(distance_to_limit(results)
                     + slow_client(results)
                     + idle_connections(results))


def distance_to_limit(results):
    servers, medians, cells = results.servers, results.medians, results.cells
    thr = thr_cells(cells)
    ref = "throughput/64x16" if any(cell_key(c) == "throughput/64x16"
                                     for c in thr) else cell_key(thr[-1])
    ref_txt = ref.split("/")[1].replace("x", " pairs x ") + " B"
    lim = medians.get((LIMIT, ref), {})
    out = [f"**Distance to the limit line** ({ref_txt}; the limit "
           f"delivers {fmt(lim.get('msgs_per_s'))} msg/s at "
           f"{fmt(lim.get('cpu_us_per_msg'), 2)} us of CPU each):"]
    for n in servers:
        r = medians.get((n, ref))
        if n == LIMIT or not r:
            continue
        msgs = ratio(r["msgs_per_s"], lim.get("msgs_per_s"))
        cpu = ratio(r["cpu_us_per_msg"], lim.get("cpu_us_per_msg"))
        out.append(f"- {n}: {fmt(msgs, 2, 'x')} its messages/s, "
                   f"{fmt(cpu, 1, 'x')} its CPU per message.")
    return out


def slow_client(results):
    config, servers, medians = results.config, results.servers, results.medians
    out = ["\n**A client that never reads** (head-of-line blocking and "
           "memory; the others' figures against the same run without it):"]
    for n in servers:
        a, b = medians.get((n, "latency")), medians.get((n, "hol"))
        if not a or not b:
            continue
        t = fmt(ratio(b["msgs_per_s"], a["msgs_per_s"]), 2, "x")
        grown = None
        if a["peak_rss_kb"] and b["peak_rss_kb"]:
            grown = (b["peak_rss_kb"] - a["peak_rss_kb"]) / 1024
        mem = f"peak RSS {'+' if (grown or 0) >= 0 else ''}{fmt(grown)} MB"
        if mostly(b["stalled"], b["runs"]):
            p99 = fmt(b["p99"] / 1e3 if b["p99"] else None)
            out.append(f"- {n}: **stalled** in {b['stalled']}/{b['runs']} "
                       f"runs: the others' throughput fell to {t}, their "
                       f"p99 to {p99} ms; {mem}.")
        else:
            disc = ("the slow client was disconnected"
                    if mostly(b["slow_disconnected"], b["runs"])
                    else "the slow client was kept")
            hard = hard_limit(config.max_pending) / 2**20
            soft = config.max_pending / 2**20
            bound = {NATS: "NATS has no --max-pending: it lets 64 MB pend",
                     REDIS: "its client-output-buffer-limit set to the "
                     f"same: hard {hard:.0f} MB, soft {soft:.0f} MB for "
                     f"{DEFAULT_WRITE_TIMEOUT_S} s"}.get(
                         n, f"hard limit {hard:.0f} MB; bound: 2 x it = "
                         f"{2 * hard:.0f} MB")
            out.append(f"- {n}: the others kept {t} of their throughput, "
                       f"p99 {fmt(ratio(b['p99'], a['p99']), 1, 'x')}; "
                       f"{disc}; {mem} ({bound}).")
    return out


def idle_connections(results):
    servers, medians, cells = results.servers, results.medians, results.cells
    top = max(idle_counts(cells))
    out = [f"\n**Idle connections** (throughput with {top:,} idle "
           "against none):"]
    for n in servers:
        a, b = medians.get((n, "scale/0")), medians.get((n, f"scale/{top}"))
        if not a or not b:
            continue
        if b.get("not_connected"):
            out.append(f"- {n}: no figure: the load generator could not "
                       "connect all its clients (Anomalies, below).")
            continue
        held = b.get("idle_held")
        note = (f" (the server held only {held:.0f} of them)"
                if held is not None and held < top else "")
        msgs = ratio(b["msgs_per_s"], a["msgs_per_s"])
        cpu = ratio(b["cpu_us_per_msg"], a["cpu_us_per_msg"])
        out.append(f"- {n}: throughput {fmt(msgs, 2, 'x')}, "
                   f"CPU per message {fmt(cpu, 2, 'x')}{note}.")
    return out


def targets(results):
    config = results.config
    servers = results.servers
    medians = results.medians
    cells = results.cells
    rows = []

    def row(what, value, ok):
        verdict = "n/a" if ok is None else ("met" if ok else "**missed**")
        rows.append(f"| {what} | {value} | {verdict} |")

    if LIMIT in servers and len(servers) > 1 and not config.quick:
        limit_target(servers, medians, cells, row)
    if "reactor_handrolled" in servers and not config.quick:
        handrolled_targets(medians, row)
    for v in REACTORS:
        if v in servers:
            reactor_targets(config, v, medians, row)
    if not rows:
        return ("No target applies to the servers measured"
                + (" (--quick does not judge them)." if config.quick else "."))
    return ("| target | measured | verdict |\n|---|---:|---|\n"
            + "\n".join(rows))


def limit_target(servers, medians, cells, row):
    """The limit line's CPU time per message against the lowest of the
    other servers', in the throughput cell where it comes closest."""
    worst = None   # (ratio, cell key, server)
    for key in (cell_key(c) for c in thr_cells(cells)):
        mine = medians.get((LIMIT, key), {}).get("cpu_us_per_msg")
        others = []
        for n in servers:
            cpu = (medians.get((n, key)) or {}).get("cpu_us_per_msg")
            if n != LIMIT and cpu:
                others.append((cpu, n))
        if mine is None or not others:
            continue
        best, who = min(others)
        if worst is None or mine / best > worst[0]:
            worst = (mine / best, key, who)
    if worst is None:
        return
    closest, key, who = worst
    pairs, size = key.split("/")[1].split("x")
    where = f"{pairs} pair{'' if pairs == '1' else 's'} x {size} B"

    # Beside the ratio, each server's lowest and highest run: how far apart
    # the two medians are against how far each server's own runs are.
    def spread(n):
        lo, hi = medians[(n, key)].get("cpu_us_per_msg_spread") or (None, None)
        return f"{n} {fmt(lo, 2)}-{fmt(hi, 2)} us"

    row("limit line: CPU/msg vs the lowest other server's, in its closest "
        "throughput cell (< 1)",
        f"{closest:.2f}x ({where}, {who}; runs: "
        f"{spread(LIMIT)}; {spread(who)})",
        closest < 1)


def handrolled_targets(medians, row):
    h = "reactor_handrolled"
    thr = medians.get((h, "throughput/64x16"), {})
    lim = medians.get((LIMIT, "throughput/64x16"), {})
    r1 = ratio(thr.get("msgs_per_s"), lim.get("msgs_per_s"))
    row("reactor_handrolled, 64 pairs x 16 B: msg/s vs limit (>= 0.5)",
        fmt(r1, 2, "x"), None if r1 is None else r1 >= 0.5)
    r2 = ratio(thr.get("cpu_us_per_msg"), lim.get("cpu_us_per_msg"))
    row("reactor_handrolled, 64 pairs x 16 B: CPU/msg vs limit (<= 2)",
        fmt(r2, 2, "x"), None if r2 is None else r2 <= 2)
    r3 = ratio(medians.get((h, "scale/10000"), {}).get("msgs_per_s"),
               medians.get((h, "scale/0"), {}).get("msgs_per_s"))
    row("reactor_handrolled, 10 000 idle: throughput vs 0 idle (>= 0.8)",
        fmt(r3, 2, "x"), None if r3 is None else r3 >= 0.8)


def reactor_targets(config, v, medians, row):
    a, b = medians.get((v, "latency"), {}), medians.get((v, "hol"), {})
    r = ratio(b.get("msgs_per_s"), a.get("msgs_per_s"))
    row(f"{v}, slow client: throughput vs baseline (>= 0.9)",
        fmt(r, 2, "x"), None if r is None else r >= 0.9)
    if a.get("peak_rss_kb") and b.get("peak_rss_kb"):
        grown = (b["peak_rss_kb"] - a["peak_rss_kb"]) * 1024
        limit = 2 * hard_limit(config.max_pending)
        row(f"{v}, slow client: peak RSS above baseline (< 2 x the hard "
            f"limit, 4 x --max-pending = {limit/2**20:.0f} MB)",
            f"{grown/2**20:.1f} MB", grown < limit)
