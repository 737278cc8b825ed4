"""Runs a KFP pipeline on this machine with kfp.local, keeping task logs in a file.

The only module that drives ``kfp.local``. Tasks run as subprocesses of the current Python
environment (``SubprocessRunner(use_venv=False)``), so the components' project image is not
needed locally; kfp-kubernetes settings in the pipeline are ignored here.

A run's outcome comes from structured signals only: kfp.local's failure exception and the record
each task writes (:mod:`shipyard.task_record`). The log is read for progress display alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
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

#: Called with (task name, "started" | "SUCCESS" | "FAILURE" | ..., seconds since the task started).
ProgressCallback = Callable[[str, str, float], None]


@dataclass
class LocalRunResult:
    succeeded: bool
    log_path: Path
    pipeline_root: Path
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task label -> its record
    error_type: str | None = None
    error: str | None = None  # the failing task's own message, from its record
    findings: list[dict[str, Any]] = field(default_factory=list)  # the failing task's data findings


class _TaskLogWriter(io.TextIOBase):
    """A stdout stand-in: every line goes to the log file; task start/end lines also to a progress callback."""

    def __init__(self, log: io.TextIOBase, on_progress: ProgressCallback | None):
        self._log, self._on_progress, self._pending = log, on_progress, ""
        # The terminal as it was before the redirect: progress is reported there, not in the log.
        self._terminal = (sys.stdout, sys.stderr)
        self._started: dict[str, float] = {}

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
            self._report(name, status, time.monotonic() - self._started.get(name, time.monotonic()))
        elif match := _TASK_START.search(line):
            name = match.group(1)
            self._started[name] = time.monotonic()
            self._report(name, "started", 0.0)


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
        The outcome, each task's record, and the error of the first task that failed.
    """
    from kfp import local

    from shipyard.task_record import RECORDS_ENV, read_task_records

    pipeline_root.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    records_dir = log_path.parent / "task-records"
    shutil.rmtree(records_dir, ignore_errors=True)  # only this run's records may decide its outcome
    # raise_on_error=True: kfp.local still runs the exit handler, then signals a failed run by raising.
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root), raise_on_error=True)
    saved_env = os.environ.get(RECORDS_ENV)
    os.environ[RECORDS_ENV] = str(records_dir)  # task subprocesses inherit it
    failure: BaseException | None = None
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            writer = _TaskLogWriter(log, on_progress)
            with warnings.catch_warnings(), contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
                # The project image's name has no "python" in it, which kfp.local warns about per task.
                warnings.filterwarnings("ignore", message=".*non-Python base image.*")
                warnings.filterwarnings("ignore", message=".*only supported on Kubernetes.*")
                warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")  # resources
                try:
                    pipeline_func(**arguments)
                except Exception as exc:  # noqa: BLE001 - the run failed; its task records say why
                    failure = exc
                    print(f"{type(exc).__name__}: {exc}")
            writer.write("\n")
    finally:
        if saved_env is None:
            os.environ.pop(RECORDS_ENV, None)
        else:
            os.environ[RECORDS_ENV] = saved_env
    records = read_task_records(records_dir)
    failed_tasks = [record for record in records if record["status"] == "failed"]
    stopped = [record["task"] for record in records if record["status"] == "running"]
    succeeded = failure is None and not failed_tasks and not stopped
    first = failed_tasks[0] if failed_tasks else {}
    error_type, error = first.get("error_type"), first.get("error")
    if not succeeded and error is None:
        if stopped:  # started, never reported an end: the process was killed
            error_type = "TaskKilled"
            error = f"task '{stopped[0]}' stopped without reporting how it ended (killed, or out of memory?)"
        elif failure is not None:  # the pipeline itself failed, or a task outside recorded_task
            error_type, error = type(failure).__name__, _ANSI.sub("", str(failure))
    return LocalRunResult(
        succeeded=succeeded,
        log_path=log_path,
        pipeline_root=pipeline_root,
        tasks={record["task"]: record for record in records},
        error_type=None if succeeded else error_type,
        error=None if succeeded else error,
        findings=list(first.get("findings") or []),
    )
