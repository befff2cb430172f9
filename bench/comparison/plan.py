"""The plan: the cells every server runs, their keys in results.json, and
how long each is planned to take."""

from .common import say
from .servers import raise_fd_limit


def plan(config):
    q = config.quick
    d = 0.5 if q else config.duration
    cells = []
    for pairs in ([8, 64] if q else [1, 8, 64, 512]):
        for size in ([16] if q else [16, 256, 4096]):
            cells.append({"kind": "throughput", "pairs": pairs, "size": size,
                          "duration": d})
    lat = {"pairs": 8, "size": 64, "rate": config.rate,
           "duration": 1.0 if q else config.latency_duration}
    cells.append(dict(lat, kind="latency"))
    cells.append(dict(lat, kind="hol", slow=True))
    # The same, with a short write deadline: the blocking models' stall now
    # ends when the deadline cuts the slow client off (docs/protocol.md,
    # point 8). Our servers only: the peers have deadlines of their own.
    cells.append(dict(lat, kind="hol", slow=True,
                      write_timeout=config.short_write_timeout))
    for idle in ([0, 1000] if q else [0, 1000, 10000]):
        # Longer than the throughput runs: the ratio between two runs is
        # what matters here, and noise from elsewhere averages out.
        cells.append({"kind": "scale", "pairs": 8, "size": 16, "idle": idle,
                      "duration": d if q else config.latency_duration})
    return cells


def cell_key(cell):
    k = cell["kind"]
    if k == "throughput":
        return f"throughput/{cell['pairs']}x{cell['size']}"
    if k == "scale":
        return f"scale/{cell['idle']}"
    if cell.get("write_timeout"):
        return f"{k}/write-timeout"
    return k


def cap_idle(cells):
    """Raises the descriptor limit for the idle connections, or holds fewer
    of them if it cannot."""
    idle_max = max(c.get("idle", 0) for c in cells)
    limit = raise_fd_limit(2 * idle_max + 4096)
    if limit < idle_max + 1100:
        fit = max(0, (limit - 1100) // 1000 * 1000)
        say(f"descriptor limit {limit}: idle connections capped at {fit}")
        for c in cells:
            if c.get("idle", 0) > fit:
                c["idle"] = fit


def as_measured(cells, keys):
    """The plan's cells with the idle counts results.json holds (a run may
    have capped them)."""
    idles = sorted({int(k.split("/")[1]) for k in keys
                    if k.startswith("scale/")})
    scale = [c for c in cells if c["kind"] == "scale"]
    if idles and [c["idle"] for c in scale] != idles:
        others = [c for c in cells if c["kind"] != "scale"]
        cells = others + [dict(scale[0], idle=i) for i in idles]
    return cells


def planned_seconds(cell, config):
    """The load generator's warmup and measured window: the part of a run
    known in advance (progress adds what it measures on top)."""
    return config.warmup + cell["duration"]


def thr_cells(cells):
    return [c for c in cells if c["kind"] == "throughput"]


def idle_counts(cells):
    return [c["idle"] for c in cells if c["kind"] == "scale"]
