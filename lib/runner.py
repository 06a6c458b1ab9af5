"""The notebook harness: execute notebooks headless with papermill into ``reports/<profile>/``.

``make demo`` runs every notebook in ``notebooks/`` in order through :func:`run_all`; the tests run each in the
``tiny`` profile. Each executed notebook is saved beside its HTML rendering, and each notebook records its key
numbers with :func:`write_results`, so runs can be compared without reading HTML.
Used in: the Makefile (``python -m lib.runner``), tests/test_notebooks.py, and the last cell of every notebook.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from lib.pipeline.artifacts import atomic_path, read_json, write_json, write_text
from lib.pipeline.profiles import PROFILES, REPO_ROOT, get_profile, reports_dir
from lib.summary import write_summary

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


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

    Returns the executed notebook's path; an HTML rendering is written beside it when ``html`` is true.
    """
    import papermill

    path = Path(path)
    if not path.exists():
        known = ", ".join(p.name for p in notebooks())
        raise FileNotFoundError(f"no notebook {path}; known notebooks: {known}")
    params = {"profile": get_profile(profile).name, "interactive": False, **(parameters or {})}
    out = reports_dir(profile) / path.name
    with atomic_path(out) as tmp:
        papermill.execute_notebook(str(path), str(tmp), parameters=params, kernel_name="python3",
                                   cwd=str(path.parent), progress_bar=False, log_output=False)
    if html:
        write_text(out.with_suffix(".html"), _to_html(out))
    return out


def _to_html(executed: Path) -> str:
    import nbconvert
    import nbformat

    body, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    return body


def run_all(profile: str, only: list[str] | None = None) -> list[Path]:
    """Execute every notebook (or those whose names start with one of ``only``) in order; print timings."""
    chosen = [nb for nb in notebooks() if not only or any(nb.name.startswith(o) for o in only)]
    if not chosen:
        raise ValueError(f"no notebook matches {only}; known: {', '.join(nb.name for nb in notebooks())}")
    done = []
    for nb in chosen:
        start = time.perf_counter()
        print(f"[grains] running {nb.name} (profile {profile}) ...", flush=True)
        done.append(run_notebook(nb, profile))
        print(f"[grains]   done in {time.perf_counter() - start:.0f} s", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m lib.runner [--profile demo] [--only 00 01] [--mirror DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m lib.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=sorted(PROFILES))
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 03")
    parser.add_argument("--mirror", help="folder with offline copies of the corpora (sets GRAINS_DATA_MIRROR)")
    args = parser.parse_args(argv)
    if args.mirror:
        os.environ["GRAINS_DATA_MIRROR"] = str(Path(args.mirror).resolve())
    run_all(args.profile, args.only)
    summary = write_summary(args.profile)
    print(f"[grains] results: {reports_dir(args.profile)} (executed notebooks, HTML, JSON); summary: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
