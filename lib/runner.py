"""The notebook harness: execute notebooks headless with papermill into ``reports/<profile>/``.

``make demo`` runs every notebook in ``notebooks/`` through :func:`run_all`, two side by side where one does not need
the other's results (:data:`NEEDS`); the tests run each in the ``tiny`` profile. Each executed notebook is saved
beside its HTML rendering, and each notebook records its key numbers with :func:`write_results`, so runs can be
compared without reading HTML. While a notebook runs, the terminal
shows its sections and its progress bars as plain lines (:class:`Follower`, :mod:`lib.progress`); at the end, the
wall time per notebook (kept in ``reports/<profile>/timings.json`` to estimate the next run). Ctrl-C or SIGTERM stops
cleanly: no half-written report, no kernel left behind (a kernel that does not shut down within ``STOP_GRACE``
seconds is killed), and the next run resumes from the caches.
Used in: the Makefile (``python -m lib.runner``), tests/test_notebooks.py, and the last cell of every notebook.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from lib.pipeline.artifacts import atomic_path, read_json, write_json, write_text
from lib.pipeline.profiles import PROFILES, REPO_ROOT, get_profile, reports_dir
from lib.progress import INTERVAL_ENV, PROGRESS_ENV
from lib.progress import interval as progress_interval
from lib.summary import write_summary

# jsonschema, which nbformat and papermill import, imports the optional ``rfc3987_syntax`` when it is installed (it
# comes with JupyterLab's dependencies), and that builds an Earley grammar for IRIs at import: 2.9 of the 3.8 s that
# importing nbconvert took, in every process that runs or renders a notebook. No notebook field is an IRI; marking
# the module absent makes jsonschema skip that one format check.
sys.modules.setdefault("rfc3987_syntax", None)

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
TIMINGS = "timings.json"
# What each notebook took on a fresh clone (measured, with the machine it ran on): a first run's estimates.
FRESH_TIMINGS = NOTEBOOKS_DIR / "timings.json"


def tag(notebook: Path) -> str:
    """A notebook's number, as progress lines and :data:`NEEDS` name it ("01" for 01_linguistic_correlation)."""
    return notebook.stem.split("_")[0]


def notebooks() -> list[Path]:
    """The project's notebooks in reading order (``NN_name.ipynb``)."""
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def check_parameters(specs: Sequence[tuple[str, Any, type]]) -> None:
    """Check a notebook's parameters, each ``(name, value, kind)``: papermill passes whatever a user typed, so a wrong
    type fails here, naming the parameter, rather than deep inside ``lib``. Lists must hold strings; an int is
    accepted where a float is expected (``-p lambda_margin 1``). Used in: the second cell of every notebook."""
    for name, value, kind in specs:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            of = " of str" if kind is list else ""
            raise TypeError(f"parameter {name} must be of type {kind.__name__}{of}, got {value!r}")


def check_choices(profile: str, corpus: str, models: Sequence[str] = (), props: Sequence[str] = ()) -> dict:
    """Resolve a notebook's model and property names before any work starts: an unknown model (the profile's
    models, ``minilm``, a Hugging Face folder or ``hf:<id>``) or a property the corpus lacks (its own, or a custom
    ``column:`` / ``feat:`` / ``labels:`` one) raises, listing the known ones. Returns the model specs by name.
    Used in: the second cell of notebooks 01, 04 and 06."""
    from lib.pipeline.properties import PROPERTIES, get_property, properties_for
    from lib.pipeline.specs import model_spec

    specs = {m: model_spec(profile, m) for m in models}
    known = properties_for(corpus)
    for prop in props:
        if prop in PROPERTIES and prop not in known:
            raise KeyError(f"property {prop!r} is not available for corpus {corpus!r}; its properties are "
                           f"{', '.join(known)}, or a custom column:<c>, feat:<F> or labels:<file>")
        get_property(prop)
    return specs


def write_results(profile: str, notebook: str, results: dict[str, Any]) -> Path:
    """Record a notebook's key numbers as ``reports/<profile>/<notebook>.json`` (written atomically)."""
    return write_json(reports_dir(profile) / f"{notebook}.json", results)


