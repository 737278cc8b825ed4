"""What each pipeline task records about how it ended, for a local runner to read back.

A component wraps its body in :func:`recorded_task`. When the environment names a directory
(``SHIPYARD_TASK_RECORDS``, set by the local runner for the task subprocesses it starts), the task
writes ``<dir>/<task>.json``: ``running`` when it starts, then ``succeeded`` or ``failed`` with the
error's type, message and (for data validation) its structured findings. The runner decides a
run's outcome from these records and the orchestrator's own failure signal, never from the text
of kfp's log. On a cluster the variable is unset and nothing is written: Kubeflow Pipelines
records task status itself.

Retries live here too, not in KFP: a KFP retry policy re-runs a failed task whatever the cause (on
a cluster it compiles to an Argo ``retryStrategy`` with no ``retryPolicy`` or ``expression``, so
Argo's default ``OnFailure`` applies), which re-reads a bad file three times. :func:`task_attempts`
runs a component body again only for a transient fault (:func:`is_transient`: the store or the
network), with back-off, and prints a ``retrying TASK: …`` line the local progress display shows.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

#: Environment variable naming the directory task records are written to.
RECORDS_ENV = "SHIPYARD_TASK_RECORDS"
#: How many times a task body runs at most when the store or network fails (the first run included).
ATTEMPTS = 3
#: Seconds before the second attempt (doubling after each); the environment variable overrides it.
FIRST_RETRY_DELAY_S = 2.0
RETRY_DELAY_ENV = "SHIPYARD_TASK_RETRY_DELAY_S"
#: Test hook: a task whose name this variable holds stops right after recording that it started, and
#: waits there (up to an hour) to be interrupted. Lets tests signal a run at an exact point.
HOLD_ENV = "SHIPYARD_TEST_HOLD_TASK"


def is_transient(exc: BaseException) -> bool:
    """Whether running the task again could help: a store or network fault, never bad data or a failed check.

    An error that says so itself (a boolean ``transient`` attribute) decides; otherwise only a
    :class:`~shipyard.errors.StoreError` is transient, except a missing object or a malformed URI,
    which fail the same way every time. DataValidationError, ConfigError, RegistryError and
    SmokeTestError never are.
    """
    flagged = getattr(exc, "transient", None)
    if isinstance(flagged, bool):
        return flagged
    from shipyard.errors import StoreError
    from shipyard.store.base import NotFound
    from shipyard.store.uri import InvalidURI

    return isinstance(exc, StoreError) and not isinstance(exc, (NotFound, InvalidURI))


def _retry_delays() -> float:
    try:
        return max(0.0, float(os.environ.get(RETRY_DELAY_ENV, FIRST_RETRY_DELAY_S)))
    except ValueError:
        return FIRST_RETRY_DELAY_S


def _hold_if_asked(task: str) -> None:
    if os.environ.get(HOLD_ENV) == task:
        time.sleep(3600)


def _error_fields(exc: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {"error_type": type(exc).__name__, "error": str(exc) or type(exc).__name__}
    findings = getattr(exc, "findings", None)
    if findings:
        fields["findings"] = [finding.to_dict() for finding in findings]
    return fields


def _write(directory: Path, task: str, record: dict[str, Any]) -> None:
    """Writes the record atomically; a record that cannot be written is a warning, never a task failure."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{task}.{os.getpid()}.part"
        partial.write_text(json.dumps(record, default=str), encoding="utf-8")
        os.replace(partial, directory / f"{task}.json")
    except OSError as exc:
        warnings.warn(f"could not record how task '{task}' ended in {directory}: {exc}", stacklevel=3)


@contextmanager
def recorded_task(task: str) -> Iterator[None]:
    """Records that the ``with`` body started, then how it ended (succeeded, or failed with which error).

    A task killed before it ends (out of memory, SIGKILL) leaves its ``running`` record behind,
    which is how the runner tells it from a task that never started. Failures are re-raised.
    """
    directory = os.environ.get(RECORDS_ENV)
    started = time.time()
    if directory:
        _write(Path(directory), task, {"task": task, "status": "running", "started": started})
    die_with_parent()
    _hold_if_asked(task)
    try:
        yield
    except BaseException as exc:
        if directory:
            record = {"task": task, "status": "failed", "started": started, "ended": time.time()}
            _write(Path(directory), task, {**record, **_error_fields(exc)})
        raise
    if directory:
        _write(Path(directory), task, {"task": task, "status": "succeeded", "started": started, "ended": time.time()})


class TaskAttempt:
    """One run of a task body (see :func:`task_attempts`): ``with attempt:`` around the body."""

    def __init__(self, task: str, number: int, attempts: int, started: float, sleep: Callable[[float], None]):
        self.task, self.number, self.attempts, self.started, self._sleep = task, number, attempts, started, sleep
        self.finished = False  # the body returned, or raised an error that is not retried

    def __enter__(self) -> TaskAttempt:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        directory = os.environ.get(RECORDS_ENV)
        record = {"task": self.task, "started": self.started, "ended": time.time(), "attempts": self.number}
        if exc is None:
            self.finished = True
            if directory:
                _write(Path(directory), self.task, {**record, "status": "succeeded"})
            return False
        if self.number < self.attempts and isinstance(exc, Exception) and is_transient(exc):
            delay = _retry_delays() * 2 ** (self.number - 1)
            print(
                f"retrying {self.task}: {exc} (attempt {self.number + 1} of {self.attempts}, next in {delay:g} s)",
                flush=True,
            )
            self._sleep(delay)
            return True  # swallowed: the next attempt runs
        self.finished = True
        if directory:
            _write(Path(directory), self.task, {**record, "status": "failed", **_error_fields(exc)})
        return False


def task_attempts(
    task: str, *, attempts: int = ATTEMPTS, sleep: Callable[[float], None] = time.sleep
) -> Iterator[TaskAttempt]:
    """Runs a component body up to ``attempts`` times while it fails transiently; records it as recorded_task does.

    Usage (the body must be safe to run again, as shipyard's stages are within one run)::

        for attempt in task_attempts("register-model"):
            with attempt:
                ...  # may return

    Bad data, bad config or a failed check fail at once; a store or network fault (:func:`is_transient`)
    waits FIRST_RETRY_DELAY_S, then twice that, printing ``retrying TASK: why (attempt 2 of 3, next in 2 s)``.
    """
    directory = os.environ.get(RECORDS_ENV)
    started = time.time()
    if directory:
        _write(Path(directory), task, {"task": task, "status": "running", "started": started})
    die_with_parent()
    _hold_if_asked(task)
    for number in range(1, attempts + 1):
        attempt = TaskAttempt(task, number, attempts, started, sleep)
        yield attempt
        if attempt.finished:
            return


def read_task_records(directory: Path) -> list[dict[str, Any]]:
    """Every task record in ``directory``, in the order the tasks ended (still running last, by start)."""
    records = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("status"), str):
            records.append(record)
    return sorted(records, key=lambda r: (r.get("ended") is None, float(r.get("ended") or r.get("started") or 0.0)))


def die_with_parent() -> None:
    """Asks Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG); no-op elsewhere.

    Local tasks run in sessions of their own (kfp.local starts each through a shell), so a signal
    to a killed ``shipyard run``'s process group reaches neither the shell nor the task's Python:
    the runner sets this in the shell it starts, and each task body in itself, so a SIGKILLed run
    leaves no task writing to the registry on its own.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
