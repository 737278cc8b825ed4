"""A store path that cannot hold runs, a bad table, a closed pipe: one clear line, no task started.

The store cases run the real CLI in-process (CliRunner). Tests here run as root, which ignores
file permissions, so "no permission" cannot be provoked by chmod; the read-only case mounts a
read-only tmpfs and is skipped (and says so) where mounting is not allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipyard.cli.main import main

#: The CLI as this interpreter runs it (a venv's console script may name another interpreter).
SHIPYARD = [sys.executable, "-m", "shipyard.cli.main"]


def _train(store: str, data: Path, *extra: str):
    return CliRunner().invoke(
        main,
        ["run", "training", "--data", str(data), "--target", "churned", "--model", "m", "--store", store, *extra],
        catch_exceptions=False,
    )


def _assert_one_line_naming(result, store: str, problem: str) -> None:
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"error: store '{store}' {problem}; pass --store (or SHIPYARD_STORE) " + (
        "a directory" if "not a directory" in problem else "a writable directory"
    )
    assert "local-runs" not in result.output and "pipeline-root" not in result.output
    assert "Traceback" not in result.output and "[" not in result.stderr  # no task progress: none started


def test_a_store_that_is_a_file(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    store.write_text("not a directory")

    result = _train(str(store), churn_csv)

    _assert_one_line_naming(result, str(store), "is a file, not a directory")


def test_a_store_under_a_file_with_json(tmp_path: Path, churn_csv: Path):
    (tmp_path / "afile").write_text("x")
    store = tmp_path / "afile" / "store"

    result = _train(str(store), churn_csv, "--json")

    _assert_one_line_naming(result, str(store), f"is under '{tmp_path / 'afile'}', which is a file, not a directory")
    assert json.loads(result.stdout)["status"] == "error"


def test_a_read_only_store(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "ro"
    store.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(store)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        result = _train(str(store), churn_csv)
    finally:
        subprocess.run(["umount", str(store)], check=True)

    _assert_one_line_naming(result, str(store), "is on a read-only file system")


def test_a_bad_table_is_rejected_before_any_task_starts(tmp_path: Path):
    data = tmp_path / "ragged.csv"
    data.write_text("a,b,churned\n1,2,0\n3,4\n5,6,7,8,9\n")

    result = _train(str(tmp_path / "store"), data, "--json")

    assert result.exit_code == 1
    assert "cannot parse" in result.stderr and "Traceback" not in result.output
    assert json.loads(result.stdout)["error_type"] == "DataValidationError"
    assert not (tmp_path / "store" / "local-runs").exists()  # no run started, nothing written


@pytest.mark.slow
def test_a_bad_table_that_reaches_the_ingest_task_fails_there_once(tmp_path: Path):
    """The pipeline itself (past the CLI's own check) runs ingest once on bad data: no KFP retries."""
    from shipyard.cli.training import run_training

    data = tmp_path / "ragged.csv"
    data.write_text("a,b,churned\n1,2,0\n3,4\n5,6,7,8,9\n")
    events: list[tuple[str, str]] = []

    summary = run_training(
        data_uri=str(data),
        target="churned",
        model_name="m",
        task="auto",
        store_uri=str(tmp_path / "store"),
        config_text="",
        contract_uri="",
        code_version="test",
        on_progress=lambda name, state, seconds, detail: events.append((name, state)),
    )

    assert summary["status"] == "failed" and summary["error_type"] == "DataValidationError"
    record = json.loads((Path(summary["log"]).parent / "task-records" / "ingest-data.json").read_text())
    assert record["status"] == "failed" and record["attempts"] == 1
    assert [state for name, state in events if name == "ingest"] == ["started", "FAILURE"]  # one run, no retry


def test_a_closed_stdout_ends_quietly_like_other_command_line_tools(tmp_path: Path):
    """`shipyard ... | head`: the reader is gone before the output is written."""
    (tmp_path / "store").mkdir()
    process = subprocess.Popen(
        [*SHIPYARD, "models", "list", "--store", str(tmp_path / "store"), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `head` does once it has its lines
    err = process.stderr.read().decode()
    process.wait(timeout=60)

    assert process.returncode == 141, err  # 128 + SIGPIPE, as a shell reports `yes | head`
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception ignored" not in err


def test_ctrl_c_outside_a_run_is_exit_130_not_aborted(tmp_path: Path, monkeypatch):
    import shipyard.cli.models as models_cli

    (tmp_path / "store").mkdir()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(models_cli, "existing_store", interrupted)
    result = CliRunner().invoke(main, ["models", "list", "--store", str(tmp_path / "store")])

    assert result.exit_code == 130
    assert "error: interrupted by SIGINT" in result.stderr and "Aborted!" not in result.output
