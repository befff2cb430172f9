"""Figures per model, derived from the cells' medians: bytes copied per
byte delivered, and memory per idle connection; and the fixed sentences
that say where, in each model's code, those copies and that memory are
(printed beside a figure only when the figure is consistent with them)."""

from .common import LIMIT, med
from .plan import idle_counts

# Where each server copies payload bytes in user space, and the range of
# copied / delivered that this description predicts for a payload size:
# (lo, hi) for every size, or a function of the size. The reactors' core
# copies frames shorter than router_core::small_frame (2048 bytes) and
# lends the others (common/reactor/router_core.hpp).
SMALL_FRAME = 2048


def lent_above_small(size):
    return (0.9, 1.1) if size < SMALL_FRAME else (0.0, 0.5)


REACTOR_COPIES = ("copies frames under 2 KiB into the destination's queue "
                  "(cheaper than one more piece of a gathered write) and, "
                  "of longer ones, only what a socket could not take at "
                  "once", "about 1 under 2 KiB, under 0.5 above",
                  lent_above_small)
COPY_DESIGN = {
    "naive_mutex": ("writes each frame to its destination straight from "
                    "the reader's read buffer: no copy", "0", (0.0, 0.02)),
    "csp": ("copies each frame into the message it sends to the "
            "dispatcher", "about 1", (0.9, 1.1)),
    "csp_channel_per_writer": ("copies each frame into a message for the "
                               "destination's writer", "about 1",
                               (0.9, 1.1)),
    "reactor_handrolled": REACTOR_COPIES,
    "reactor_select": REACTOR_COPIES,
    LIMIT: ("drives the reactors' core, so it copies as they do",
            REACTOR_COPIES[1], lent_above_small),
}

# What each server keeps per connection while the connection is idle.
COROUTINE = ("and no read buffer: it waits for readability before it "
             "takes one, and gives it back when no partial frame is left")
IDLE_DESIGN = {
    "naive_mutex": "a coroutine frame " + COROUTINE,
    "csp": "a reader's coroutine frame " + COROUTINE,
    "csp_channel_per_writer": "a reader's and a writer's coroutine frames, "
    "the writer's channel " + COROUTINE,
    "reactor_handrolled": "a table entry and a socket (the socket's "
    "buffers are kernel memory, not in the server's RSS)",
    "reactor_select": "a table entry and a socket (the socket's buffers "
    "are kernel memory, not in the server's RSS)",
    LIMIT: "a descriptor and the core's table entry, as the reactors",
}
COROUTINE_MODELS = ["naive_mutex", "csp", "csp_channel_per_writer"]


def copies(medians, name):
    """Copied / delivered bytes per payload size (the median over the
    throughput cells of that size, keyed by the size as a string), and
    how many cells reported it; None if none did."""
    by_size = {}
    for (n, k), r in medians.items():
        if n != name or not k.startswith("throughput/"):
            continue
        if r.get("copies_per_byte") is not None:
            size = int(k.split("x")[-1])
            by_size.setdefault(size, []).append(r["copies_per_byte"])
    if not by_size:
        return None
    return {"by_size": {str(z): med(v) for z, v in sorted(by_size.items())},
            "cells": sum(map(len, by_size.values()))}


def copies_text(c):
    """'1.00 / 1.00 / 0.00': the figure per payload size, smallest first."""
    return " / ".join(f"{v:.2f}" for v in c["by_size"].values())


def copy_sentence(name, c):
    """The design's sentence when every size's figure fits it; else what
    was expected, beside the figures."""
    design = COPY_DESIGN.get(name)
    if design is None:
        return None
    text, expected, bounds = design
    for size, v in c["by_size"].items():
        lo, hi = bounds(int(size)) if callable(bounds) else bounds
        if not lo - 1e-9 <= v <= hi + 1e-9:
            return (f"**not** what its code predicts ({expected}: it "
                    f"{text}); the count or the code has changed")
    return f"consistent with its code: it {text}"


def idle_kib(medians, name, idle):
    """(peak RSS with `idle` idle connections - peak RSS with none) / the
    connections held, in KiB; None when either run lacks the figure."""
    a, b = medians.get((name, "scale/0")), medians.get((name, f"scale/{idle}"))
    if not a or not b or not a.get("peak_rss_kb") or not b.get(
            "peak_rss_kb"):
        return None
    held = b.get("idle_held")
    held = idle if held is None else held
    if held <= 0:
        return None
    return (b["peak_rss_kb"] - a["peak_rss_kb"]) / held


def idle_sentence(name, kib):
    """What the model keeps per idle connection, and what the figure
    says about a whole read buffer."""
    design = IDLE_DESIGN.get(name)
    if design is None:
        return None
    if name not in COROUTINE_MODELS or kib is None:
        return f"it keeps {design}"
    held = ("at least a whole read buffer's worth: one is held after all"
            if kib >= 60 else "less than a whole read buffer")
    return f"it keeps {design}; the figure is {held}"


def per_model(results):
    """The per-model figures, for results.json."""
    servers, medians = results.servers, results.medians
    idles = idle_counts(results.cells)
    out = {}
    for name in servers:
        c = copies(medians, name)
        kib = {str(i): idle_kib(medians, name, i) for i in idles if i}
        out[name] = {"copies": c,
                     "idle_kib_per_connection": kib}
    return out
