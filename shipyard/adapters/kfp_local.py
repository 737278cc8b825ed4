"""Runs a KFP pipeline on this machine with kfp.local, keeping task logs in a file.

The only module that drives ``kfp.local``. Tasks run as subprocesses of the current Python
environment (``SubprocessRunner(use_venv=False)``), so the components' project image is not
needed locally; kfp-kubernetes settings in the pipeline are ignored here.

A run's outcome comes from structured signals only: kfp.local's failure exception and the record
each task writes (:mod:`shipyard.task_record`). The log is read for progress display alone.

SIGINT and SIGTERM during a run stop it: every task subprocess runs in a session of its own
(kfp.local's ``run_local_subprocess`` is replaced for the run's duration, see
:class:`_TaskProcesses`), so the runner can end each task's whole process group (a smoke test's
model server included), start no further task, and return ``interrupted`` for the caller to clean
up after.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from shipyard.task_record import die_with_parent

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK_START = re.compile(r"Executing task '?([\w.-]+)'?")
_TASK_END = re.compile(r"Task '?([\w.-]+)'? finished with status (\w+)")
_TASK_RETRY = re.compile(r"^retrying ([\w.-]+): (.*)$")  # printed by shipyard.task_record.task_attempts
#: Printed by a segment's branch when it ends (shipyard/components/segment_flow.py).
_SEGMENT_END = re.compile(r"^segment-ended (.+) (promoted|rejected|unchanged|failed) ([0-9.]+)s$")

#: Called with (task name, "started" | "SUCCESS" | "FAILURE" | "RETRYING" | ..., seconds since the
#: task started, detail: why it is retried and when, else "").
ProgressCallback = Callable[[str, str, float, str], None]

#: Seconds an interrupted task's process group gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 5.0


@dataclass
class LocalRunResult:
    succeeded: bool
    log_path: Path
    pipeline_root: Path
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task label -> its record
    error_type: str | None = None
    error: str | None = None  # the failing task's own message, from its record
    findings: list[dict[str, Any]] = field(default_factory=list)  # the failing task's data findings
    interrupted: str | None = None  # "SIGINT", "SIGTERM" or "SIGHUP" when a signal stopped the run
    stopped_tasks: list[str] = field(default_factory=list)  # tasks that were running when it stopped


class _TaskLogWriter(io.TextIOBase):
    """A stdout stand-in: every line goes to the log file; task start/end lines also to a progress callback."""

    def __init__(self, log: io.TextIOBase, on_progress: ProgressCallback | None):
        self._log, self._on_progress, self._pending = log, on_progress, ""
        # The terminal as it was before the redirect: progress is reported there, not in the log.
        self._terminal = (sys.stdout, sys.stderr)
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:  # parallel branches (dsl.ParallelFor) write from kfp.local's worker threads
            self._log.write(text)
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._observe(_ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def _report(self, name: str, state: str, seconds: float, detail: str = "") -> None:
        if self._on_progress:
            with contextlib.redirect_stdout(self._terminal[0]), contextlib.redirect_stderr(self._terminal[1]):
                self._on_progress(name, state, seconds, detail)

    def _observe(self, line: str) -> None:
        if match := _TASK_END.search(line):
            name, status = match.groups()
            self._report(name, status, time.monotonic() - self._started.get(name, time.monotonic()))
        elif match := _TASK_START.search(line):
            name = match.group(1)
            self._started[name] = time.monotonic()
            self._report(name, "started", 0.0)
        elif match := _SEGMENT_END.match(line.strip()):
            segment, outcome, seconds = match.groups()
            self._report(f"segment {segment}", "FAILURE" if outcome == "failed" else "SUCCESS", float(seconds), outcome)
        elif match := _TASK_RETRY.match(line.strip()):
            name, detail = match.groups()
            self._report(name, "RETRYING", time.monotonic() - self._started.get(name, time.monotonic()), detail)


class _Interrupted(BaseException):
    """Raised in the main thread by the signal handler; a BaseException so no ``except Exception`` in kfp keeps it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


