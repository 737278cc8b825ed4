"""run_pipeline_locally decides a run's outcome from task records and kfp.local's own failure signal.

Real kfp.local runs of tiny lightweight components (subprocesses of this Python, about half a
second each).
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kfp import dsl

from shipyard.adapters.kfp_local import run_pipeline_locally


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def works() -> str:
    from shipyard.task_record import recorded_task

    with recorded_task("works"):
        return "ok"


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def fails_on_data() -> str:
    from shipyard.task_record import recorded_task

    with recorded_task("fails-on-data"):
        from shipyard.errors import DataValidationError

        raise DataValidationError(["column 'age': 40.0% of values are outside the contract range"])


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def killed() -> str:
    from shipyard.task_record import recorded_task

    with recorded_task("killed"):
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
        return "never"


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def fails_unrecorded() -> str:
    raise RuntimeError("outside any record")


@dsl.pipeline(name="one-good")
def one_good():
    works()


@dsl.pipeline(name="data-error")
def data_error():
    fails_on_data().after(works())


@dsl.pipeline(name="killed-task")
def killed_task():
    killed()


@dsl.pipeline(name="unrecorded")
def unrecorded():
    fails_unrecorded()


def _run(tmp_path: Path, pipeline):
    return run_pipeline_locally(
        pipeline, {}, pipeline_root=tmp_path / "root", log_path=tmp_path / "run" / "run.log", on_progress=None
    )


def test_a_good_run_succeeds_even_when_an_earlier_run_left_a_failed_record(tmp_path: Path):
    stale = tmp_path / "run" / "task-records"
    stale.mkdir(parents=True)
    (stale / "validate-data.json").write_text(json.dumps({"task": "validate-data", "status": "failed", "ended": 1}))

    result = _run(tmp_path, one_good)

    assert result.succeeded and result.error is None
    assert [record["status"] for record in result.tasks.values()] == ["succeeded"]


def test_a_run_leaves_the_signal_handlers_and_kfp_as_it_found_them(tmp_path: Path):
    from kfp.local import subprocess_task_handler

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    launcher = subprocess_task_handler.run_local_subprocess

    assert _run(tmp_path, one_good).succeeded

    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert subprocess_task_handler.run_local_subprocess is launcher


def test_a_failed_task_reports_its_own_error_and_findings(tmp_path: Path):
    result = _run(tmp_path, data_error)

    assert not result.succeeded
    assert result.error_type == "DataValidationError"
    assert "outside the contract range" in result.error
    assert result.findings[0]["column"] == "age"
    assert result.tasks["works"]["status"] == "succeeded"


def test_a_killed_task_is_named_and_never_read_as_success(tmp_path: Path):
    result = _run(tmp_path, killed_task)

    assert not result.succeeded
    assert result.error_type == "TaskKilled" and "'killed'" in result.error


def test_a_failure_outside_any_record_still_fails_the_run_with_readable_text(tmp_path: Path):
    result = _run(tmp_path, unrecorded)

    assert not result.succeeded and result.error
    assert "\x1b[" not in result.error


# -- transient vs deterministic failures: retried inside the task, never by KFP -----------------


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def flaky_store(counter: str, failures: int, error: str) -> str:
    """Fails with ``error`` (store, missing, data) the first ``failures`` times it runs; counts runs in a file."""
    from shipyard.task_record import task_attempts

    for attempt in task_attempts("flaky-store"):
        with attempt:
            from pathlib import Path

            from shipyard.errors import DataValidationError, StoreError
            from shipyard.store.base import NotFound

            runs = Path(counter)
            runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
            if len(runs.read_text()) <= failures:
                raise {
                    "store": StoreError("cannot read 'models/m/aliases': cannot reach bucket 'b': connection refused"),
                    "missing": NotFound("no object 'data.csv' in s3://b (NoSuchKey)"),
                    "data": DataValidationError(["table: 'x.csv' has no data rows"]),
                }[error]
            return "ok"


@dsl.pipeline(name="flaky")
def flaky(counter: str, failures: int, error: str):
    flaky_store(counter=counter, failures=failures, error=error)


def _run_flaky(tmp_path: Path, failures: int, error: str):
    events: list[tuple[str, str, str]] = []
    result = run_pipeline_locally(
        flaky,
        {"counter": str(tmp_path / "runs.txt"), "failures": failures, "error": error},
        pipeline_root=tmp_path / "root",
        log_path=tmp_path / "run" / "run.log",
        on_progress=lambda name, state, seconds, detail: events.append((name, state, detail)),
    )
    return result, len((tmp_path / "runs.txt").read_text()), events


def test_a_store_outage_is_retried_in_the_task_with_a_progress_line(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SHIPYARD_TASK_RETRY_DELAY_S", "0.01")

    result, runs, events = _run_flaky(tmp_path, failures=2, error="store")

    assert result.succeeded and runs == 3
    retries = [detail for name, state, detail in events if state == "RETRYING"]
    assert len(retries) == 2 and "connection refused" in retries[0]
    assert "(attempt 2 of 3, next in 0.01 s)" in retries[0] and "(attempt 3 of 3, next in 0.02 s)" in retries[1]
    assert result.tasks["flaky-store"]["attempts"] == 3


def test_a_store_outage_that_lasts_fails_after_three_attempts(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SHIPYARD_TASK_RETRY_DELAY_S", "0.01")

    result, runs, _ = _run_flaky(tmp_path, failures=5, error="store")

    assert not result.succeeded and runs == 3
    assert result.error_type == "StoreError" and result.tasks["flaky-store"]["attempts"] == 3


def test_bad_data_and_a_missing_object_fail_at_the_first_attempt(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SHIPYARD_TASK_RETRY_DELAY_S", "0.01")
    for error in ("data", "missing"):
        work = tmp_path / error
        work.mkdir()

        result, runs, events = _run_flaky(work, failures=5, error=error)

        assert not result.succeeded and runs == 1, error
        assert [state for _, state, _ in events if state != "started"] == ["FAILURE"], error


def test_is_transient_only_for_store_faults():
    from shipyard.errors import ConfigError, DataValidationError, RegistryError, SmokeTestError, StoreError
    from shipyard.store.base import NotFound
    from shipyard.store.uri import InvalidURI
    from shipyard.task_record import is_transient

    assert is_transient(StoreError("cannot reach the endpoint"))
    for deterministic in (
        DataValidationError(["bad"]),
        ConfigError("bad key"),
        RegistryError("no such version"),
        SmokeTestError("failed"),
        NotFound("no object"),
        InvalidURI("no store at 's3://': no bucket", "no bucket"),
        OSError("disk"),
        ValueError("bug"),
    ):
        assert not is_transient(deterministic), deterministic
    flagged = StoreError("read-only store")
    flagged.transient = False  # type: ignore[attr-defined]
    assert not is_transient(flagged)


def test_the_pipelines_ask_kfp_for_no_retries():
    """KFP 2.17 turns a retry policy into an Argo retryStrategy that retries any failure, bad data included."""
    from kfp import compiler

    from shipyard.pipelines.monitoring import monitoring_pipeline
    from shipyard.pipelines.training import training_pipeline

    for pipeline in (training_pipeline, monitoring_pipeline):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "p.yaml"
            compiler.Compiler().compile(pipeline, str(path))
            assert "retryPolicy" not in path.read_text(), pipeline


# -- interruptions: a signal stops every task process, and the runner says so ---------------------

_HANGING_RUN = """
import json, sys
from pathlib import Path
from kfp import dsl
from shipyard.adapters.kfp_local import run_pipeline_locally

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def hangs(marker: str) -> str:
    import os, subprocess, time
    from pathlib import Path
    from shipyard.task_record import recorded_task
    with recorded_task("hangs"):
        child = subprocess.Popen(["sleep", "300"])  # a grandchild, as a smoke test's model server is
        Path(marker + ".part").write_text(f"{os.getpid()} {child.pid}")
        os.replace(marker + ".part", marker)
        time.sleep(300)
        return "never"

