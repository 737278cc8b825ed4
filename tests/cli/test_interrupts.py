"""Ctrl-C (SIGINT) and SIGTERM during a local run: tasks stopped, staging taken back, state reported.

Each test starts a real `shipyard run ...` process. ``SHIPYARD_TEST_HOLD_TASK`` makes the named
task stop right after it records that it started, so the signal lands at an exact point of the
pipeline (before register, after staging moved, after promote) instead of after a guessed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipyard.store.registry import ModelRegistry

#: The CLI as this interpreter runs it (a venv's console script may name another interpreter).
SHIPYARD = [sys.executable, "-m", "shipyard.cli.main"]

pytestmark = pytest.mark.slow


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line names ``text`` (the test's store: every task's paths are under it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry))
    return found


class HeldRun:
    """A `shipyard run ...` process held at one task; signal it, then read what it printed."""

    def __init__(self, store: Path, hold: str, args: list[str]):
        self.store, self.hold = store, hold
        env = {**os.environ, "SHIPYARD_TEST_HOLD_TASK": hold}
        self.process = subprocess.Popen(
            [*SHIPYARD, "run", *args, "--store", str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def wait_until_held(self, seconds: float = 300.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            for record in self.store.glob(f"local-runs/*/task-records/{self.hold}.json"):
                if json.loads(record.read_text() or "{}").get("status") == "running":
                    return
            if self.process.poll() is not None:
                raise AssertionError(f"the run ended before {self.hold}: {self.process.communicate()}")
            assert time.monotonic() < deadline, f"{self.hold} never started"
            time.sleep(0.2)

    def signal(self, signum: int) -> tuple[int, str, str]:
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=120)
        return self.process.returncode, out, err

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        for pid in _processes_mentioning(str(self.store)):  # never leave a test's task behind
            os.kill(pid, signal.SIGKILL)


def _training(data: Path) -> list[str]:
    return ["training", "--data", str(data), "--target", "churned", "--model", "m"]


def _outcome(store: Path, run_id: str) -> dict:
    return ModelRegistry.from_uri(str(store)).get_run_record(run_id)["outcome"]


def _only_run_id(store: Path) -> str:
    (run_dir,) = (store / "local-runs").iterdir()
    return run_dir.name


def test_sigint_before_register_stops_everything_and_registers_nothing(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    run = HeldRun(store, "register-model", _training(churn_csv))
    try:
        run.wait_until_held()
        status, out, err = run.signal(signal.SIGINT)
        left = _processes_mentioning(str(store))
    finally:
        run.close()

    assert status == 130, err
    assert "run run-" in out and ": interrupted" in out
    assert "error: interrupted by SIGINT during register-model" in err
    assert "nothing was registered (aliases now: none)" in err
    assert "Aborted!" not in err and "Traceback" not in err
    assert left == []
    registry = ModelRegistry.from_uri(str(store))
    assert registry.list_versions("m") == []
    outcome = _outcome(store, _only_run_id(store))
    assert outcome["state"] == "INTERRUPTED" and outcome["version"] is None


def test_sigterm_after_staging_moved_takes_staging_back_and_prints_one_json_object(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    run = HeldRun(store, "smoke-test", [*_training(churn_csv), "--json"])
    try:
        run.wait_until_held()
        assert ModelRegistry.from_uri(str(store)).aliases("m") == {"staging": 1}  # the window under test
        status, out, err = run.signal(signal.SIGTERM)
        left = _processes_mentioning(str(store))
    finally:
        run.close()

    assert status == 143, err
    summary = json.loads(out)  # exactly one JSON object on stdout
    assert summary["status"] == "interrupted" and summary["interrupted_by"] == "SIGTERM"
    assert summary["version"] == 1 and summary["aliases"] == {}
    assert summary["outcome"]["staging_withdrawn_from"] == 1 and not summary["outcome"]["shipped"]
    assert "[     ok] deploy to staging" in err  # --json: progress still shown, on stderr
    assert "version 1 was registered but not released; staging was taken back from version 1" in err
    assert left == []
    assert ModelRegistry.from_uri(str(store)).aliases("m") == {}
    assert _outcome(store, summary["run_id"])["state"] == "INTERRUPTED"


def test_sigint_after_promote_keeps_the_release_then_monitoring_stops_too(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    run = HeldRun(store, "record-outcome", _training(churn_csv))
    try:
        run.wait_until_held()
        status, out, err = run.signal(signal.SIGINT)
    finally:
        run.close()

    assert status == 130, err
    assert "version 1 was registered and promoted to production (aliases now: production -> v1, staging -> v1)" in err
    outcome = _outcome(store, _only_run_id(store))
    assert outcome["shipped"] and outcome["staging_withdrawn_from"] is None and outcome["state"] == "INTERRUPTED"

    monitoring = HeldRun(store, "monitor-model", ["monitoring", "--data", str(churn_csv), "--model", "m", "--json"])
    try:
        monitoring.wait_until_held()
        status, out, err = monitoring.signal(signal.SIGINT)
        left = _processes_mentioning(str(store))
    finally:
        monitoring.close()

    assert status == 130, err
    summary = json.loads(out)
    assert summary["status"] == "interrupted" and summary["outcome"]["retrain"] is None
    assert summary["aliases"] == {"production": 1, "staging": 1}
    assert left == []
