"""Runs a KFP pipeline on this machine with kfp.local, keeping task logs in a file.

The only module that drives ``kfp.local``. Tasks run as subprocesses of the current Python
environment (``SubprocessRunner(use_venv=False)``), so the components' project image is not
needed locally; kfp-kubernetes settings in the pipeline are ignored here.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK_START = re.compile(r"Executing task '?([\w.-]+)'?")
_TASK_END = re.compile(r"Task '?([\w.-]+)'? finished with status (\w+)")
_SHIPYARD_ERROR = re.compile(r"shipyard\.errors\.(\w+): (.+)$")
_ANY_ERROR = re.compile(r"^\s*([\w.]*(?:Error|Exception)): (.+)$")

#: Called with (task name, "started" | "SUCCESS" | "FAILURE" | ..., seconds since the task started).
ProgressCallback = Callable[[str, str, float], None]


@dataclass
class LocalRunResult:
    succeeded: bool
    log_path: Path
    pipeline_root: Path
    tasks: dict[str, str] = field(default_factory=dict)  # task name -> final status
    error_type: str | None = None
    error: str | None = None  # the failing task's own message, when one was found in its log


class _TaskLogWriter(io.TextIOBase):
    """A stdout stand-in: every line goes to the log file; task start/end lines also to a callback."""

    def __init__(self, log: io.TextIOBase, on_progress: ProgressCallback | None):
        self._log, self._on_progress, self._pending = log, on_progress, ""
        # The terminal as it was before the redirect: progress is reported there, not in the log.
        self._terminal = (sys.stdout, sys.stderr)
        self.tasks: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self.shipyard_errors: list[tuple[str, str]] = []
        self.generic_errors: list[tuple[str, str]] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._observe(_ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def _report(self, name: str, state: str, seconds: float) -> None:
        if self._on_progress:
            with contextlib.redirect_stdout(self._terminal[0]), contextlib.redirect_stderr(self._terminal[1]):
                self._on_progress(name, state, seconds)

    def _observe(self, line: str) -> None:
        if match := _TASK_END.search(line):
            name, status = match.groups()
            self.tasks[name] = status
            self._report(name, status, time.monotonic() - self._started.get(name, time.monotonic()))
        elif match := _TASK_START.search(line):
            name = match.group(1)
            self._started[name] = time.monotonic()
            self._report(name, "started", 0.0)
        elif match := _SHIPYARD_ERROR.search(line):
            self.shipyard_errors.append((match.group(1), match.group(2).strip()))
        elif match := _ANY_ERROR.search(line):
            self.generic_errors.append((match.group(1).rsplit(".", 1)[-1], match.group(2).strip()))


def run_pipeline_locally(
    pipeline_func: Callable[..., Any],
    arguments: dict[str, Any],
    *,
    pipeline_root: Path,
    log_path: Path,
    on_progress: ProgressCallback | None = None,
) -> LocalRunResult:
    """Runs ``pipeline_func(**arguments)`` under kfp.local; never raises for a failed task.

    Returns:
        The outcome, the final status of each task, and the first shipyard error a task raised.
    """
    from kfp import local

    pipeline_root.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root), raise_on_error=False)
    with open(log_path, "w", encoding="utf-8") as log:
        writer = _TaskLogWriter(log, on_progress)
        crashed: BaseException | None = None
        with warnings.catch_warnings(), contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
            # The project image's name has no "python" in it, which kfp.local warns about per task.
            warnings.filterwarnings("ignore", message=".*non-Python base image.*")
            warnings.filterwarnings("ignore", message=".*only supported on Kubernetes.*")
            try:
                pipeline_func(**arguments)
            except Exception as exc:  # noqa: BLE001 - reported as the run's error below
                crashed = exc
                print(f"{type(exc).__name__}: {exc}")
        writer.write("\n")
    failed = crashed is not None or any(status != "SUCCESS" for status in writer.tasks.values())
    error_type, error = (writer.shipyard_errors or writer.generic_errors or [(None, None)])[0]
    if crashed is not None and error is None:
        error_type, error = type(crashed).__name__, str(crashed)
    return LocalRunResult(
        succeeded=not failed,
        log_path=log_path,
        pipeline_root=pipeline_root,
        tasks=dict(writer.tasks),
        error_type=error_type if failed else None,
        error=error if failed else None,
    )