def read_results(profile: str, notebook: str) -> dict[str, Any]:
    """The key numbers a notebook recorded with :func:`write_results`."""
    path = reports_dir(profile) / f"{notebook}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run notebooks/{notebook}.ipynb in profile {profile!r} first")
    return read_json(path)


def run_notebook(path: str | Path, profile: str, parameters: dict[str, Any] | None = None,
                 html: bool = True) -> Path:
    """Execute one notebook headless with ``profile`` (and ``interactive=False``) into ``reports/<profile>/``.

    Prints which section runs and the lines of its progress bars (:class:`Follower`). The report is written
    atomically: an interrupted run (Ctrl-C) leaves no half-written report and stops the kernel; the caches it filled
    stay, so rerunning resumes. Returns the executed notebook's path; an HTML rendering is written beside it when
    ``html`` is true.
    """
    import papermill
    from traitlets.config import Config

    from lib.quiet_kernel import QuietKernelManager

    path = Path(path)
    if not path.exists():
        known = ", ".join(p.name for p in notebooks())
        raise FileNotFoundError(f"no notebook {path}; known notebooks: {known}")
    params = {"profile": get_profile(profile).name, "interactive": False, **(parameters or {})}
    out = reports_dir(profile) / path.name
    with tempfile.TemporaryDirectory(prefix="grains-") as run_dir, Follower(path, Path(run_dir)) as follow, \
            atomic_path(out) as tmp:
        # Unix sockets, not TCP, between papermill and its kernel: nothing to eavesdrop on, so ipykernel stays quiet;
        # the kernel process's own output goes to a file, shown only if the notebook fails (lib.quiet_kernel).
        kernel_output = Path(run_dir) / "kernel-output.txt"
        kernel = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(run_dir) / "kernel")},
                         "QuietKernelManager": {"output": str(kernel_output)}})
        try:
            papermill.execute_notebook(str(path), str(tmp), parameters=params, kernel_name="python3",
                                       cwd=str(path.parent), progress_bar=False, log_output=False, config=kernel,
                                       kernel_manager_class=QuietKernelManager, on_cell_start=follow.cell_start,
                                       on_cell_execute=follow.cell_execute)
        except Exception:
            _show_kernel_output(kernel_output, path)
            raise
    if html:
        write_text(out.with_suffix(".html"), _to_html(out))
    return out


def _show_kernel_output(output: Path, notebook: Path, lines: int = 40) -> None:
    """Print the last ``lines`` the kernel process of a failed ``notebook`` wrote outside its cells, if any."""
    text = output.read_text(errors="replace").strip() if output.exists() else ""
    if text:
        tail = "\n".join(text.splitlines()[-lines:])
        print(f"[grains] {tag(notebook)} · the kernel process wrote (last {lines} lines):\n{tail}", file=sys.stderr,
              flush=True)


