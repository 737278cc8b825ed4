"""Unit tests for shipyard.stages.decay: one test per rule, each failing if that rule is removed."""

from __future__ import annotations

import json
import math

import pytest

from shipyard.config import TaskGate, Threshold, load_config
from shipyard.errors import ConfigError
from shipyard.stages.decay import DecayResult, detect_decay, score_current_data

CLASSIFICATION = TaskGate(
    primary_metric="f1_macro", thresholds=(Threshold("accuracy", min=0.6), Threshold("f1_macro", min=0.5))
)
REGRESSION = TaskGate(primary_metric="rmse", thresholds=(Threshold("r2", min=0.1), Threshold("rmse", max=10.0)))
RELEASE = {"accuracy": 0.9, "f1_macro": 0.8, "roc_auc": 0.95}
RELEASE_REGRESSION = {"rmse": 4.0, "mae": 3.0, "r2": 0.7}


def classification(current, release=RELEASE, max_drop=0.05, **kwargs) -> DecayResult:
    return detect_decay(current, release, task="classification", task_gate=CLASSIFICATION, max_drop=max_drop, **kwargs)


def test_a_model_as_good_as_at_release_has_not_decayed():
    result = classification({"accuracy": 0.9, "f1_macro": 0.81, "roc_auc": 0.95})

    assert not result.decay_detected and result.judged
    assert result.reasons == ()
    assert len(result.checks) == 3  # one per threshold + the drop since release
    assert result.primary_metric == "f1_macro"
    assert result.primary_drop == pytest.approx(-0.01)


def test_a_violated_threshold_is_decay_and_names_metric_value_and_threshold():
    result = classification({"accuracy": 0.55, "f1_macro": 0.79})

    assert result.decay_detected
    assert result.reasons == ("fail: accuracy 0.55 on the current data is below the threshold min 0.6",)


def test_a_max_threshold_violated_is_decay():
    result = detect_decay(
        {"rmse": 12.0, "r2": 0.5}, None, task="regression", task_gate=REGRESSION, max_drop=1.0, primary_metric="r2"
    )

    assert result.decay_detected
    assert result.reasons == ("fail: rmse 12 on the current data is above the threshold max 10",)


def test_a_drop_beyond_max_drop_is_decay_even_above_every_threshold():
    result = classification({"accuracy": 0.85, "f1_macro": 0.7}, max_drop=0.05)

    assert result.decay_detected
    [reason] = result.reasons
    assert reason == (
        "fail: f1_macro 0.7 is 0.1 worse than at release (0.8), more than max_drop 0.05 (higher is better)"
    )
    assert result.primary_drop == pytest.approx(0.1)


def test_a_drop_within_max_drop_is_not_decay():
    result = classification({"accuracy": 0.85, "f1_macro": 0.77}, max_drop=0.05)

    assert not result.decay_detected
    assert any(check.startswith("pass: f1_macro 0.77 is 0.03 worse") for check in result.checks)
    assert any("within max_drop 0.05" in check for check in result.checks)


def test_a_drop_of_exactly_max_drop_is_not_decay():
    # 0.8 - 0.75 is 0.05000000000000004 in floats: "more than max_drop" must not trip on noise
    assert not classification({"accuracy": 0.85, "f1_macro": 0.75}, max_drop=0.05).decay_detected


def test_zero_max_drop_flags_any_drop():
    assert classification({"accuracy": 0.9, "f1_macro": 0.79}, max_drop=0.0).decay_detected


@pytest.mark.parametrize(
    ("rmse", "decayed"),
    [(4.4, False), (4.6, True), (3.0, False)],
    ids=["up-within-margin", "up-beyond-margin", "down-is-better"],
)
def test_regression_rmse_going_up_is_worse(rmse, decayed):
    result = detect_decay(
        {"rmse": rmse, "mae": 3.0, "r2": 0.6},
        RELEASE_REGRESSION,
        task="regression",
        task_gate=REGRESSION,
        max_drop=0.5,
    )

    assert result.decay_detected is decayed
    assert result.primary_metric == "rmse"
    assert result.primary_drop == pytest.approx(rmse - 4.0)
    if decayed:
        assert result.reasons == (
            "fail: rmse 4.6 is 0.6 worse than at release (4), more than max_drop 0.5 (lower is better)",
        )


@pytest.mark.parametrize("value", [None, math.nan, math.inf, "n/a"], ids=["absent", "nan", "inf", "text"])
def test_a_threshold_metric_missing_now_is_decay(value):
    current = {"f1_macro": 0.8}
    if value is not None:
        current["accuracy"] = value

    result = classification(current)

    assert result.decay_detected
    [reason] = result.reasons
    assert reason.startswith("fail: accuracy is missing or not a finite number on the current data")
    assert "min 0.6" in reason
    assert "accuracy" not in result.metrics  # only finite numbers are recorded


def test_a_primary_metric_missing_now_is_decay_even_without_thresholds():
    result = detect_decay(
        {"accuracy": 0.9}, RELEASE, task="classification", task_gate=None, max_drop=0.05, primary_metric="f1_macro"
    )

    assert result.decay_detected
    assert any("f1_macro (primary) is missing" in reason for reason in result.reasons)


