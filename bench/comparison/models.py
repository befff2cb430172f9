"""Figures per model, derived from the cells' medians: bytes copied per
byte delivered, and memory per idle connection; and the fixed sentences
that say where, in each model's code, those copies and that memory are
(printed beside a figure only when the figure is consistent with them)."""

from .common import LIMIT, med

# Where each server copies payload bytes in user space, and the range of
# copied / delivered that this description predicts.
COPY_DESIGN = {
    "naive_mutex": ("writes each frame to its destination straight from "
                    "the reader's read buffer: no copy", "0", 0.0, 0.02),
    "csp": ("copies each frame into the message it sends to the "
            "dispatcher", "about 1", 0.9, 1.1),
    "csp_channel_per_writer": ("copies each frame into a message for the "
                               "destination's writer", "about 1", 0.9, 1.1),
    "reactor_handrolled": ("copies into a destination's queue only what "
                           "its socket could not take at once",
                           "between 0 and 1", 0.0, 1.0),
    "reactor_select": ("copies into a destination's queue only what its "
                       "socket could not take at once", "between 0 and 1",
                       0.0, 1.0),
    LIMIT: ("drives the reactors' core, so it too copies only what a "
            "socket could not take at once", "between 0 and 1", 0.0, 1.0),
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


def copies(s, name):
    """Copied / delivered bytes: the median over the throughput cells
    that report it, its range, and how many cells did; None if none."""
    vals = [r.get("copies_per_byte") for (n, k), r in s.items()
            if n == name and k.startswith("throughput/")]
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"copies_per_byte": med(vals), "min": min(vals),
            "max": max(vals), "cells": len(vals)}


def copy_sentence(name, c):
    """The design's sentence when the figure fits it; else what was
    expected, beside the figure."""
    design = COPY_DESIGN.get(name)
    if design is None:
        return None
    text, expected, lo, hi = design
    if lo - 1e-9 <= c["copies_per_byte"] <= hi + 1e-9:
        return f"consistent with its code: it {text}"
    return (f"**not** what its code predicts ({expected}: it {text}); "
            "the count or the code has changed")


def idle_kib(s, name, idle):
    """(peak RSS with `idle` idle connections - peak RSS with none) / the
    connections held, in KiB; None when either run lacks the figure."""
    a, b = s.get((name, "scale/0")), s.get((name, f"scale/{idle}"))
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


def per_model(servers, s, idles):
    """The per-model figures, for results.json."""
    out = {}
    for name in servers:
        c = copies(s, name)
        kib = {str(i): idle_kib(s, name, i) for i in idles if i}
        out[name] = {"copies": c,
                     "copies_per_byte": c and c["copies_per_byte"],
                     "idle_kib_per_connection": kib}
    return out
