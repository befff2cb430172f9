"""The charts (OUT/*.png), one function per chart. matplotlib is imported
only here, and only when a chart is drawn."""

import os

from .common import (LIMIT, NATS, QUEUING, REDIS, hard_limit, kb_mb, label,
                     mostly, ratio)
from .profile import CATEGORIES
from .plan import idle_counts, thr_cells

# The profile's categories: kernel work in blues and greens, waiting and
# locks in warm colours, user space in purples and grey.
CATEGORY_COLOR = ["#1f77b4", "#2ca02c", "#ffbb78", "#d62728", "#9467bd",
                  "#aec7e8", "#c7c7c7"]
STYLE = {
    "naive_mutex": dict(color="#d62728", marker="o"),
    "csp": dict(color="#ff7f0e", marker="s"),
    "csp_channel_per_writer": dict(color="#bcbd22", marker="D"),
    "reactor_handrolled": dict(color="#1f77b4", marker="^"),
    "reactor_select": dict(color="#17becf", marker="v"),
    "reactor_handrolled_t2": dict(color="#1f77b4", linestyle="--",
                                  marker="^"),
    LIMIT: dict(color="black", linestyle="--", linewidth=2.5, marker=""),
    REDIS: dict(color="#7f7f7f", linestyle=":", linewidth=2, marker="x"),
    NATS: dict(color="#8c564b", linestyle="-.", linewidth=2, marker="+"),
}


def available():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def draw(results):
    """Every chart, into OUT (the profile's only when there is one)."""
    prof = results.profile
    import matplotlib
    matplotlib.use("Agg")
    throughput_chart(results)
    latency_chart(results)
    hol_chart(results)
    scale_chart(results)
    if prof and prof.get("servers"):
        profile_chart(prof, results.config.out)


def plain(v, _pos=None):
    """A tick label as a plain number: 0.2, 5, 1,000, 200,000."""
    if v == 0:
        return "0"
    if abs(v) >= 1 and v == round(v):
        return f"{v:,.0f}"
    return f"{v:.3g}"


def plain_formatter():
    from matplotlib import ticker
    return ticker.FuncFormatter(plain)


def plain_log_formatter():
    """Labels the minor ticks of a log axis where matplotlib would (when it
    spans too little to show a power of ten), as plain numbers."""
    from matplotlib import ticker

    class PlainLog(ticker.LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            return plain(x)

    return PlainLog(labelOnlyBase=False)


def save(fig, outdir, name):
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, name), dpi=90)
    plt.close(fig)


def server_ticks(ax, names):
    ax.set_xticks(range(len(names)),
                  [label(n).replace(" (", "\n(") for n in names],
                  rotation=30, ha="right", fontsize=8)


def throughput_chart(results):
    """Throughput (top) and CPU per message (bottom) against the number of
    pairs, one column per payload size."""
    servers = results.servers
    medians = results.medians
    cells = results.cells
    outdir = results.config.out
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    sizes = sorted({c["size"] for c in thr_cells(cells)})
    pairs = sorted({c["pairs"] for c in thr_cells(cells)})
    fig, axes = plt.subplots(2, len(sizes), figsize=(5 * len(sizes), 8),
                             squeeze=False)
    for j, size in enumerate(sizes):
        for name in servers:
            rs = [(p, medians.get((name, f"throughput/{p}x{size}")))
                  for p in pairs]
            rs = [(p, r) for p, r in rs if r and r["msgs_per_s"]]
            if not rs:
                continue
            xs = [p for p, _ in rs]
            axes[0][j].plot(xs, [r["msgs_per_s"] for _, r in rs],
                            label=label(name), **STYLE[name])
            axes[1][j].plot(xs, [r["cpu_us_per_msg"] for _, r in rs],
                            label=label(name), **STYLE[name])
        axes[0][j].set_title(f"{size}-byte payloads")
        axes[0][j].set_ylabel("delivered messages/s")
        axes[1][j].set_ylabel("server CPU time per message (us)")
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("client pairs")
            ax.set_xticks(pairs, [str(p) for p in pairs])
            ax.grid(True, which="both", alpha=0.3)
    for ax in axes.flat:
        ax.yaxis.set_major_formatter(plain_formatter())
        ax.yaxis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain_formatter())
        ax.tick_params(axis="y", which="minor", labelsize=7)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Top: delivered messages/s (higher is better)\n"
                 "Bottom: server CPU per message (lower is better)")
    save(fig, outdir, "throughput.png")


