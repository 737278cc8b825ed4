"""recorded_task / read_task_records: how a task ended, written where the local runner reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.errors import DataValidationError
from shipyard.task_record import RECORDS_ENV, read_task_records, recorded_task


def test_nothing_is_written_without_the_environment_variable(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with recorded_task("train-model"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_success_and_failure_are_recorded_in_the_order_tasks_ended(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path))
    with recorded_task("ingest-data"):
        pass
    with pytest.raises(DataValidationError):
        with recorded_task("validate-data"):
            raise DataValidationError(["column 'age': 40.0% of values are outside the contract range"])
    with pytest.raises(KeyboardInterrupt):
        with recorded_task("a-task"):  # sorts first by name, ended last
            raise KeyboardInterrupt

    records = read_task_records(tmp_path)
    assert [(r["task"], r["status"]) for r in records] == [
        ("ingest-data", "succeeded"),
        ("validate-data", "failed"),
        ("a-task", "failed"),
    ]
    failed = records[1]
    assert failed["error_type"] == "DataValidationError"
    assert "outside the contract range" in failed["error"]
    assert failed["findings"][0]["column"] == "age"
    assert records[2]["error_type"] == "KeyboardInterrupt"


def test_unreadable_records_are_skipped(tmp_path: Path):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps(["not", "a", "record"]))
    (tmp_path / "ok.json").write_text(json.dumps({"task": "ok", "status": "succeeded", "ended": 1.0}))
    assert [r["task"] for r in read_task_records(tmp_path)] == ["ok"]
    assert read_task_records(tmp_path / "missing") == []


def test_a_record_that_cannot_be_written_never_fails_the_task(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(RECORDS_ENV, str(blocker / "records"))  # a directory inside a file
    with pytest.warns(UserWarning, match="could not record how task 'train-model' ended"):
        with recorded_task("train-model"):
            done = True
    assert done


def test_a_task_that_never_ends_leaves_its_running_record(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path))
    context = recorded_task("killed")
    context.__enter__()  # the process dies here: no __exit__
    assert [(r["task"], r["status"]) for r in read_task_records(tmp_path)] == [("killed", "running")]


# -- task_attempts: a component body run again only for a transient fault ---------------------


def _attempted(body, monkeypatch, tmp_path: Path):
    """Runs ``body(attempt number)`` under task_attempts; returns (result or error, waits, attempts made)."""
    from shipyard.task_record import task_attempts

    monkeypatch.setenv(RECORDS_ENV, str(tmp_path))
    waits: list[float] = []
    made: list[int] = []

    def run():
        for attempt in task_attempts("register-model", sleep=waits.append):
            with attempt:
                made.append(attempt.number)
                return body(attempt.number)
        return None

    try:
        outcome = run()
    except Exception as exc:  # noqa: BLE001 - the test looks at which error came out
        outcome = exc
    return outcome, waits, made


def test_a_store_fault_is_retried_with_doubling_waits_and_a_line_saying_so(tmp_path, monkeypatch, capsys):
    from shipyard.errors import StoreError

    def body(number):
        if number < 3:
            raise StoreError("cannot reach bucket 'models': connection refused")
        return "registered"

    outcome, waits, made = _attempted(body, monkeypatch, tmp_path)

    assert outcome == "registered" and made == [1, 2, 3] and waits == [2.0, 4.0]
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "retrying register-model: cannot reach bucket 'models': connection refused (attempt 2 of 3, next in 2 s)",
        "retrying register-model: cannot reach bucket 'models': connection refused (attempt 3 of 3, next in 4 s)",
    ]
    record = json.loads((tmp_path / "register-model.json").read_text())
    assert record["status"] == "succeeded" and record["attempts"] == 3


def test_bad_data_fails_at_once_and_is_recorded_as_failed(tmp_path, monkeypatch):
    def body(number):
        raise DataValidationError(["table: 'x.csv' has no data rows"])

    outcome, waits, made = _attempted(body, monkeypatch, tmp_path)

    assert isinstance(outcome, DataValidationError) and made == [1] and waits == []
    record = json.loads((tmp_path / "register-model.json").read_text())
    assert record["status"] == "failed" and record["error_type"] == "DataValidationError"


def test_a_lasting_store_fault_fails_after_the_last_attempt(tmp_path, monkeypatch):
    from shipyard.errors import StoreError

    def body(number):
        raise StoreError("cannot reach bucket 'models'")

    outcome, waits, made = _attempted(body, monkeypatch, tmp_path)

    assert isinstance(outcome, StoreError) and made == [1, 2, 3] and waits == [2.0, 4.0]
    assert json.loads((tmp_path / "register-model.json").read_text())["status"] == "failed"
