"""CPU slots: at most one computing worker per slot, first come first served, and the slot or queue place of a dead
process comes free; a worker computes on one thread."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lib.pipeline.workers import cpu_slot


def test_no_more_steps_compute_at_once_than_there_are_slots(tmp_path):
    running, most, lock = [], [0], threading.Lock()

    def step() -> None:
        with cpu_slot(slots=2, folder=tmp_path, poll=0.01) as slot:
            with lock:
                running.append(slot)
                most[0] = max(most[0], len(running))
                assert len(set(running)) == len(running), running
            time.sleep(0.15)
            with lock:
                running.remove(slot)

    threads = [threading.Thread(target=step) for _ in range(6)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 2
    assert time.perf_counter() - start >= 0.45  # six steps of 0.15 s through two slots: three rounds


def test_a_slot_waits_for_its_holder_and_comes_free_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path; from lib.pipeline.workers import cpu_slot\n"
                               f"with cpu_slot(slots=1, folder=Path({str(tmp_path)!r})):\n"
                               "    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    got = []

    def wait_for_the_slot() -> None:
        with cpu_slot(slots=1, folder=tmp_path, poll=0.01) as slot:
            got.append(slot)

    waiter = threading.Thread(target=wait_for_the_slot)
    waiter.start()
    waiter.join(0.5)
    assert not got, "the slot was taken while its holder held it"
    holder.kill()
    holder.wait()
    waiter.join(5)
    assert got == [0]


def test_a_waiter_is_served_before_a_worker_that_frees_its_slot_and_asks_again(tmp_path):
    served, arrived = [], threading.Event()

    def busy_worker() -> None:
        for step in range(8):
            with cpu_slot(slots=1, folder=tmp_path, poll=0.005):
                served.append(("worker", step))
                if step == 1:
                    arrived.wait(2)
                time.sleep(0.05)

    def newcomer() -> None:
        time.sleep(0.02)
        arrived.set()
        with cpu_slot(slots=1, folder=tmp_path, poll=0.005):
            served.append(("newcomer", 0))

    threads = [threading.Thread(target=busy_worker), threading.Thread(target=newcomer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert served.index(("newcomer", 0)) <= 3, served  # it came while the worker held its second slot


def test_a_dead_waiters_place_in_the_queue_is_skipped(tmp_path):
    (tmp_path / "wait-00000000000000000001-1-1").touch()  # a waiter that died without removing its file
    with cpu_slot(slots=1, folder=tmp_path, poll=0.01) as slot:
        assert slot == 0
    assert not list(tmp_path.glob("wait-*"))


def _record_threads(task: tuple) -> None:
    import torch

    Path(task[0]).write_text(str(torch.get_num_threads()))


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="torch starts on one thread on a one-core machine anyway")
def test_a_worker_computes_on_one_thread_as_its_slot_is_one_core(tmp_path):
    from lib.pipeline.workers import in_workers

    files = [tmp_path / f"step{i}" for i in range(2)]
    in_workers(_record_threads, [(str(f),) for f in files], jobs=2, progress=False)
    assert [f.read_text() for f in files] == ["1", "1"]
