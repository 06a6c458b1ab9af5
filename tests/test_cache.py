"""The cache helper: an artifact is built once, even when two processes ask for it at the same time, and a caller
that will not wait learns at once that another is building it."""
import multiprocessing
import time

import pytest

from lib.pipeline.cache import JSON, Busy, building, cached


def _slow_build(path, log):
    def build():
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(1.0)
        return {"answer": 42}
    return cached(path, build, JSON)


def test_a_second_process_waits_for_the_artifact_the_first_is_building(tmp_path):
    path, log = tmp_path / "step" / "artifact.json", tmp_path / "log.txt"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        found = pool.starmap(_slow_build, [(path, log), (path, log)])
    assert found == [{"answer": 42}, {"answer": 42}]
    assert log.read_text() == "built\n"


def test_a_cached_artifact_is_read_not_rebuilt(tmp_path):
    path = tmp_path / "a.json"
    assert cached(path, lambda: [1, 2], JSON) == [1, 2]
    assert cached(path, lambda: [3], JSON) == [1, 2]


def test_asking_without_waiting_for_an_artifact_being_built_raises_busy_and_builds_nothing(tmp_path):
    path = tmp_path / "store"
    with building(path):
        with pytest.raises(Busy, match="another process is building"):
            with building(path, wait=False):
                raise AssertionError("entered a build another holder has")
    with building(path, wait=False):  # free again: taken at once
        pass