class Follower:
    """Prints, while a notebook runs headless, the section being executed and its progress-bar lines.

    The kernel inherits ``GRAINS_PROGRESS_FILE`` (see :mod:`lib.progress`); a thread prints each line the kernel
    appends, prefixed with the notebook's number, and says which cell is still running when the file stays quiet for
    ``4 × GRAINS_PROGRESS_INTERVAL`` seconds. Used in: :func:`run_notebook`.
    """

    def __init__(self, notebook: Path, run_dir: Path, echo: Callable[[str], None] | None = None):
        self.tag = tag(notebook)
        self.file = run_dir / "progress.txt"
        self.echo = echo or (lambda line: print(line, flush=True))
        self.n_code = sum(c.get("cell_type") == "code" for c in _read_cells(notebook))
        self.section, self.shown, self.code_seen = "", "", 0
        self.start = self.last = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"grains-progress-{self.tag}", daemon=True)
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> "Follower":
        self.file.touch()
        for name, value in ((PROGRESS_ENV, str(self.file)), (INTERVAL_ENV, str(progress_interval()))):
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def say(self, text: str) -> None:
        """Print one line about this notebook, with the time since it started."""
        self.last = time.perf_counter()
        self.echo(f"[grains] {self.tag} {_clock(self.last - self.start)} · {text}")

    def cell_start(self, cell: Any, cell_index: int) -> None:
        """nbclient hook for every cell: a markdown heading names the section the next code cells belong to."""
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            self.section = headings[0] if headings else self.section

    def cell_execute(self, cell: Any, cell_index: int) -> None:
        """nbclient hook before a code cell runs: announce each new section once."""
        if "injected-parameters" in cell.metadata.get("tags", []):
            return
        self.code_seen += 1
        if self.section != self.shown:
            self.shown = self.section
            self.say(f"cell {self.code_seen}/{self.n_code} · {self.section}")

    def _follow(self) -> None:
        offset, quiet = 0, 4 * progress_interval()
        while True:
            stopping = self._stop.wait(0.5)
            with open(self.file, encoding="utf-8") as f:
                f.seek(offset)
                chunk = f.read()
            complete = chunk[:chunk.rfind("\n") + 1]
            offset += len(complete.encode("utf-8"))
            for line in complete.splitlines():
                self.say(line)
            if stopping:
                return
            if time.perf_counter() - self.last > quiet:
                self.say(f"still in cell {self.code_seen}/{self.n_code} · {self.shown}" if self.code_seen
                         else "starting the kernel")


def _read_cells(notebook: Path) -> list[dict]:
    import nbformat

    return nbformat.read(notebook, as_version=4).cells


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration in seconds."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _to_html(executed: Path) -> str:
    import nbconvert
    import nbformat

    body, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    return body


NEEDS = {"03": ("02",), "04": ("01", "02"), "05": ("01", "02", "04"), "06": ("01",), "07": ("01", "02")}
"""Which notebooks (by number) must finish before another starts when notebooks run side by side: what each reads
of the others' results (04 and 06 read 01's JSON; 03, 04, 05 and 07 read the rankings and probes 01 and 02 build).
Notebooks that build the same artifact at once do not duplicate it: the cache's build lock makes one wait."""
# Each notebook run side by side computes on one thread (torch, MKL, OpenBLAS): two 2-thread processes on two cores
# spent half their time spinning (an en→de extraction took 31 s beside another one against 8.7 s alone; with one
# thread each, 14.3 s beside another as alone). Its worker pools still use one process per core.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def run_all(profile: str, only: list[str] | None = None, parallel: int = 1) -> dict[str, float]:
    """Execute every notebook (or those whose names start with one of ``only``), ``parallel`` at a time in child
    processes as :data:`NEEDS` allows, saying what is left; one at a time in this process when ``parallel`` is 1.

    Before each notebook it prints the time the last run of the profile took for it and for all that remain
    (:func:`previous_timings`: this machine's last run, or a fresh clone's); at the end, a table of wall time per
    notebook. Returns the seconds each notebook took. Ctrl-C stops cleanly: the notebooks being run leave no report
    and the next run resumes from caches. Two at a time keep both cores of a 2-core machine busy through the
    single-threaded stretches of each notebook (loading, plotting, one-off probes) that left one idle.
    """
    chosen = [nb for nb in notebooks() if not only or any(nb.name.startswith(o) for o in only)]
    if not chosen:
        raise ValueError(f"no notebook matches {only}; known: {', '.join(nb.name for nb in notebooks())}")
    timings_file = reports_dir(profile) / TIMINGS
    last = previous_timings(profile)
    began, took = time.perf_counter(), {}
    if parallel <= 1 or len(chosen) == 1:
        for i, nb in enumerate(chosen):
            _announce(nb, profile, chosen[i:], last, f"{i + 1}/{len(chosen)}")
            start = time.perf_counter()
            run_notebook(nb, profile)
            _finished(nb, time.perf_counter() - start, took, timings_file)
    else:
        _run_side_by_side(chosen, profile, parallel, last, took, timings_file)
    print(timings_table(took, profile, time.perf_counter() - began), flush=True)
    return took