def latency_chart(results):
    """Latency percentiles, grouped per server."""
    config = results.config
    servers = results.servers
    medians = results.medians
    outdir = results.config.out
    import matplotlib.pyplot as plt
    names = [n for n in servers if medians.get((n, "latency"))]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.27
    for k, (q, shade) in enumerate((("p50", 0.35), ("p99", 0.65),
                                    ("p999", 1.0))):
        vals = [medians[(n, "latency")][q] or 0 for n in names]
        ax.bar([i + (k - 1) * width for i in range(len(names))], vals, width,
               color=[STYLE[n]["color"] for n in names], alpha=shade,
               edgecolor="black", label=q.replace("p999", "p99.9"))
    server_ticks(ax, names)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plain_formatter())
    ax.yaxis.set_minor_formatter(plain_log_formatter())
    ax.set_ylabel("one-way latency (us)")
    ax.set_title(f"Latency at {config.rate} frames/s offered "
                 "(bars: p50, p99, p99.9; lower is better)")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    save(fig, outdir, "latency.png")


def hol_chart(results):
    """Head-of-line blocking: the others' throughput (left), and memory
    (right)."""
    config = results.config
    servers = results.servers
    medians = results.medians
    outdir = results.config.out
    import matplotlib.pyplot as plt
    names = [n for n in servers
             if medians.get((n, "hol")) and medians.get((n, "latency"))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    hol_throughput_panel(ax1, names, medians)
    hol_memory_panel(ax2, names, medians, config.max_pending)
    save(fig, outdir, "hol.png")


def hol_throughput_panel(ax, names, medians):
    thr = [ratio(medians[(n, "hol")]["msgs_per_s"],
                 medians[(n, "latency")]["msgs_per_s"]) for n in names]
    ax.bar(range(len(names)), [v or 0 for v in thr],
           color=[STYLE[n]["color"] for n in names],
           hatch=None, edgecolor="black")
    server_ticks(ax, names)
    for i, n in enumerate(names):
        r = medians[(n, "hol")]
        note = "STALLED" if mostly(r["stalled"], r["runs"]) else ""
        if mostly(r["slow_disconnected"], r["runs"]):
            note += ("\n" if note else "") + "slow client\ndisconnected"
        ax.text(i, (thr[i] or 0) + 0.02, note, ha="center", fontsize=7)
    ax.axhline(1.0, color="grey", linewidth=1)
    ax.set_ylim(0, 1.35)
    ax.set_ylabel("others' throughput with a slow client / without")
    ax.set_title("Head-of-line blocking (higher is better)")


def hol_memory_panel(ax, names, medians, max_pending):
    base = [kb_mb(medians[(n, "latency")]["peak_rss_kb"]) or 0 for n in names]
    peak = [kb_mb(medians[(n, "hol")]["peak_rss_kb"]) or 0 for n in names]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], base, 0.4, color="#cccccc",
           edgecolor="black", label="without slow client")
    ax.bar([x + 0.2 for x in xs], peak, 0.4,
           color=[STYLE[n]["color"] for n in names], edgecolor="black",
           label="with slow client")
    # An output limit bounds only the servers that queue for a slow reader
    # with one: the queuing models and the limit line (the hard limit of
    # --max-pending), and Redis (its client-output-buffer-limit, set to the
    # same values). The blocking models and NATS get no line. The bound is
    # twice the hard limit: a buffer may be twice as large as what it holds
    # (docs/protocol.md, "Limits").
    bound = 2 * hard_limit(max_pending) / 2**20
    bounded = [(x, b) for x, (n, b) in enumerate(zip(names, base))
               if n in QUEUING or n in (LIMIT, REDIS)]
    for x, b in bounded:
        ax.hlines(b + bound, x - 0.45, x + 0.45, color="black",
                  linestyle=":")
    server_ticks(ax, names)
    # Headroom for the legend above the highest line or bar.
    ax.set_ylim(0, 1.5 * max([b + bound for _, b in bounded] + peak + [1]))
    ax.set_ylabel("server peak RSS (MB)")
    ax.set_title("Memory while a client does not read")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    ax.legend(handles=[
        Patch(facecolor="#cccccc", edgecolor="black",
              label="without slow client"),
        Patch(facecolor="white", edgecolor="black",
              label="with slow client (the server's colour)"),
        Line2D([], [], color="black", linestyle=":",
               label="baseline + 2 x the hard limit (4 x --max-pending;\n"
               "Redis: the same): the bound on a slow client's buffers"),
    ], fontsize=8)


