"""bench/compare: the side-by-side comparison of the five variants.

What it measures, for each variant, the limit line (bench/epoll_forwarder:
one thread, bare epoll, batched writes; a reference, not a variant) and,
when Debian's redis-server and nats-server are there, Redis 7 pub/sub and
NATS 2.9 core pub/sub as real-world peers:

  throughput  closed loop, pairs 1/8/64/512 x payload 16/256/4096 bytes:
              delivered messages/s, MB/s, server CPU time per message
  latency     open loop at a fixed rate every variant sustains: p50/p99/p99.9
  hol         the same run plus a client that never reads, flooded with
              --flood-mb (past the hard limit of --max-pending, 4 x it):
              the others' throughput and p99 against the run
              without it, whether they stalled, whether the slow client was
              disconnected; the server's peak RSS (memory)
  scale       8 active pairs with 0, 1000 and 10000 idle connections open:
              throughput against the 0-idle run
  parser      the frame parser's bytes/s beside memchr (Google Benchmark)

Per server, besides: its system calls per message by kind (perf stat on
the syscall tracepoints, in one more run per throughput cell). Per model:
where its CPU time goes (a perf profile at 8 pairs x 64 B, in named
categories; not with --quick unless --profile), the bytes
it copies per byte delivered (its own count, printed at exit) and its
memory per idle connection (from the scale runs).

Every cell starts a fresh server on port 0 and is repeated (median of
--reps); the repetitions are interleaved across servers so that a noisy
moment on the machine does not land on one variant only. It writes
docs/results.md, docs/results.json and the charts docs/*.png (--quick: a
smoke run in about two minutes, written to build/bench-quick/ instead).

The modules, in the order a run goes through them:

  options   the command line
  servers   building the binaries, starting and stopping one server
  plan      the cells, their keys and planned durations
  runs      one measured run (the load generator), the parser benchmark
  runner    every run, the retry loop, the progress line
  progress  elapsed time and the estimate of the time left
  profile   perf record per server, its samples sorted into categories
  syscalls  perf stat per server: its system calls per message, by kind
  summary   medians, the machine, results.json
  models    the figures per model: copies, memory per idle connection
  report    results.md, one function per section (findings: its claims
            and targets)
  charts    docs/*.png, one function per chart
  main      the whole job, and --replot
  syscalls_only
            --syscalls-only: the counting runs alone, into syscalls.md
  against   --against REV: this tree's servers against REV's, interleaved
  revisions building REV's servers in a temporary worktree

usage: bench/compare [--quick] [--variants a,b] [--reps N] [--out DIR]
                     [--[no-]profile] [--[no-]syscalls] [--no-redis]
                     [--no-nats] [--no-build] [--no-install]
                     [--against REV[,REV...]] [--syscalls-only]
                     [--replot]
"""