def previous_timings(profile: str) -> dict[str, Any]:
    """Seconds per notebook of the last run of ``profile`` here (``reports/<profile>/timings.json``), or else of the
    fresh-clone run recorded in :data:`FRESH_TIMINGS` (key ``"fresh clone"`` set), or nothing."""
    timings_file = reports_dir(profile) / TIMINGS
    if timings_file.exists():
        return read_json(timings_file)
    fresh = read_json(FRESH_TIMINGS).get(profile) if FRESH_TIMINGS.exists() else None
    return {**fresh["notebooks"], "fresh clone": fresh["measured"]} if fresh else {}


class NotebookFailed(RuntimeError):
    """A notebook run in a child process exited with an error (printed by the child)."""


def wall_left(waiting: dict[str, float], busy: dict[str, float] | None = None, slots: int = 1) -> float:
    """Seconds until the notebooks ``waiting`` (tag → seconds each takes) are done when ``slots`` run at once, as
    :func:`_run_side_by_side` starts them (longest ready first, once :data:`NEEDS` among them are done), the ones
    running now (``busy``: tag → seconds they still need) holding their slots; one slot gives the plain sum."""
    pending, running, now = dict(waiting), dict(busy or {}), 0.0
    while pending or running:
        ready = sorted((t for t in pending if not any(n in pending or n in running for n in NEEDS.get(t, ()))),
                       key=lambda t: -pending[t])
        free = max(1, slots) - len(running)
        for t in ready[:max(0, free)]:
            running[t] = now + pending.pop(t)
        now = running.pop(min(running, key=running.get))
    return now


def _announce(nb: Path, profile: str, left: Sequence[Path], last: dict, position: str,
              running: dict[Path, float] | None = None, slots: int = 1) -> None:
    """Say that ``nb`` starts, what the last run took for it and, from those times, the wall time until ``left``
    (``nb`` first) and the notebooks ``running`` (→ seconds they have run) are done, ``slots`` at a time."""
    times, running = [last.get(n.stem) for n in left], running or {}
    run = f"a fresh clone ({last['fresh clone']})" if "fresh clone" in last else "last run"
    known = f"; {run} {_clock(times[0])}" if times[0] else ""
    total = ""
    if all(times) and all(last.get(n.stem) for n in running):
        busy = {tag(n): max(0.0, last[n.stem] - ran) for n, ran in running.items()}
        side = f", {slots} side by side" if slots > 1 else ""
        total = f", about {_clock(wall_left(dict(zip(map(tag, left), times)), busy, slots))} of notebooks left{side}"
    print(f"[grains] running {nb.name} ({position}, profile {profile}{known}{total})", flush=True)


def _finished(nb: Path, seconds: float, took: dict[str, float], timings_file: Path) -> None:
    took[nb.stem] = seconds
    write_json(timings_file, {**read_json(timings_file), **took} if timings_file.exists() else took)
    print(f"[grains] {nb.stem} done in {_clock(seconds)}", flush=True)


def _run_side_by_side(chosen: list[Path], profile: str, parallel: int, last: dict, took: dict[str, float],
                      timings_file: Path) -> None:
    """Run ``chosen`` in up to ``parallel`` child processes (``python -m lib.runner --notebook``, computing on
    one thread: :data:`ONE_THREAD`), each started once the notebooks it needs (:data:`NEEDS`, among ``chosen``) are
    done, the longest by the last run first."""
    tags = {tag(nb): nb for nb in chosen}
    pending, running, done = list(chosen), {}, set()

    def ready(nb: Path) -> bool:
        return all(need in done or need not in tags for need in NEEDS.get(tag(nb), ()))

    try:
        while pending or running:
            startable = sorted((nb for nb in pending if ready(nb)), key=lambda nb: -last.get(nb.stem, 0))
            while startable and len(running) < parallel:
                nb = startable.pop(0)
                pending.remove(nb)
                _announce(nb, profile, [nb, *pending], last, f"{len(chosen) - len(pending)}/{len(chosen)}",
                          {other: time.perf_counter() - start for other, (_, start) in running.items()}, parallel)
                child = subprocess.Popen([sys.executable, "-m", "lib.runner", "--profile", profile,
                                          "--notebook", str(nb)], cwd=REPO_ROOT, env={**os.environ, **ONE_THREAD})
                running[nb] = (child, time.perf_counter())
            time.sleep(0.5)
            for nb, (child, start) in list(running.items()):
                if child.poll() is None:
                    continue
                del running[nb]
                if child.returncode != 0:
                    raise NotebookFailed(f"{nb.name} failed (exit {child.returncode}); its error is printed above")
                done.add(tag(nb))
                _finished(nb, time.perf_counter() - start, took, timings_file)
    finally:
        for child, _ in running.values():
            child.send_signal(signal.SIGTERM)
        for child, _ in running.values():
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()


