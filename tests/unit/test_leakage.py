"""The leakage checks: a renamed target, a feature that predicts it alone, and perfect holdout scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from shipyard.config import ValidationSettings, load_config
from shipyard.errors import ConfigError, DataValidationError
from shipyard.findings import PROBLEM, WARNING, Code
from shipyard.stages.leakage import find_leaks, perfect_score_findings
from shipyard.stages.validate import check_dataset, validate_dataset

SETTINGS = load_config().validation


def leaks(frame: pd.DataFrame, target: str = "y", task: str = "classification", mode: str = "warn") -> dict[str, str]:
    """Column -> message of each leakage finding."""
    found = find_leaks(frame, target, task, mode=mode, min_score=0.99)
    assert all(finding.code == Code.LEAKAGE for finding in found)
    return {str(finding.column): finding.message for finding in found}


def honest_frame(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Features that predict a binary target only partly, an id column, and the target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    y = np.where(x + (colour == "red") + rng.normal(scale=1.0, size=rows) > 0.5, "yes", "no").astype(object)
    return pd.DataFrame(
        {
            "x": x,
            "colour": colour,
            "customer_id": np.array([f"C{i:06d}" for i in rng.permutation(rows)], dtype=object),
            "row_number": rng.permutation(rows).astype(np.int64),
            "y": y,
        }
    )


def test_honest_features_and_unique_ids_are_not_leaks():
    """An id unique per row would be 'perfect' for a lookup that memorises rows; held out, it is chance."""
    assert leaks(honest_frame()) == {}


def test_a_copy_of_the_target_under_other_labels_is_named():
    frame = honest_frame()
    frame["churn_flag"] = frame["y"].map({"yes": 1, "no": 0}).astype(np.int64)
    found = leaks(frame)
    assert list(found) == ["churn_flag"]
    assert "one-to-one onto the target 'y'" in found["churn_flag"]


def test_a_recoded_multiclass_target_is_named():
    rng = np.random.default_rng(1)
    y = rng.choice(["low", "mid", "high"], size=60).astype(object)
    frame = pd.DataFrame(
        {"x": rng.normal(size=60), "code": pd.Series(y).map({"low": "L", "mid": "M", "high": "H"}), "y": y}
    )
    assert list(leaks(frame)) == ["code"]  # 60 rows: below the predictive check's minimum, the renaming still counts


def test_a_feature_that_predicts_the_target_by_a_threshold_is_named():
    frame = honest_frame()
    frame["days_since_cancel"] = np.where(frame["y"] == "yes", 1.0, 0.0) * 30 + np.random.default_rng(2).uniform(
        0, 29, size=len(frame)
    )
    found = leaks(frame)
    assert list(found) == ["days_since_cancel"]
    assert "balanced accuracy" in found["days_since_cancel"] and "held-out rows" in found["days_since_cancel"]


def test_a_monotone_transform_of_a_regression_target_is_named_and_an_id_is_not():
    rng = np.random.default_rng(3)
    y = rng.normal(size=1000)
    frame = pd.DataFrame(
        {"x": y + rng.normal(scale=1.0, size=1000), "exp_y": np.exp(y), "id": rng.permutation(1000), "y": y}
    )
    found = leaks(frame, task="regression")
    assert list(found) == ["exp_y"]
    assert "rank correlation" in found["exp_y"]


def test_a_unique_per_row_regression_target_is_not_matched_with_an_id():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"id": np.arange(500).astype(str).astype(object), "y": rng.normal(size=500)})
    assert leaks(frame, task="regression") == {}


def test_off_skips_and_block_makes_a_problem():
    frame = honest_frame()
    frame["copy"] = frame["y"]
    assert find_leaks(frame, "y", "classification", mode="off", min_score=0.99) == []
    (blocked,) = find_leaks(frame, "y", "classification", mode="block", min_score=0.99)
    (warned,) = find_leaks(frame, "y", "classification", mode="warn", min_score=0.99)
    assert (blocked.severity, warned.severity) == (PROBLEM, WARNING)


def test_validation_report_warns_by_default_and_blocks_when_configured():
    frame = honest_frame()
    frame["copy"] = frame["y"].str.upper()
    report = check_dataset(frame, "y", "classification", SETTINGS)
    assert report.ok
    assert [f.column for f in report.findings if f.code == Code.LEAKAGE] == ["copy"]
    assert any("'copy'" in message for message in report.warnings)
    blocking = dataclasses.replace(SETTINGS, leakage="block")
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(frame, "y", "classification", blocking)
    assert [f.column for f in caught.value.findings] == ["copy"]


def test_config_keys_are_checked():
    assert (SETTINGS.leakage, SETTINGS.leakage_min_score) == ("warn", 0.99)
    assert load_config("validation: {leakage: block, leakage_min_score: 0.95}").validation.leakage == "block"
    with pytest.raises(ConfigError, match="validation.leakage"):
        load_config("validation: {leakage: maybe}")
    with pytest.raises(ConfigError, match="validation.leakage_min_score"):
        load_config("validation: {leakage_min_score: 2}")


def test_an_unusable_target_is_left_to_the_target_checks():
    frame = honest_frame()
    frame["y"] = "yes"
    frame["copy"] = frame["y"]
    assert leaks(frame) == {}
    report = check_dataset(frame, "y", "classification", SETTINGS)
    assert Code.LEAKAGE not in {f.code for f in report.findings}


@pytest.mark.parametrize(
    ("metrics", "flagged"),
    [
        ({"accuracy": 1.0, "f1_macro": 1.0, "log_loss": 0.0}, "accuracy 1.0, f1_macro 1.0"),
        ({"r2": 1.0, "rmse": 0.0}, "r2 1.0"),
        ({"accuracy": 0.98, "roc_auc": 0.999}, None),
        ({"rmse": 0.0}, None),
    ],
)
def test_perfect_holdout_metrics_are_flagged(metrics, flagged):
    found = perfect_score_findings(metrics)
    if flagged is None:
        assert found == []
    else:
        (finding,) = found
        assert finding.code == Code.PERFECT_SCORE and finding.severity == WARNING
        assert flagged in finding.message


def test_settings_default_from_the_shipped_config():
    assert ValidationSettings().leakage == "warn"
