"""Independent cached pipeline steps spread over worker processes.

A probe trains on one CPU thread (``lib.methods.probing``: thread hand-offs cost more than they save on its small
matrices), so a notebook that trains many probes in one process leaves the other cores idle. :func:`in_workers`
runs a batch of such steps in one spawned process per core; each step writes its own cache, which the caller then
reads. On a GPU the steps run in this process, one after another. Used in: lib.pipeline.lca.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Callable, Sequence

from lib.methods.probing import device
from lib.progress import interval, tqdm


def worker_count(tasks: int, jobs: int | None = None) -> int:
    """How many processes run ``tasks`` steps: ``jobs`` (default: one per CPU core), never more than the steps;
    one on a GPU, which the steps would share."""
    if device() != "cpu":
        return 1
    return max(1, min(jobs or os.cpu_count() or 1, tasks))


def in_workers(step: Callable[[tuple], None], tasks: Sequence[tuple], jobs: int | None = None, desc: str = "",
               progress: bool = True) -> None:
    """Run ``step(task)`` for every task, in :func:`worker_count` spawned processes, with one progress bar.
    ``step`` must be a module-level function (it is pickled by name) whose results go to a cache. The bar is
    redrawn every :func:`lib.progress.interval` seconds while the workers run, so a batch of minutes-long steps
    shows its elapsed time before the first one ends."""
    workers = worker_count(len(tasks), jobs)
    with tqdm(total=len(tasks), desc=desc, disable=not progress or not tasks) as bar:
        if workers == 1:
            for task in tasks:
                step(task)
                bar.update(1)
            return
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results, left = pool.imap_unordered(step, tasks), len(tasks)
            while left:
                try:
                    results.next(timeout=interval())
                except multiprocessing.TimeoutError:
                    bar.refresh()
                    continue
                left -= 1
                bar.update(1)