def test_an_empty_score_is_decay():
    result = classification({})

    assert result.decay_detected
    assert len(result.reasons) == 3  # both thresholds and the drop check


def test_a_release_value_missing_skips_the_drop_check_with_a_note():
    result = classification({"accuracy": 0.9, "f1_macro": 0.2 + 0.4}, release={"accuracy": 0.9})

    assert not result.decay_detected  # thresholds met; the unknown past is not decay by itself
    assert len(result.checks) == 2
    assert any("f1_macro at release is unknown" in note for note in result.notes)
    assert result.primary_drop is None


@pytest.mark.parametrize("release", [None, {}], ids=["none", "empty"])
def test_no_release_metrics_at_all(release):
    result = classification({"accuracy": 0.9, "f1_macro": 0.8}, release=release)

    assert not result.decay_detected
    assert result.release_metrics is None
    assert any("at release is unknown" in note for note in result.notes)


def test_no_thresholds_still_checks_the_drop_since_release():
    result = detect_decay(
        {"accuracy": 0.5, "f1_macro": 0.6},
        RELEASE,
        task="classification",
        task_gate=None,
        max_drop=0.05,
        primary_metric="f1_macro",
    )

    assert result.decay_detected  # no threshold flags accuracy 0.5, but f1 dropped by 0.2
    assert len(result.checks) == 1
    assert any("no gate thresholds are configured for classification" in note for note in result.notes)


def test_no_thresholds_and_no_primary_metric_is_not_judged():
    result = detect_decay({"accuracy": 0.1}, RELEASE, task="classification", task_gate=None, max_drop=0.05)

    assert not result.decay_detected and not result.judged
    assert result.checks == () and result.reasons == ()
    assert any("performance is not judged" in note for note in result.notes)
    assert result.to_markdown().startswith("## PERFORMANCE NOT JUDGED")


def test_a_primary_metric_with_unknown_direction_is_decay():
    result = classification({"accuracy": 0.9, "f1_macro": 0.8}, higher_is_better={"accuracy": True})

    assert result.decay_detected
    assert any("direction of the primary metric f1_macro is unknown" in reason for reason in result.reasons)


def test_every_failed_check_leaves_its_own_reason():
    result = classification({"accuracy": 0.5, "f1_macro": 0.4})

    assert len(result.reasons) == 3
    assert [reason.split()[1] for reason in result.reasons] == ["accuracy", "f1_macro", "f1_macro"]


@pytest.mark.parametrize("max_drop", [-0.1, math.nan, math.inf, "0.1", None])
def test_a_bad_max_drop_is_a_config_error(max_drop):
    with pytest.raises(ConfigError, match="max_drop"):
        classification({"accuracy": 0.9, "f1_macro": 0.8}, max_drop=max_drop)


def test_an_unknown_task_is_a_config_error():
    with pytest.raises(ConfigError, match="task"):
        detect_decay({}, None, task="ranking", task_gate=None, max_drop=0.1)


def test_default_config_gate_drives_the_check():
    config = load_config()
    assert config.gate is not None

    result = detect_decay(
        {"rmse": 9.0, "mae": 7.0, "r2": 0.05},
        {"rmse": 5.0, "mae": 4.0, "r2": 0.6},
        task="regression",
        task_gate=config.gate.for_task("regression"),
        max_drop=1.0,
    )

    assert result.decay_detected and result.primary_metric == "rmse"
    assert len(result.reasons) == 2  # r2 below its min, rmse 4 worse than at release


def test_dict_markdown_and_metrics_carry_both_signals():
    result = classification({"accuracy": 0.55, "f1_macro": 0.7, "roc_auc": 0.9})

    data = json.loads(json.dumps(result.to_dict()))
    assert data["decay_detected"] is True and data["judged"] is True
    assert data["reasons"] == list(result.reasons) and len(data["reasons"]) == 2
    assert data["metrics"] == {"accuracy": 0.55, "f1_macro": 0.7, "roc_auc": 0.9}
    assert data["release_metrics"] == RELEASE
    assert data["primary_metric"] == "f1_macro" and data["max_drop"] == 0.05

    markdown = result.to_markdown()
    assert markdown.startswith("## DECAY DETECTED")
    assert "| f1_macro (primary) | 0.7 | 0.8 |" in markdown
    assert all(f"- {reason}" in markdown for reason in result.reasons)

    metrics = result.to_metrics()
    assert metrics["decay_detected"] == 1.0
    assert metrics["current_f1_macro"] == 0.7 and metrics["release_f1_macro"] == 0.8
    assert metrics["primary_drop"] == pytest.approx(0.1)
    assert all(isinstance(value, float) for value in metrics.values())


def test_score_current_data_scores_the_model_with_evaluate():
    import pandas as pd

    class Constant:
        """Predicts 1.0 for every row."""

        def predict(self, frame):
            return [1.0] * len(frame)

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 1.0, 3.0, 3.0]})

    metrics = score_current_data(Constant(), frame, "y", "regression")

    assert metrics["mae"] == pytest.approx(1.0)
    assert metrics["rmse"] == pytest.approx(math.sqrt(2.0))
