"""The progress line: time elapsed, and an estimate of the time left.

A run's time is known in part in advance (the load generator's warmup and
measured window: plan.planned_seconds) and in part not (starting the server,
connecting, idle connections, the slow client's drain, stopping it, a retry):
that overhead is measured as the runs go, per cell, so the estimate gets
better as they do: a cell's first run measures it for the runs after. Before
that, a prior stands in for it."""

import time

from .plan import cell_key, planned_seconds

PRIOR_OVERHEAD = 0.5      # seconds per run before its cell was measured
PRIOR_DRAIN = 2.0         # the slow client's flood and drain
PRIOR_IDLE = 1.0          # opening and closing idle connections


def clock(seconds):
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    def __init__(self, cells_in_order, config, after=0.0):
        """cells_in_order: the cell of every run, in the order they run;
        after: seconds planned after them (the profiles)."""
        self.planned = [planned_seconds(c, config) for c in cells_in_order]
        self.keys = [cell_key(c) for c in cells_in_order]
        self.prior = {cell_key(c): PRIOR_OVERHEAD
                      + (PRIOR_DRAIN if c.get("slow") else 0)
                      + (PRIOR_IDLE if c.get("idle") else 0)
                      for c in cells_in_order}
        self.overhead = {}          # cell key -> seconds per run, measured
        # After the runs: the profiles, the parser benchmark, the report
        # and the charts.
        self.tail = (8.0 if config.quick else 15.0) + after
        self.started = time.monotonic()
        self.done = 0

    def record(self, seconds):
        """The next run took this long."""
        key = self.keys[self.done]
        self.overhead.setdefault(key, []).append(
            max(0.0, seconds - self.planned[self.done]))
        self.done += 1

    def overhead_of(self, key):
        if key in self.overhead:
            return sum(self.overhead[key]) / len(self.overhead[key])
        return self.prior[key]

    def left(self):
        return self.tail + sum(
            self.planned[i] + self.overhead_of(self.keys[i])
            for i in range(self.done, len(self.planned)))

    def elapsed(self):
        return time.monotonic() - self.started

    def opening(self):
        return f"estimated time: {clock(self.left())} (minutes:seconds)"

    def line(self):
        return f"{clock(self.elapsed())} elapsed, ~{clock(self.left())} left"
