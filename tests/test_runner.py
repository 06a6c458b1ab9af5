"""The notebook harness: parameter checks, results files, progress lines, Ctrl-C and timings."""
import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lib import progress, runner
from lib.pipeline.profiles import REPO_ROOT


def test_check_parameters_names_the_wrong_one():
    runner.check_parameters([("profile", "tiny", str), ("models", ["en-de"], list), ("share", 1, float)])
    with pytest.raises(TypeError, match="parameter top_k must be of type int, got '5'"):
        runner.check_parameters([("profile", "tiny", str), ("top_k", "5", int)])
    with pytest.raises(TypeError, match="models must be of type list of str"):
        runner.check_parameters([("models", ["en-de", 3], list)])


def test_results_round_trip_and_missing_results_say_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path))
    runner.write_results("tiny", "09_example", {"accuracy": 0.5})
    assert runner.read_results("tiny", "09_example") == {"accuracy": 0.5}
    with pytest.raises(FileNotFoundError, match="run notebooks/10_missing.ipynb"):
        runner.read_results("tiny", "10_missing")


def test_unknown_notebook_lists_the_known_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="00_data_and_models.ipynb"):
        runner.run_notebook(tmp_path / "nope.ipynb", "tiny")


def _notebook(path, *cells):
    """A small notebook in the house layout: a title, a parameters cell, then (markdown, code) ``cells``."""
    nb = new_notebook(cells=[new_markdown_cell("# A test notebook"),
                             new_code_cell('profile = "demo"  # str\ninteractive = True  # bool',
                                           metadata={"tags": ["parameters"]})])
    nb.cells += [new_markdown_cell(c) if c.startswith("#") else new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_failed_notebook_shows_what_its_kernel_process_wrote(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path / "reports"))
    path = _notebook(tmp_path / "09_crash.ipynb", "import os\nos.write(2, b'libfoo: out of widgets\\n')\n"
                                                   "raise RuntimeError('no widgets')")
    with pytest.raises(Exception, match="no widgets"):
        runner.run_notebook(path, "tiny", html=False)
    err = capfd.readouterr().err
    assert "09 · the kernel process wrote" in err and "libfoo: out of widgets" in err


def test_a_headless_run_prints_its_sections_and_progress_lines_without_kernel_noise(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv(progress.INTERVAL_ENV, "0.3")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    path = _notebook(tmp_path / "09_sheep.ipynb", "## Counting sheep",
                     "import time\nfrom lib.progress import tqdm\nbar = tqdm(range(30), desc='sheep')\n"
                     "for i in bar:\n    time.sleep(0.05)\n    bar.set_postfix(loss=f'{i / 7:.3f}')\n"
                     "for i in tqdm(range(3), desc='too fast to show'):\n    pass\n"
                     "import os\n_ = os.write(2, b'a native library mutters\\n')")
    executed = runner.run_notebook(path, "tiny", html=False)
    out, err = capfd.readouterr()
    assert "[grains] 09 " in out and "cell 2/2 · Counting sheep" in out
    bars = [line for line in out.splitlines() if "sheep: " in line]
    assert bars and all("left" in line and "loss=" in line for line in bars), out
    assert any("100% (30/30)" in line for line in bars)
    assert "too fast to show" not in out and "\r" not in out + err
    assert "TCP without encryption" not in out + err
    assert "mutters" not in out + err and "KeyboardInterrupt" not in out + err
    bar_outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
    assert not bar_outputs, "progress goes to the terminal, not into the report"
    assert progress.PROGRESS_ENV not in os.environ, "the runner restores the environment"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_leaves_no_report_stops_the_kernel_and_a_rerun_resumes_from_the_cache(tmp_path, stop):
    notebooks_dir, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks_dir.mkdir()
    _notebook(notebooks_dir / "00_slow.ipynb", "## Building the cache",
              "import os, time\nfrom pathlib import Path\nPath(os.environ['PID_FILE']).write_text(str(os.getpid()))\n"
              "cache = Path(os.environ['CACHE'])\nif not cache.exists():\n    cache.write_text('built')\n"
              "    time.sleep(120)\nprint(cache.read_text())")
    env = {**os.environ, "GRAINS_REPORTS_DIR": str(reports), "PYTHONPATH": str(REPO_ROOT),
           "PID_FILE": str(tmp_path / "pid"), "CACHE": str(tmp_path / "cache")}
    script = ("import sys; from pathlib import Path; from lib import runner; "
              f"runner.NOTEBOOKS_DIR = Path({str(notebooks_dir)!r}); sys.exit(runner.main(['--profile', 'tiny']))")

    first = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "cache").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(stop)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 130 and "interrupted" in out and "resumes" in out, out
    assert not list((reports / "tiny").iterdir()), "no report, half-written or complete, after Ctrl-C"
    kernel = int((tmp_path / "pid").read_text())
    assert _gone(kernel), "the kernel stops with the run"

    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    executed = nbformat.read(reports / "tiny" / "00_slow.ipynb", as_version=4)
    assert "built" in executed.cells[-1].outputs[0]["text"]
    assert "wall time per notebook" in second.stdout and "00_slow" in second.stdout
    assert set(json.loads((reports / "tiny" / runner.TIMINGS).read_text())) == {"00_slow"}


