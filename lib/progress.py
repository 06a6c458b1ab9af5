"""Progress bars a person sees in JupyterLab and a headless run can follow in its terminal.

In a notebook opened by hand, :func:`tqdm` is ``tqdm.auto`` (widget bars). When :mod:`lib.runner` executes a notebook
it sets ``GRAINS_PROGRESS_FILE``: bars then append one plain line (no carriage returns) at most every
``GRAINS_PROGRESS_INTERVAL`` seconds to that file, bars shorter than the interval stay silent, and the runner prints
the lines as they arrive, so a 20-minute training run shows its epoch, loss and time left without flooding a log.
Used in: every lib module that shows progress (training, extraction, corpora, probing, correlation, ablation) and
lib.runner, which reads the file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm as auto_tqdm
from tqdm.std import tqdm as std_tqdm

PROGRESS_ENV = "GRAINS_PROGRESS_FILE"
INTERVAL_ENV = "GRAINS_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 15.0
LINE_FORMAT = "{desc}: {percentage:3.0f}% ({n_fmt}/{total_fmt}), {elapsed} elapsed, {remaining} left{postfix}"


class _LineFile:
    """A write-only stream for tqdm that appends the latest state of a bar as one line of ``path``."""

    def __init__(self, path: Path):
        self.path, self.last = path, ""

    def write(self, text: str) -> None:
        states = [s for s in (part.strip() for part in text.replace("\n", "\r").split("\r")) if s]
        if states and states[-1] != self.last:
            self.last = states[-1]
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(self.last + "\n")

    def flush(self) -> None:
        """Nothing to flush: every write is appended and closed at once."""


class _LineBar(std_tqdm):
    """tqdm that redraws only on its own schedule: a new loss in the postfix waits for the next line."""

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc=None, refresh=True):
        super().set_description(desc, refresh=False)


def interval() -> float:
    """Seconds between two lines of one bar in a headless run (``GRAINS_PROGRESS_INTERVAL``, default 15)."""
    return float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL))


def tqdm(*args: Any, **kwargs: Any) -> std_tqdm:
    """A progress bar: ``tqdm.auto`` for people, plain throttled lines in ``GRAINS_PROGRESS_FILE`` under the runner.

    Takes tqdm's arguments. Used in: lib modules with long loops (model epochs, extraction, probes, ablation sweeps).
    """
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return auto_tqdm(*args, **kwargs)
    every = interval()
    headless = {"file": _LineFile(Path(path)), "mininterval": every, "maxinterval": max(every, 10.0),
                "delay": every, "ascii": True, "bar_format": LINE_FORMAT}
    return _LineBar(*args, **{**headless, **kwargs})
