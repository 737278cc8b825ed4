"""`shipyard run monitoring`: the checks made before any task starts, each one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
from click.testing import CliRunner
from sklearn.dummy import DummyClassifier

from shipyard.cli.main import main
from shipyard.store.registry import ModelRegistry


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _old_production(store: Path) -> None:
    """A production version registered before reference data was stored beside it."""
    registry = ModelRegistry.from_uri(str(store))
    path = store.parent / "m.joblib"
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), path)
    registry.register_version("churn", path, metrics={}, params={}, lineage={"data_uri": "old.csv"})
    registry.set_alias("churn", "production", 1)


def test_a_version_without_reference_data_says_so_before_any_task(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    _old_production(store)
    result = invoke("run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store))
    assert result.exit_code == 1
    assert "registered without reference data" in result.stderr and "--reference PATH" in result.stderr
    assert "Traceback" not in result.stderr and not (store / "local-runs").exists()  # no task ran


def test_no_production_model_and_missing_files_are_clear_errors(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    store.mkdir()
    nothing = invoke("run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store), "--json")
    assert nothing.exit_code == 1 and "no production version" in json.loads(nothing.stdout)["error"]
    _old_production(store)
    missing = invoke(
        "run", "monitoring", "--data", str(tmp_path / "nope.csv"), "--model", "churn", "--store", str(store)
    )
    assert missing.exit_code == 1 and "no data file at" in missing.stderr
    no_ref = invoke(
        "run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store),
        "--reference", str(tmp_path / "nope.csv"),
    )  # fmt: skip
    assert no_ref.exit_code == 1 and "no reference data file" in no_ref.stderr


def test_a_malformed_webhook_is_rejected_without_showing_it(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    _old_production(store)
    result = invoke(
        "run", "monitoring", "--data", str(churn_csv), "--model", "churn", "--store", str(store),
        "--webhook", "ftp://hooks.example/T000/secret-token",
    )  # fmt: skip
    assert result.exit_code == 1 and "http" in result.stderr and "secret-token" not in result.stderr
