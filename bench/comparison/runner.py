"""Every run of the plan, interleaved across servers, with the retry loop
and the progress line."""

import time

from .common import PEERS, say
from .plan import cell_key
from .profile import planned_seconds
from .progress import Progress
from .runs import failed, run_cell, short

TRIES = 3


def run_all(config, servers, cells):
    """Returns {(server, cell key): [run, ...]} and how many runs were run
    again. The servers are the inner loop: their runs of one cell follow
    each other, so the machine's slower drifts (a neighbour's load, the
    host's) reach them alike and their ratio, which the report is about,
    keeps less of it than their figures do. The repetitions are the outer
    loop, and every other one takes the servers in reverse, so no server
    always runs first or after the same one."""
    jobs = [(rep, name, cell) for rep in range(config.reps)
            for cell in cells
            for name in (servers if rep % 2 == 0 else servers[::-1])
            if not (cell.get("write_timeout") and name in PEERS)]
    say(f"{len(servers)} servers x {len(cells)} cells x {config.reps} runs = "
        f"{len(jobs)} runs: {', '.join(servers)}")
    progress = Progress([cell for _, _, cell in jobs], config,
                        planned_seconds(config, servers))
    say(progress.opening())
    # The budget is per server, so the first servers cannot spend it all.
    budget = 0 if config.quick else int(
        len(cells) * config.reps * config.retry_budget)
    retried_by = {name: 0 for name in servers}
    raw = {}
    for n, (rep, name, cell) in enumerate(jobs, 1):
        key = cell_key(cell)
        started = time.monotonic()
        best = quietest(name, cell, config, budget, retried_by)
        progress.record(time.monotonic() - started)
        raw.setdefault((name, key), []).append(best)
        say(f"[{n:3}/{len(jobs)}] {name:24} {key:22} rep {rep+1}: "
            f"{short(best)}  ({progress.line()})")
    return raw, sum(retried_by.values())


def quietest(name, cell, config, budget, retried_by, bin_dir=None,
             who=None):
    """One cell's run. A run during which other processes took more than
    --max-contention of a core is run again (up to TRIES tries, within the
    budget of retried_by[who], the server's by default), keeping the
    quietest try. bin_dir: where the server's binary is."""
    who = name if who is None else who
    best = None
    for attempt in range(TRIES):
        try:
            r = run_cell(name, cell, config, bin_dir)
        except RuntimeError as e:
            r = failed(e)
        if best is None or (r.get("others_cores", 0)
                            < best.get("others_cores", 0)):
            best = r
        if (attempt + 1 == TRIES
                or best.get("others_cores", 0) <= config.max_contention
                or retried_by[who] >= budget):
            break
        retried_by[who] += 1
        say(f"      ({name} {cell_key(cell)}: other processes took "
            f"{r.get('others_cores', 0):.2f} of a core; running it again)")
    best["attempts"] = attempt + 1
    return best
