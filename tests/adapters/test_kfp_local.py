"""run_pipeline_locally decides a run's outcome from task records and kfp.local's own failure signal.

Real kfp.local runs of tiny lightweight components (subprocesses of this Python, about half a
second each).
"""

import json
from pathlib import Path

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