def test_a_stopped_run_whose_cleanup_hangs_is_ended_and_its_processes_killed(tmp_path):
    script = ("import signal, subprocess, sys, time; from lib import runner; runner.STOP_GRACE = 1.0; "
              "signal.signal(signal.SIGINT, runner._stop); child = subprocess.Popen(['sleep', '120']); "
              "print(child.pid, flush=True)\ntry:\n    time.sleep(120)\nexcept KeyboardInterrupt:\n    time.sleep(120)")
    run = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                           stdout=subprocess.PIPE, text=True)
    child = int(run.stdout.readline())
    run.send_signal(signal.SIGINT)
    out, _ = run.communicate(timeout=30)
    assert run.returncode == 130 and "did not shut down in time" in out, out
    assert _gone(child), "the processes it started are killed"


def _gone(pid, wait=10.0):
    """Whether process ``pid`` has exited (or is a zombie waiting to be reaped) within ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status")
        if not status.exists() or "\nState:\tZ" in status.read_text():
            return True
        time.sleep(0.2)
    return False


def test_the_timings_table_lists_every_notebook_and_the_total():
    table = runner.timings_table({"00_data_and_models": 754.2, "01_linguistic_correlation": 65}, "demo")
    lines = table.splitlines()
    assert lines[0] == "wall time per notebook (profile demo)"
    assert "00_data_and_models" in lines[2] and lines[2].endswith("12:34")
    assert lines[-1].startswith("total") and lines[-1].endswith("13:39")


def test_a_first_run_announces_the_fresh_clone_timings_and_a_later_run_its_own(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path / "reports"))
    fresh = tmp_path / "timings.json"
    fresh.write_text(json.dumps({"demo": {"measured": "2 cores, 2026-12-01",
                                          "notebooks": {"00_a": 60.0, "01_b": 120.0}}}))
    monkeypatch.setattr(runner, "FRESH_TIMINGS", fresh)
    nbs = [Path("00_a.ipynb"), Path("01_b.ipynb")]
    runner._announce(nbs[0], "demo", nbs, runner.previous_timings("demo"), "1/2")
    assert "a fresh clone (2 cores, 2026-12-01) 1:00, about 3:00 of notebooks left" in capsys.readouterr().out
    runner._finished(nbs[0], 30.0, {}, tmp_path / "reports" / "demo" / runner.TIMINGS)
    runner._announce(nbs[0], "demo", nbs[:1], runner.previous_timings("demo"), "1/2")
    assert "; last run 0:30, about 0:30 of notebooks left" in capsys.readouterr().out
    assert runner.previous_timings("tiny") == {}


def test_time_left_follows_the_side_by_side_schedule_not_the_sum():
    minutes = {"01": 22, "02": 11, "03": 9, "04": 5}  # 03 needs 02; 04 needs 01 and 02
    waiting = {t: 60.0 * m for t, m in minutes.items()}
    assert runner.wall_left(waiting) == 60 * 47  # one at a time: the sum
    assert runner.wall_left(waiting, slots=2) == 60 * 27  # 01 ‖ 02 then 03; 04 after 01 at 22 min
    assert runner.wall_left({"04": 300.0}, {"01": 600.0, "02": 60.0}, slots=2) == 900  # 04 waits for 01


@pytest.mark.parametrize("path", runner.notebooks(), ids=lambda p: p.stem)
def test_a_notebook_opened_before_make_demo_says_what_happens_in_its_first_cell(path):
    nb = nbformat.read(path, as_version=4)
    intro = nb.cells[0].source
    assert "**Opened before `make demo`?**" in intro
    code = "".join(c.source for c in nb.cells if c.cell_type == "code")
    for needed in re.findall(r'read_results\(\w+\.name, "(\w+)"\)', code):
        assert f"notebooks/{needed}.ipynb" in intro, f"say to run {needed} first"
    if not re.findall(r"read_results\(", code):
        assert "built here with progress bars" in intro or "progress bar per epoch" in intro, "say what gets built"


def test_notebooks_run_side_by_side_once_what_they_need_is_done_and_a_failure_stops_the_run(tmp_path):
    notebooks_dir, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks_dir.mkdir()
    stamp = ("import time\nfrom pathlib import Path\nPath('{0}').write_text(str(time.time()))\ntime.sleep(8)\n"
             "import torch\nPath('{0}.threads').write_text(str(torch.get_num_threads()))")
    for name in ("00_first", "01_second", "06_after_01"):
        _notebook(notebooks_dir / f"{name}.ipynb", f"## {name}", stamp.format(tmp_path / name))
    env = {**os.environ, "GRAINS_REPORTS_DIR": str(reports), "PYTHONPATH": str(REPO_ROOT)}
    script = ("import sys; from pathlib import Path; from lib import runner; "
              f"runner.NOTEBOOKS_DIR = Path({str(notebooks_dir)!r}); sys.exit(runner.main(['--profile', 'tiny', "
              "'--parallel', '2']))")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    started = {name: float((tmp_path / name).read_text()) for name in ("00_first", "01_second", "06_after_01")}
    # Kernels start seconds apart on a loaded machine (3.8 s seen in CI); one after the other is at least 8 s apart.
    assert abs(started["00_first"] - started["01_second"]) < 6, "independent notebooks start together"
    assert started["06_after_01"] >= started["01_second"] + 8, "06 waits for 01 (runner.NEEDS)"
    assert {p.name for p in (reports / "tiny").glob("*.ipynb")} == {"00_first.ipynb", "01_second.ipynb",
                                                                    "06_after_01.ipynb"}
    assert "total (side by side)" in run.stdout
    assert {(tmp_path / f"{name}.threads").read_text() for name in started} == {"1"}, "one thread each (ONE_THREAD)"

    _notebook(notebooks_dir / "00_first.ipynb", "## Failing", "raise ValueError('broken on purpose')")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 1 and "00_first.ipynb failed" in run.stdout, run.stdout + run.stderr


def _slow_step(task: tuple) -> None:
    time.sleep(task[0])


def test_a_batch_of_long_worker_steps_reports_its_elapsed_time_before_the_first_step_ends(tmp_path, monkeypatch):
    from lib.pipeline.workers import in_workers

    lines = tmp_path / "progress.txt"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(lines))
    monkeypatch.setenv(progress.INTERVAL_ENV, "0.3")
    in_workers(_slow_step, [(3.0,), (3.0,)], jobs=2, desc="slow steps")
    states = lines.read_text().splitlines()
    assert any(line.startswith("slow steps:   0% (0/2)") for line in states), states
    assert states[-1].startswith("slow steps: 100% (2/2)"), states
