"""What starting a pool of workers costs: spawned workers (the old way) against workers forked from a server that
imported the pipeline once (``lib.pipeline.workers._context``), in one process.

A notebook starts a pool for each batch of probes or ablation points (several per notebook). A spawned
worker imports torch, pandas and the pipeline before its first step; a forked one inherits them. Each way starts
``--pools`` pools of ``--workers`` workers, each running one cheap step of ``lib.pipeline.lca``; printed: wall time
and the CPU seconds the workers spent before their step (their imports), and, for the fork server, the one-off CPU
of the server itself (read from ``/proc``):

    .venv/bin/python benchmarks/bench_workers.py [--pools 4 --workers 2]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.pipeline.lca import probe_settings  # noqa: E402
from lib.pipeline.workers import _context  # noqa: E402


def worker_cpu(profile: str) -> tuple[int, float]:
    """This worker's process id and the CPU seconds it has used, after a cheap step of ``lib.pipeline.lca`` and a
    pause that leaves the next task to another worker."""
    probe_settings(profile)
    time.sleep(2.0)
    return os.getpid(), time.process_time()


def server_cpu() -> float:
    """CPU seconds of the running fork server (user + system, from ``/proc``; 0 where there is none)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(context: multiprocessing.context.BaseContext, step, pools: int, workers: int) -> tuple[float, float]:
    """Wall seconds for ``pools`` pools running ``step`` once per worker (2 s of it asleep), and the workers' CPU
    seconds, summed."""
    start, cpu = time.perf_counter(), 0.0
    for _ in range(pools):
        with context.Pool(workers) as pool:
            used = dict(pool.map(step, ["tiny"] * workers, chunksize=1))
            if len(used) < workers:
                raise RuntimeError(f"{workers - len(used)} of {workers} workers ran no step: start-up unmeasured")
            cpu += sum(used.values())
    return time.perf_counter() - start, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from benchmarks.bench_workers import worker_cpu as step  # by its module's name, which workers can import

    spawned = run(multiprocessing.get_context("spawn"), step, args.pools, args.workers)
    forked = run(_context(step), step, args.pools, args.workers)
    server = server_cpu()
    print(f"{args.pools} pools × {args.workers} workers")
    print(f"spawned        wall {spawned[0]:6.1f} s   workers' start-up CPU {spawned[1]:6.1f} s")
    print(f"fork server    wall {forked[0]:6.1f} s   workers' start-up CPU {forked[1]:6.1f} s + server {server:.1f} s")
    print(f"speed-up: wall {spawned[0] / forked[0]:.1f}×, CPU {spawned[1] / max(forked[1] + server, 1e-9):.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
