"""The configuration: defaults, merging, validation that names the key, and a gate that fails closed."""

import pytest

from shipyard.config import load_config
from shipyard.errors import ConfigError
from shipyard.stages.gate import evaluate_challenger


def test_defaults_ship_thresholds_for_both_tasks():
    config = load_config()
    assert config.gate.for_task("classification").thresholds
    assert config.gate.for_task("regression").thresholds
    assert config.model.estimator == "hist_gradient_boosting" and config.seed == 42


def test_a_user_file_is_merged_key_by_key():
    config = load_config("model: {params: {max_iter: 50}}\ngate: {margin: 0.02}\n")
    assert config.model.estimator == "hist_gradient_boosting" and config.model.params == {"max_iter": 50}
    assert config.gate.margin == 0.02 and config.gate.for_task("classification").primary_metric == "f1_macro"


@pytest.mark.parametrize(
    "text",
    [
        "gate: null",
        "gate: {classification: null, regression: null}",
        "gate: {classification: {thresholds: null}, regression: {thresholds: null}}",
        "gate: {classification: {thresholds: {accuracy: null, f1_macro: null}}, regression: {thresholds: {r2: null}}}",
    ],
)
def test_no_thresholds_means_nothing_is_blessed(text):
    gate = load_config(text).gate
    terrible = {"classification": {"accuracy": 0.01, "f1_macro": 0.01}, "regression": {"rmse": 1e9, "r2": -50.0}}
    for task, metrics in terrible.items():
        verdict = evaluate_challenger(metrics, task=task, gate=gate)
        assert verdict.blessed is False, (task, verdict.reasons)
        assert any("threshold" in reason for reason in verdict.reasons)


def test_a_null_threshold_drops_only_that_default():
    gate = load_config("gate: {classification: {thresholds: {f1_macro: null}}}").gate
    assert [t.metric for t in gate.for_task("classification").thresholds] == ["accuracy"]
    assert [t.metric for t in gate.for_task("regression").thresholds] == ["r2"]


@pytest.mark.parametrize(
    "text, key",
    [
        ("model: {estimator: xgboost}", "model.estimator"),
        ("holdout_fraction: 0.9", "holdout_fraction"),
        ("seed: -1", "seed"),
        ("gate: {classification: {primary_metric: auc, thresholds: {accuracy: {min: 0.5}}}}", "primary_metric"),
        ("gate: {regression: {primary_metric: rmse, thresholds: {r2: 0.5}}}", "thresholds.r2"),
        ("validation: {min_rows: many}", "validation.min_rows"),
        ("modle: {}", "unknown config key"),
        ("[1, 2]", "mapping"),
        ("a: [", "not valid YAML"),
    ],
)
def test_bad_values_name_the_key(text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(text)