def timings_table(took: dict[str, float], profile: str, wall: float | None = None) -> str:
    """A plain-text table of wall time per notebook and in total, as the README quotes it; ``wall``, the elapsed
    time of the whole run, when notebooks overlapped (then less than their sum)."""
    width = max(len(name) for name in [*took, "total (one after another)"])
    rows = [f"{name:<{width}}  {_clock(seconds):>8}" for name, seconds in took.items()]
    rule = "-" * (width + 10)
    total = sum(took.values())
    lines = [f"wall time per notebook (profile {profile})", rule, *rows, rule]
    if wall is not None and wall < 0.95 * total:
        return "\n".join([*lines, f"{'sum of notebooks':<{width}}  {_clock(total):>8}",
                          f"{'total (side by side)':<{width}}  {_clock(wall):>8}"])
    return "\n".join([*lines, f"{'total':<{width}}  {_clock(total):>8}"])


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m lib.runner [--profile demo] [--only 00 01] [--parallel 2] [--mirror DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m lib.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=sorted(PROFILES))
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 03")
    parser.add_argument("--mirror", help="folder with offline copies of the corpora (sets GRAINS_DATA_MIRROR)")
    parser.add_argument("--parallel", type=int, default=min(2, os.cpu_count() or 1),
                        help="notebooks run side by side (default: 2 on a machine with 2 or more cores)")
    parser.add_argument("--notebook", help=argparse.SUPPRESS)  # one notebook, for a parent running several at once
    args = parser.parse_args(argv)
    if args.mirror:
        os.environ["GRAINS_DATA_MIRROR"] = str(Path(args.mirror).resolve())
    for stop in (signal.SIGINT, signal.SIGTERM):  # a cancelled CI job or `kill` cleans up as Ctrl-C does
        signal.signal(stop, _stop)
    if args.notebook:
        try:
            run_notebook(args.notebook, args.profile)
        except KeyboardInterrupt:
            return 130
        return 0
    try:
        run_all(args.profile, args.only, args.parallel)
    except NotebookFailed as error:
        print(f"[grains] {error}; the notebooks still running were stopped, and what they cached stays.", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\n[grains] interrupted: the notebook that was running left no report; trained models, activations and "
              "probes saved so far stay cached, so running the same command again resumes from them.", flush=True)
        return 130
    summary = write_summary(args.profile)
    print(f"[grains] results: {reports_dir(args.profile)} (executed notebooks, HTML, JSON); summary: {summary}")
    return 0


STOP_GRACE = 30.0  # seconds a stopped run may spend shutting its kernels down before they are killed


def _stop(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: raise KeyboardInterrupt, so that every context manager cleans up (no report, kernel shut
    down); should that cleanup hang, :func:`_force_stop` ends it after :data:`STOP_GRACE` seconds."""
    timer = threading.Timer(STOP_GRACE, _force_stop)
    timer.daemon = True  # a run that cleans up in time exits without waiting for it
    timer.start()
    raise KeyboardInterrupt


def _force_stop() -> None:
    """Kill every process this one started (kernels, notebooks run side by side, their workers), then exit 130."""
    for pid in reversed(_descendants(os.getpid())):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    print("\n[grains] interrupted: a kernel did not shut down in time and was killed; the caches saved so far stay.",
          flush=True)
    os._exit(130)


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, parents before their children (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            children.setdefault(int(entry.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(entry.parent.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        found.append(queue.pop(0))
        queue.extend(children.get(found[-1], []))
    return found


if __name__ == "__main__":
    sys.exit(main())
