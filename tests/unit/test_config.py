"""The configuration: defaults, merging, validation that names the key, and a gate that fails closed."""

import pytest
import yaml

from shipyard.config import ModelConfig, SmokeTestSettings, ValidationSettings, default_config_text, load_config
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


@pytest.mark.parametrize(
    "text, message",
    [
        ("seed: -1", "config key 'seed' must be at least 0, got -1"),
        ("seed: 2.5", "config key 'seed' must be a whole number, got 2.5"),
        ("holdout_fraction: .nan", "config key 'holdout_fraction' must be a finite number, got nan"),
        ("smoke_test: {rows: 0}", "config key 'smoke_test.rows' must be at least 1, got 0"),
        ("gate: {margin: -0.1}", "config key 'gate.margin' must be at least 0, got -0.1"),
        ("gate: {regression: {thresholds: {r2: {min: x}}}}", "config key 'gate.regression.thresholds.r2.min' must be"),
        ("gate: {regression: {thresholds: [r2]}}", "config key 'gate.regression.thresholds' must be a mapping"),
        ("gate: {classification: 5}", "config key 'gate.classification' must be a mapping"),
        ("model: {params: [1]}", "config key 'model.params' must be a mapping of estimator parameters"),
        (
            "validation: {min_row: 3}",
            "unknown config key(s) ['validation.min_row']; known keys: ['validation.leakage', "
            "'validation.leakage_min_score', 'validation.max_",
        ),
        ("validation: {max_range_extension: -1}", "config key 'validation.max_range_extension' must be at least 0"),
        (
            "validation: {max_far_out_of_range_fraction: 5}",
            "config key 'validation.max_far_out_of_range_fraction' must be between 0 and 1, got 5",
        ),
        (
            "validation: {max_out_of_range_fraction: lots}",
            "config key 'validation.max_out_of_range_fraction' must be a number, got 'lots'",
        ),
        ("gate: {regression: {thrsholds: {}}}", "unknown config key(s) ['gate.regression.thrsholds']"),
    ],
)
def test_each_message_names_the_key_and_the_rule(text, message):
    with pytest.raises(ConfigError) as raised:
        load_config(text)
    assert str(raised.value).startswith(message), str(raised.value)


def test_every_bad_key_is_named_at_once():
    with pytest.raises(ConfigError) as raised:
        load_config("seed: x\nmodle: 1\nvalidation: {min_rows: 1}")
    message = str(raised.value)
    assert message.startswith("unknown config key(s) ['modle']")
    assert "config key 'seed' must be a number, got 'x'" in message
    assert "config key 'validation.min_rows' must be at least 2, got 1" in message


def test_defaults_come_from_the_shipped_yaml_alone():
    defaults = yaml.safe_load(default_config_text())
    config = load_config()
    assert dict(config.raw) == defaults
    assert ValidationSettings() == config.validation and SmokeTestSettings() == config.smoke_test
    assert ModelConfig() == config.model
    assert config.validation.min_rows == defaults["validation"]["min_rows"]
    assert config.smoke_test.max_ms_per_row == float(defaults["smoke_test"]["max_ms_per_row"])
    assert isinstance(config.smoke_test.max_ms_per_row, float) and isinstance(SmokeTestSettings().max_ms_per_row, float)
    assert config.smoke_test.max_latency_ms is None is defaults["smoke_test"]["max_latency_ms"]  # no hard cap


def test_the_smoke_tests_optional_hard_cap_is_a_float_when_set_and_checked():
    assert load_config("smoke_test: {max_latency_ms: 2000}").smoke_test.max_latency_ms == 2000.0
    assert isinstance(load_config("smoke_test: {max_latency_ms: 2000}").smoke_test.max_latency_ms, float)
    with pytest.raises(ConfigError, match="'smoke_test.max_latency_ms' must be at least 0, got -1"):
        load_config("smoke_test: {max_latency_ms: -1}")
    with pytest.raises(ConfigError, match="'smoke_test.timed_requests' must be at least 1, got 0"):
        load_config("smoke_test: {timed_requests: 0}")


def test_a_null_section_keeps_its_defaults_and_a_whole_float_is_an_int():
    config = load_config("validation: null\nmodel: {params: null}\nsmoke_test: {rows: 10.0}")
    assert config.validation == load_config().validation and config.model.params == {}
    assert config.smoke_test.rows == 10 and isinstance(config.smoke_test.rows, int)


def test_the_estimator_names_come_from_the_estimator_table():
    from shipyard.estimators import ESTIMATOR_TABLE

    with pytest.raises(ConfigError) as raised:
        load_config("model: {estimator: xgboost}")
    assert f"must be one of {list(ESTIMATOR_TABLE)}, got 'xgboost'" in str(raised.value)
    for name in ESTIMATOR_TABLE:
        assert load_config(f"model: {{estimator: {name}}}").model.estimator == name


def test_the_growth_tolerances_are_validation_keys():
    config = load_config(
        "validation: {max_out_of_range_fraction: 0.3, max_unseen_category_fraction: 0.2,"
        " max_range_extension: 5, max_far_out_of_range_fraction: 0.01}"
    )
    assert (
        config.validation.max_out_of_range_fraction,
        config.validation.max_unseen_category_fraction,
        config.validation.max_range_extension,
        config.validation.max_far_out_of_range_fraction,
    ) == (0.3, 0.2, 5.0, 0.01)
    assert load_config().validation.max_out_of_range_fraction == 0.5  # growth by a period passes by default


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("traffic: {exclude_columns: [logged_at]}", "traffic.exclude_columns': ['logged_at']"),
        ("traffic: {hash_columns: [request_id]}", "traffic.hash_columns': ['request_id']"),
        ("traffic: {exclude_columns: [email], hash_columns: [email]}", "traffic.hash_columns': ['email'] also in"),
        ("traffic: {batch_rows: 500, buffer_rows: 100}", "traffic.buffer_rows' (100) must be at least"),
    ],
)
def test_traffic_settings_that_cannot_work_are_refused_naming_the_key(text: str, named: str):
    with pytest.raises(ConfigError) as error:
        load_config(text)
    assert named in str(error.value)
