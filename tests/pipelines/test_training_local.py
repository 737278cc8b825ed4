"""The whole training DAG under kfp.local (SubprocessRunner, no venv), as `shipyard run training` runs it.

Each test is a real pipeline run: ten subprocess tasks on small data, a few seconds each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.cli.training import run_training
from shipyard.store.registry import ModelRegistry
from tests.conftest import make_housing_like

pytestmark = pytest.mark.slow


def train(data: Path, target: str, store: Path, *, model: str = "m", config: str = "", task: str = "auto"):
    return run_training(
        data_uri=str(data),
        target=target,
        model_name=model,
        task=task,
        store_uri=str(store),
        config_text=config,
        contract_uri="",
        code_version="test",
    )


def test_classification_with_categoricals_and_missing_values(tmp_path: Path, churn_csv: Path):
    summary = train(churn_csv, "churned", tmp_path / "store", model="churn")
    assert summary["status"] == "succeeded", summary
    assert summary["blessed"] is True and summary["version"] == 1
    assert summary["task"] == "classification"
    assert {"accuracy", "f1_macro", "roc_auc", "log_loss"} <= set(summary["metrics"])
    assert summary["aliases"] == {"staging": 1, "production": 1}
    registry = ModelRegistry.from_uri(str(tmp_path / "store"))
    assert registry.get_run_record(summary["run_id"])["outcome"]["state"] == "SUCCEEDED"
    assert Path(registry.get_version("churn", 1).model_uri.removeprefix("file://")).name == "model.joblib"


def test_regression_then_a_worse_challenger_is_rejected(tmp_path: Path):
    data = tmp_path / "houses.csv"
    make_housing_like(400, seed=3).to_csv(data, index=False, na_rep="NA")
    store = tmp_path / "store"
    first = train(data, "price", store, model="houses")
    assert first["status"] == "succeeded" and first["blessed"] is True, first
    assert first["task"] == "regression" and {"rmse", "mae", "r2"} <= set(first["metrics"])

    # A crippled challenger that still passes the absolute threshold (r2 min lowered) loses to the champion.
    worse = train(
        data,
        "price",
        store,
        model="houses",
        config=(
            "model: {estimator: random_forest, params: {n_estimators: 2, max_depth: 1}}\n"
            "gate: {regression: {primary_metric: rmse, thresholds: {r2: {min: -10}}}}\n"
        ),
    )
    assert worse["status"] == "succeeded", worse  # the run completed; the model just was not blessed
    assert worse["blessed"] is False and worse["version"] is None
    assert worse["champion_version"] == 1
    assert any("champion" in reason for reason in worse["reasons"])
    assert worse["aliases"] == {"staging": 1, "production": 1}
    assert [v.version for v in ModelRegistry.from_uri(str(store)).list_versions("houses")] == [1]


def test_bad_data_fails_the_run_names_the_column_and_moves_nothing(tmp_path: Path, churn_csv: Path):
    store = tmp_path / "store"
    assert train(churn_csv, "churned", store, model="churn")["version"] == 1
    broken = tmp_path / "broken.csv"
    text = churn_csv.read_text().splitlines()
    header = text[0].split(",")
    column = header.index("monthly_charges")
    rows = [line.split(",") for line in text[1:]]
    for row in rows:
        row[column] = "n/a-ish"
    broken.write_text("\n".join([text[0]] + [",".join(r) for r in rows]) + "\n")

    summary = train(broken, "churned", store, model="churn")
    assert summary["status"] == "failed"
    assert "monthly_charges" in summary["error"], summary["error"]
    assert summary["error_type"] == "DataValidationError"
    registry = ModelRegistry.from_uri(str(store))
    assert [v.version for v in registry.list_versions("churn")] == [1]
    assert registry.aliases("churn") == {"staging": 1, "production": 1}
    assert registry.get_run_record(summary["run_id"])["outcome"]["state"] == "FAILED"
    assert Path(summary["log"]).exists()