@dsl.pipeline(name="hangs")
def hangs_pipeline(marker: str):
    hangs(marker=marker)

work = Path(sys.argv[1])
result = run_pipeline_locally(
    hangs_pipeline, {"marker": str(work / "pids")}, pipeline_root=work / "root", log_path=work / "run.log"
)
print(json.dumps({"interrupted": result.interrupted, "succeeded": result.succeeded, "error": result.error}))
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_for(path: Path, seconds: float = 180.0) -> None:
    """Polls for a file a task writes when it reached the point under test (no sleep-and-hope)."""
    import time

    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_task_and_its_children_and_the_run_reports_it(tmp_path: Path, signum: int):
    """A real runner process: the task and the process it started are gone after the signal."""
    script = tmp_path / "hanging_run.py"
    script.write_text(_HANGING_RUN)
    runner = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(tmp_path / "pids")
        task_pid, child_pid = map(int, (tmp_path / "pids").read_text().split())
        assert running(task_pid) and running(child_pid)

        runner.send_signal(signum)
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()

    assert runner.returncode == 0, err  # the runner returned a result: the CLI decides the exit status
    reported = json.loads(out.strip().splitlines()[-1])
    assert reported["interrupted"] == signal.Signals(signum).name and not reported["succeeded"]
    assert "during hangs" in reported["error"]
    assert not running(task_pid) and not running(child_pid)


def test_a_sigkilled_runner_leaves_no_task_running(tmp_path: Path):
    """SIGKILL cannot be handled, and tasks run in sessions of their own; the task dies with it (PDEATHSIG)."""
    import time

    script = tmp_path / "hanging_run.py"
    script.write_text(_HANGING_RUN)
    runner = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(tmp_path / "pids")
        task_pid, _ = map(int, (tmp_path / "pids").read_text().split())
        assert running(task_pid)
        runner.kill()
        runner.communicate(timeout=60)
    finally:
        runner.kill()
    deadline = time.monotonic() + 10
    while running(task_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(task_pid), "the task outlived its SIGKILLed runner"