class _TaskProcesses:
    """Starts kfp.local's task subprocesses, each in a new session, and can stop all of them.

    A drop-in for ``kfp.local.subprocess_task_handler.run_local_subprocess`` (same arguments, same
    streaming of the task's output to ``sys.stdout``, same return code). Once :meth:`stop` was
    called no new task starts: one that kfp.local still launches returns failure at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self.stopping = False

    def run(self, full_command: list[str], env_vars: dict[str, str] | None = None) -> int:
        env = {**os.environ, **env_vars} if env_vars else None
        if self.stopping:
            print("not started: the run was interrupted")
            return 1
        process = subprocess.Popen(
            full_command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env,
            start_new_session=True,  # its own process group: the terminal's Ctrl-C reaches the runner only
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call, safe between fork and exec
        )
        try:
            with self._lock:
                self._groups.add(process.pid)
            if self.stopping:  # stop() ran between the check above and Popen
                _signal_group(process.pid, signal.SIGKILL)
            assert process.stdout is not None
            with process:
                for line in iter(process.stdout.readline, ""):
                    print(line, end="")
                print("\n")
                return process.wait()
        except BaseException:
            _signal_group(process.pid, signal.SIGKILL)
            raise
        finally:
            with self._lock:
                self._groups.discard(process.pid)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM to every task's process group, SIGKILL to what is left after ``grace`` seconds."""
        self.stopping = True
        groups = list(self._groups)  # no lock: this runs in a signal handler, maybe while run() holds it
        for group in groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_alive(group) for group in groups):
            time.sleep(0.05)
        for group in groups:
            _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished task whose pipe was not yet read is a zombie, not a running process: kfp's thread reaps it.
    return _has_live_member(group)


def _has_live_member(group: int) -> bool:
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # no /proc: trust killpg
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == group:
            return True
    return False


@contextlib.contextmanager
def _interruptible(processes: _TaskProcesses) -> Iterator[None]:
    """Routes kfp.local's task launches through ``processes``; SIGINT/SIGTERM stop them and raise _Interrupted.

    Outside the main thread (say, a test runner's worker) signals cannot be caught; tasks still run
    in their own sessions.
    """
    from kfp.local import subprocess_task_handler

    original = subprocess_task_handler.run_local_subprocess
    subprocess_task_handler.run_local_subprocess = processes.run
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        for sig in previous:  # a second signal while stopping is ignored: the cleanup must finish
            signal.signal(sig, signal.SIG_IGN)
        print(f"{signal.Signals(signum).name}: stopping the run's tasks")
        processes.stop()
        raise _Interrupted(signum)

    try:
        if threading.current_thread() is threading.main_thread():
            # SIGHUP too: tasks in their own sessions no longer get the closing terminal's hangup.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                previous[sig] = signal.signal(sig, on_signal)
        yield
    finally:
        subprocess_task_handler.run_local_subprocess = original
        processes.stop(grace=1.0)  # normally nothing is left; never leave a task behind
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
    interrupted: str | None = None
    processes = _TaskProcesses()
    # Logging during the run may attach a handler to the root logger bound to the redirected
    # stderr (logging's implicit basicConfig); it must not outlive the run's log file.
    root_handlers = logging.root.handlers[:]
    try:
        with open(log_path, "w", encoding="utf-8") as log:
            writer = _TaskLogWriter(log, on_progress)
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(writer),
                contextlib.redirect_stderr(writer),
                _interruptible(processes),
            ):
                # The project image's name has no "python" in it, which kfp.local warns about per task.
                warnings.filterwarnings("ignore", message=".*non-Python base image.*")
                warnings.filterwarnings("ignore", message=".*only supported on Kubernetes.*")
                warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")  # resources
                try:
                    pipeline_func(**arguments)
                except _Interrupted as exc:
                    interrupted = exc.signal_name
                    print(f"run interrupted by {interrupted}")
                except Exception as exc:  # noqa: BLE001 - the run failed; its task records say why
                    failure = exc
                    print(f"{type(exc).__name__}: {exc}")
            writer.write("\n")
    finally:
        logging.root.handlers[:] = root_handlers
        if saved_env is None:
            os.environ.pop(RECORDS_ENV, None)
        else:
            os.environ[RECORDS_ENV] = saved_env
    records = read_task_records(records_dir)
    failed_tasks = [record for record in records if record["status"] == "failed"]
    stopped = [record["task"] for record in records if record["status"] == "running"]
    succeeded = failure is None and interrupted is None and not failed_tasks and not stopped
    first = failed_tasks[0] if failed_tasks else {}
    error_type, error = first.get("error_type"), first.get("error")
    if interrupted is not None:
        error_type = "Interrupted"
        error = f"interrupted by {interrupted}" + (f" during {', '.join(stopped)}" if stopped else "")
    elif not succeeded and error is None:
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
        interrupted=interrupted,
        stopped_tasks=stopped,
    )
