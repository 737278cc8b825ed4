"""The corpus through `shipyard run training` and `shipyard run monitoring`, as a user runs them.

Each rejected file must: exit 1; print exactly one ``error:`` line that names the file's problem
(the column, for a validation problem); show no traceback and no internal path (task sandboxes,
site-packages, the kfp pipeline root); run its failing task once (counted in the run's task log,
where kfp.local logs each attempt); and leave the registry's ``models/`` tree byte-for-byte as it
was. A local file that fails at ingest is read by the command itself before any task starts: it
adds nothing to the store. A file rejected by validation adds one ``runs/RUN_ID/`` directory
holding its outcome (FAILED, nothing shipped, no version) and its validation report, and its
``local-runs/RUN_ID/`` work directory (task log, task records); nothing else.

A module-scoped store holds model ``base`` trained on ``base.csv`` by the CLI itself, so the
``models/`` tree is not empty and monitoring has a production version. Training runs on the other
files use model names of their own, so production's contract is not applied to them (the contract
cases pass ``--contract`` explicitly).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus.corpus import FILES, expected, names

pytestmark = pytest.mark.slow

SHIPYARD = [sys.executable, "-m", "shipyard.cli.main"]
BASE_MODEL = "base"
#: Markers of internals a user must never see: task sandboxes, installed packages, kfp's own layout.
INTERNAL = ("Traceback", "site-packages", "ephemeral_component", "pipeline-root", 'File "', "/tmp/tmp")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def shipyard(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*SHIPYARD, *args], capture_output=True, text=True, timeout=600, env=env, check=False)


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def attempts(log: Path, task: str) -> int:
    """How many times ``task`` ran its body in this run: kfp.local logs each start of the task (a KFP
    retry starts it again), and a retry inside the task logs a ``retrying TASK:`` line."""
    text = _ANSI.sub("", log.read_text(encoding="utf-8", errors="replace"))
    started = len(re.findall(rf"Executing task '{re.escape(task)}'", text))
    return started + len(re.findall(rf"retrying {re.escape(task)}\b", text))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with ``base`` trained on base.csv by `shipyard run training`, and released to production."""
    root = tmp_path_factory.mktemp("corpus-store") / "store"
    result = shipyard(
        "run", "training", "--data", str(FILES / "base.csv"), "--target", "churned", "--model", BASE_MODEL,
        "--store", str(root), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["aliases"].get("production") == 1, summary
    return root


def training_args(name: str, store: Path, model: str) -> list[str]:
    entry = expected()[name]
    args = ["run", "training", "--data", str(FILES / name), "--target", entry["target"], "--model", model]
    args += ["--store", str(store)]
    if entry.get("contract"):
        args += ["--contract", str(FILES / entry["contract"])]
    if entry.get("config"):
        args += ["--config", str(FILES / entry["config"])]
    return args


def assert_one_clear_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for marker in INTERNAL:
        assert marker not in result.stderr and marker not in result.stdout, (marker, result.stderr)
    return errors[0]


def new_runs(store: Path, before: set[str]) -> list[Path]:
    return [path for path in sorted((store / "runs").iterdir()) if path.name not in before]


REJECTED = [name for name in names(large=False) if expected()[name]["outcome"] in ("ingest", "validate")]


@pytest.mark.parametrize("name", REJECTED)
def test_a_rejected_file_fails_the_training_run_once_with_one_line_and_leaves_models_alone(name: str, store: Path):
    entry = expected()[name]
    models_before = tree_hashes(store / "models")
    runs_before = {path.name for path in (store / "runs").iterdir()}

    result = shipyard(*training_args(name, store, model="corpus"))

    error = assert_one_clear_error(result)
    if entry["outcome"] == "ingest":
        assert name in error, error  # names the file
        if "message" in entry:
            assert entry["message"] in error
    elif entry["column"] is not None:
        assert f"column '{entry['column']}'" in error, error
    assert tree_hashes(store / "models") == models_before

    if entry["outcome"] == "ingest":
        # A local table is read by the command itself before any task starts: no run, no record.
        assert new_runs(store, runs_before) == []
        assert "Executing task" not in result.stderr
        return
    (run,) = new_runs(store, runs_before)
    # validation.json holds the data report; a missing target stops validation before there is one
    assert {path.name for path in run.iterdir()} in ({"outcome.json", "validation.json"}, {"outcome.json"})
    outcome = json.loads((run / "outcome.json").read_text(encoding="utf-8"))
    assert (outcome["state"], outcome["shipped"], outcome["version"]) == ("FAILED", False, None)
    assert attempts(store / "local-runs" / run.name / "run.log", "validate-data") == 1  # bad data is not retried


ACCEPTED = ["leaked_feature.csv", "non_ascii_names.csv", "contract_unseen_categories.csv"]


@pytest.mark.parametrize("name", ACCEPTED)
def test_an_accepted_file_trains_and_its_warnings_reach_the_summary(name: str, store: Path):
    entry = expected()[name]
    model = "accepted-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    result = shipyard(*training_args(name, store, model=model))
    assert result.returncode == 0, result.stderr
    assert "error:" not in result.stderr
    for marker in INTERNAL:
        assert marker not in result.stdout
    if entry["outcome"] == "warning":
        assert f"data warning: column '{entry['column']}'" in result.stdout, result.stdout
    if name == "leaked_feature.csv":  # the leak makes the holdout score perfect: too good to be true
        assert "warning: model: a perfect holdout score (accuracy 1.0" in result.stdout, result.stdout


MONITORED = [name for name in names(large=False, monitoring=True)]


@pytest.mark.parametrize("name", MONITORED)
def test_the_corpus_against_monitoring(name: str, store: Path):
    entry = expected()[name]
    models_before = tree_hashes(store / "models")
    args = ["run", "monitoring", "--data", str(FILES / name), "--model", BASE_MODEL, "--store", str(store)]
    result = shipyard(*args, "--no-retrain")
    if entry["monitoring"] == "accepted":
        assert result.returncode == 0, result.stderr
        assert f"monitored: {BASE_MODEL} v1" in result.stdout
        return
    error = assert_one_clear_error(result)
    if entry["monitoring"] == "ingest":
        assert name in error
    else:
        assert f"'{entry['column']}'" in error, error
    assert tree_hashes(store / "models") == models_before
