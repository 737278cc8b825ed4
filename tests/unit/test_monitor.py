"""The monitoring stage on a real local registry: drift, decay, the column check, the stored verdict."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd
import pytest

from shipyard.config import load_config
from shipyard.data.synthetic import make_demo_dataset
from shipyard.errors import DataValidationError
from shipyard.stages.evaluate import evaluate_model
from shipyard.stages.monitor import (
    NoProductionModel,
    NoReferenceData,
    latest_monitoring,
    monitor_production,
    record_monitoring,
)
from shipyard.stages.reference import REFERENCE_FILE, reference_sample, write_reference
from shipyard.stages.train import train_model
from shipyard.stages.validate import infer_contract
from shipyard.store.registry import ModelRegistry

TARGET = "churned"
CONFIG = load_config("")


@pytest.fixture(scope="module")
def trained():
    """A model trained once on 1,500 reference-distribution rows, its data, metrics and contract."""
    data = make_demo_dataset(1500, seed=0)
    fitted = train_model(data, TARGET, "classification", CONFIG)
    metrics = dict(evaluate_model(fitted.pipeline, fitted.holdout, TARGET, "classification").metrics)
    return data, fitted, metrics, infer_contract(data, TARGET, "classification").to_dict()


@pytest.fixture
def deploy(trained, registry, tmp_path):
    def put_in_production(*, with_reference: bool = True) -> pd.DataFrame:
        return _deploy(registry, tmp_path, trained, with_reference=with_reference)

    return put_in_production


def _deploy(registry: ModelRegistry, tmp_path: Path, trained, *, with_reference: bool) -> pd.DataFrame:
    """Registers the trained model (with or without its reference) and puts it in production."""
    data, fitted, metrics, contract = trained
    model_path = tmp_path / "model.joblib"
    joblib.dump(fitted.pipeline, model_path)
    extra = {}
    if with_reference:
        extra[REFERENCE_FILE] = write_reference(reference_sample(fitted.train, 50_000, 42), tmp_path / "ref.parquet")
    version = registry.register_version(
        "churn", model_path, metrics=metrics, params={}, lineage={"data_contract": contract}, extra_files=extra
    )
    registry.set_alias("churn", "production", version.version)
    return data


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry.from_uri(str(tmp_path / "store"))


def test_data_like_the_reference_raises_no_alarm(registry, deploy):
    deploy()
    run = monitor_production(registry, "churn", make_demo_dataset(1500, seed=1), CONFIG, run_id="run-a")
    result = run.result
    assert not result.drift_detected and not result.decay_detected and not result.alert_needed
    assert result.has_target and set(result.production_metrics) >= {"accuracy", "f1_macro"}
    assert TARGET in run.kinds  # the target is checked for drift too when present
    document = result.to_dict()
    assert document["drift_detected"] is False and document["drifted_columns"] == []
    assert document["version"] == 1 and document["model"] == "churn"
    assert result.to_metrics()["drift_detected"] == 0.0
    assert "drift_score.tenure_months" in result.to_metrics()


def test_shifted_data_drifts_and_the_verdict_is_recorded(registry, deploy):
    deploy()
    run = monitor_production(registry, "churn", make_demo_dataset(1500, drift=1.0, seed=1), CONFIG, run_id="run-b")
    result = run.result
    assert result.drift_detected and result.alert_needed
    assert "monthly_charges" in result.drift.drifted_columns
    assert result.drift.drift_share >= 0.5
    assert "DRIFT DETECTED" in result.to_markdown()
    assert latest_monitoring(registry, "churn", 1) is None
    record_monitoring(registry, result)
    assert latest_monitoring(registry, "churn", 1)["drift_detected"] is True
    assert registry.get_run_record("run-b")["monitoring"]["drifted_columns"] == list(result.drift.drifted_columns)
    assert [v.version for v in registry.list_versions("churn")] == [1]  # the verdict is not a version


def test_unlabelled_data_checks_drift_only(registry, deploy):
    deploy()
    current = make_demo_dataset(800, drift=1.0, seed=2).drop(columns=[TARGET])
    run = monitor_production(registry, "churn", current, CONFIG, run_id="run-c")
    assert not run.result.has_target and run.result.decay is None
    assert run.result.to_dict()["production_metrics"] is None
    assert TARGET not in run.kinds and run.result.drift_detected


def test_labels_changed_on_stable_features_is_decay(registry, deploy):
    deploy()
    current = make_demo_dataset(1500, seed=3)
    current[TARGET] = current[TARGET].map(
        {"yes": "no", "no": "yes"}
    )  # the world changed: same customers, opposite outcome
    result = monitor_production(registry, "churn", current, CONFIG, run_id="run-d").result
    assert result.decay_detected and result.alert_needed
    assert result.decay.reasons and result.to_dict()["production_metrics"]["accuracy"] < 0.5
    feature_drift = [c for c in result.drift.drifted_columns if c != TARGET]
    assert feature_drift == []  # the features did not move


def test_columns_that_do_not_match_the_contract_are_rejected_in_one_line(registry, deploy):
    deploy()
    current = make_demo_dataset(300, seed=1).drop(columns=["age"]).assign(customer_id=1)
    with pytest.raises(DataValidationError) as caught:
        monitor_production(registry, "churn", current, CONFIG, run_id="run-e")
    message = str(caught.value)
    assert "\n" not in message
    assert "missing column(s) 'age'" in message and "unexpected column(s) 'customer_id'" in message


def test_a_version_without_reference_says_so_and_accepts_one(registry, deploy):
    data = deploy(with_reference=False)
    current = make_demo_dataset(600, seed=4)
    with pytest.raises(NoReferenceData, match="--reference PATH"):
        monitor_production(registry, "churn", current, CONFIG, run_id="run-f")
    run = monitor_production(
        registry, "churn", current, CONFIG, run_id="run-f", reference=data, reference_source="ref.csv"
    )
    assert run.result.reference_source == "ref.csv" and not run.result.drift_detected


def test_no_production_model_is_a_clear_error(registry):
    with pytest.raises(NoProductionModel, match="no production version"):
        monitor_production(registry, "churn", make_demo_dataset(300), CONFIG, run_id="run-g")


def test_drift_settings_come_from_the_monitoring_config(registry, deploy):
    deploy()
    current = make_demo_dataset(1500, drift=0.3, seed=1)
    strict = load_config("monitoring: {drift_share: 0.1, thresholds: {numeric: 0.01}}")
    loose = load_config("monitoring: {drift_share: 1.0}")
    assert monitor_production(registry, "churn", current, strict, run_id="run-h").result.drift_detected
    assert not monitor_production(registry, "churn", current, loose, run_id="run-i").result.drift_detected
