"""What each pipeline task records about how it ended, for a local runner to read back.

A component wraps its body in :func:`recorded_task`. When the environment names a directory
(``SHIPYARD_TASK_RECORDS``, set by the local runner for the task subprocesses it starts), the task
writes ``<dir>/<task>.json``: ``running`` when it starts, then ``succeeded`` or ``failed`` with the
error's type, message and (for data validation) its structured findings. The runner decides a
run's outcome from these records and the orchestrator's own failure signal, never from the text
of kfp's log. On a cluster the variable is unset and nothing is written: Kubeflow Pipelines
records task status itself.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Environment variable naming the directory task records are written to.
RECORDS_ENV = "SHIPYARD_TASK_RECORDS"


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
    try:
        yield
    except BaseException as exc:
        if directory:
            record = {"task": task, "status": "failed", "started": started, "ended": time.time()}
            _write(Path(directory), task, {**record, **_error_fields(exc)})
        raise
    if directory:
        _write(Path(directory), task, {"task": task, "status": "succeeded", "started": started, "ended": time.time()})


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
