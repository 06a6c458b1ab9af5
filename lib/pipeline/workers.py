"""Independent cached pipeline steps spread over worker processes.

A probe's products run on as many threads as torch is set to use (``lib.methods.probing``), but the rest of its work
and of most steps is one thread's, so a notebook that trains many probes in one process leaves cores idle.
:func:`in_workers` runs a batch of such steps in one worker process per core, each on one thread (forked from a
server that imported the pipeline once); each step writes its own cache, which the caller then reads. On a GPU the
steps run in this process, one after another.

Notebooks that run side by side each start such a pool, so a 2-core machine would run four one-thread steps at
once: time-slicing them costs 3-6 % more CPU per probe (``benchmarks/bench_slots.py``: their matrices evict each
other from the caches). A worker therefore computes only while it holds one of the machine's CPU slots
(:func:`cpu_slot`, one per core, shared by every Grains process of this user). Used in: lib.pipeline.lca,
lib.pipeline.model_ablation.
"""
from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import torch

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
    """Run ``step(task)`` for every task, in :func:`worker_count` worker processes (:func:`_context`), each step
    while its worker holds a CPU slot (:func:`cpu_slot`), with one progress bar. ``step`` must be a module-level
    function (it is pickled by name) whose results go to a cache. The bar is redrawn every
    :func:`lib.progress.interval` seconds while the workers run, so a batch of minutes-long steps shows its elapsed
    time before the first one ends."""
    workers = worker_count(len(tasks), jobs)
    with tqdm(total=len(tasks), desc=desc, disable=not progress or not tasks) as bar:
        if workers == 1:
            for task in tasks:
                step(task)
                bar.update(1)
            return
        with _context(step).Pool(workers) as pool:
            results, left = pool.imap_unordered(_in_slot, [(step, task) for task in tasks]), len(tasks)
            while left:
                try:
                    results.next(timeout=interval())
                except multiprocessing.TimeoutError:
                    bar.refresh()
                    continue
                left -= 1
                bar.update(1)


def _context(step: Callable[[tuple], None]) -> multiprocessing.context.BaseContext:
    """Where workers come from: forked from a server process that imported ``step``'s module once (``forkserver``,
    where the platform has it), else spawned. A spawned worker imports torch, pandas and the pipeline again, about 5
    CPU-seconds each (``benchmarks/bench_workers.py``), two per batch of probes or ablation points; forking from
    the server itself, never from the caller's threads (a kernel's), keeps the safety of a fresh process."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([step.__module__])  # read once, when the kernel's first pool starts the server
    return context


def _in_slot(job: tuple[Callable[[tuple], None], tuple]) -> None:
    """A worker's step, computed on one thread while it holds a CPU slot (a slot is one core, and a probe otherwise
    multiplies on as many threads as torch is set to use). Only workers take slots: they hold no build lock when
    they ask for one, so a slot holder never waits for a process that waits for a slot."""
    step, task = job
    torch.set_num_threads(1)
    with cpu_slot():
        step(task)


def slot_folder() -> Path:
    """Where the CPU slots' lock files live: one folder per user in the system's temporary directory."""
    return Path(tempfile.gettempdir()) / f"grains-cpu-slots-{os.getuid()}"


@contextlib.contextmanager
def cpu_slot(slots: int | None = None, folder: Path | None = None, poll: float = 0.02) -> Iterator[int]:
    """Hold one of ``slots`` CPU slots (default: one per core) for the duration of the block; yields the slot's
    number. A slot is an exclusive ``flock`` on ``slot-<i>`` in ``folder`` (default :func:`slot_folder`), released
    by the operating system if its holder dies. Waiters are served first come, first served (:func:`_queued`): a
    worker that frees a slot and asks again at once would otherwise take it back before any waiter woke up, as
    notebook 02's workers did to notebook 01's for three minutes."""
    folder = folder or slot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    count = slots or os.cpu_count() or 1
    with _queued(folder, poll):
        handle, slot = _take_slot(folder, count, poll)
    try:
        yield slot
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextlib.contextmanager
def _queued(folder: Path, poll: float) -> Iterator[None]:
    """Wait until this caller is the earliest living waiter in ``folder``. Each waiter holds an ``flock`` on a file
    named by the time it came, its process and thread (locked before it is renamed into view), removed when it is
    served; a file nobody holds locked is a dead waiter's and is removed (:func:`_first_waiter`)."""
    name = f"wait-{time.time_ns():020d}-{os.getpid()}-{threading.get_ident()}"
    draft, ticket = folder / f"draft-{name}", folder / name
    with open(draft, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        draft.rename(ticket)
        try:
            while _first_waiter(folder) != name:
                time.sleep(poll)
            yield
        finally:
            ticket.unlink(missing_ok=True)


def _first_waiter(folder: Path) -> str | None:
    """The name of the earliest waiter's file that its waiter still holds locked; unlocked ones are removed."""
    for path in sorted(folder.glob("wait-*")):
        try:
            handle = open(path)
        except FileNotFoundError:  # served and removed since the listing
            continue
        with handle:
            if not _try_lock(handle):
                return path.name
            path.unlink(missing_ok=True)
    return None


def _take_slot(folder: Path, count: int, poll: float) -> tuple[IO, int]:
    """The open, locked file of the first free slot and its number, polling until one is free."""
    while True:
        for i in range(count):
            handle = open(folder / f"slot-{i}", "a")
            if _try_lock(handle):
                return handle, i
            handle.close()
        time.sleep(poll)


def _try_lock(handle: IO) -> bool:
    """Take an exclusive ``flock`` on ``handle`` if nobody holds one: True if taken."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
