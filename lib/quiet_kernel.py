"""A Jupyter kernel manager that sends the kernel process's own output to a file instead of the terminal.

A cell's output goes into the executed notebook whatever the process does; what reaches the kernel's real stdout and
stderr is its own logging and native libraries' writes. At every shutdown jupyter_client interrupts the kernel
(SIGINT) before asking it to stop, and when that signal lands while ipykernel is still handling a message it logs
"KeyboardInterrupt caught in kernel." — on 2026-12-04 in two of three fresh ``make demo`` runs, in the middle of the
progress lines of a notebook that had succeeded. The runner keeps that output in a file and prints it only when
the notebook fails, where it may explain a crash. Used in: :func:`lib.runner.run_notebook`.
"""
from __future__ import annotations

from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import Unicode


class QuietKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel writes its stdout and stderr to ``output`` (appended), when set."""

    output = Unicode("", config=True, help="File for the kernel process's own stdout and stderr.")

    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        """Start the kernel as jupyter_client does, with its stdout and stderr in ``output``."""
        if not self.output:
            await KernelManager._async_start_kernel(self, **kw)
            return
        with open(self.output, "ab") as handle:  # the kernel holds its own copy of the descriptor
            await KernelManager._async_start_kernel(self, **{"stdout": handle, "stderr": handle, **kw})