def scale_chart(results):
    """Throughput (left) and CPU per message (right) among idle
    connections, against the run with none."""
    servers = results.servers
    medians = results.medians
    cells = results.cells
    outdir = results.config.out
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    idles = idle_counts(cells)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    for name in servers:
        xs, ys, cs = scale_points(name, medians, idles)
        if xs:
            ax.plot(xs, ys, label=label(name), **STYLE[name])
            ax2.plot(xs, cs, label=label(name), **STYLE[name])
    for a in (ax, ax2):
        a.set_xscale("symlog", linthresh=1000)
        a.set_xticks(idles, [f"{i:,}" for i in idles])
        a.set_xlabel("idle connections held open")
        a.axhline(1.0, color="grey", linewidth=1)
        a.grid(True, which="both", alpha=0.3)
    ax.set_ylabel("throughput / throughput with 0 idle")
    ax.set_ylim(0, max(1.3, ax.get_ylim()[1]))
    ax.set_title("Throughput among idle connections (higher is better)")
    ax.legend(fontsize=8)
    ax2.set_yscale("log")
    lo, hi = ax2.get_ylim()
    ax2.set_ylim(min(lo, 0.5), max(hi, 2.0))
    times = ticker.FuncFormatter(lambda v, _: f"{v:g}x")
    ax2.yaxis.set_major_formatter(times)
    ax2.yaxis.set_minor_formatter(times)
    ax2.tick_params(axis="y", which="minor", labelsize=7)
    ax2.set_ylabel("server CPU per message / same with 0 idle")
    ax2.set_title("Cost per message among idle connections "
                  "(lower is better)")
    save(fig, outdir, "scale.png")


def scale_points(name, medians, idles):
    """The idle counts with both ratios to the 0-idle run, and the ratios."""
    base = medians.get((name, "scale/0"), {})
    xs, ys, cs = [], [], []
    for i in idles:
        r = medians.get((name, f"scale/{i}"))
        v = ratio(r["msgs_per_s"], base.get("msgs_per_s")) if r else None
        c = (ratio(r["cpu_us_per_msg"], base.get("cpu_us_per_msg"))
             if r else None)
        if v is not None and c is not None:
            xs.append(i)
            ys.append(v)
            cs.append(c)
    return xs, ys, cs


def profile_chart(prof, outdir):
    """One stacked bar per server: its CPU time per message split by the
    categories of the profile's samples (left), and the same as shares,
    so that the cheap servers' split can be read too (right)."""
    import matplotlib.pyplot as plt
    names = [n for n, p in prof["servers"].items()
             if p.get("cpu_us_per_msg") is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5))
    cpu = {n: prof["servers"][n]["cpu_us_per_msg"] for n in names}
    profile_panel(ax1, prof, names, cpu)
    profile_panel(ax2, prof, names, {n: 100.0 for n in names})
    ax1.set_ylabel("server CPU time per message (us)")
    ax1.set_title("CPU time per message, by category (lower is better)")
    for i, n in enumerate(names):
        ax1.text(i, cpu[n], plain(round(cpu[n], 2)), ha="center",
                 va="bottom", fontsize=8)
    ax2.set_ylabel("share of the samples (%)")
    ax2.set_ylim(0, 100)
    ax2.set_title("The same, as shares of each server's time")
    handles, labels = ax2.get_legend_handles_labels()
    ax2.legend(handles[::-1], labels[::-1], fontsize=8,
               loc="upper left", bbox_to_anchor=(1.01, 1))
    pairs, size = prof["cell"].split("x")
    fig.suptitle(f"Where the CPU time goes: {pairs} pairs x {size} B, "
                 "perf cpu-clock samples")
    save(fig, outdir, "profile.png")


def profile_panel(ax, prof, names, total):
    """Stacked bars: total[name] split by the categories' shares."""
    bottom = [0.0] * len(names)
    for c, color in zip(CATEGORIES, CATEGORY_COLOR):
        vals = [total[n] * prof["servers"][n]["shares"][c] for n in names]
        ax.bar(range(len(names)), vals, 0.6, bottom=bottom, color=color,
               edgecolor="black", linewidth=0.5, label=c)
        bottom = [b + v for b, v in zip(bottom, vals)]
    server_ticks(ax, names)
    ax.yaxis.set_major_formatter(plain_formatter())
    ax.grid(True, axis="y", alpha=0.3)
