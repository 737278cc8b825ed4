"""Unit tests for shipyard.stages.gate: one test per rule, each failing if that rule is removed."""

from __future__ import annotations

import json
import math

import pytest

from shipyard.config import GateConfig, TaskGate, Threshold, load_config
from shipyard.stages.gate import GateVerdict, evaluate_challenger

CLASSIFICATION = TaskGate(
    primary_metric="f1_macro", thresholds=(Threshold("accuracy", min=0.6), Threshold("f1_macro", min=0.5))
)
REGRESSION = TaskGate(primary_metric="rmse", thresholds=(Threshold("r2", min=0.1), Threshold("rmse", max=10.0)))
GATE = GateConfig(margin=0.0, classification=CLASSIFICATION, regression=REGRESSION)
GOOD = {"accuracy": 0.9, "f1_macro": 0.8, "roc_auc": 0.95, "log_loss": 0.3}
GOOD_REGRESSION = {"rmse": 4.0, "mae": 3.0, "r2": 0.7}


def with_margin(margin: float) -> GateConfig:
    return GateConfig(margin=margin, classification=CLASSIFICATION, regression=REGRESSION)


def failing(verdict: GateVerdict) -> list[str]:
    return [reason for reason in verdict.reasons if reason.startswith("fail")]


def test_good_first_model_is_blessed():
    verdict = evaluate_challenger(GOOD, task="classification", gate=GATE)

    assert verdict.blessed
    assert any("no champion in production: first model" in reason for reason in verdict.reasons)
    assert len(verdict.reasons) == 3  # one per threshold + the champion comparison
    assert verdict.primary_metric == "f1_macro" and verdict.champion_metrics is None


@pytest.mark.parametrize(
    "gate",
    [None, GateConfig(margin=0.0, classification=None, regression=REGRESSION)],
    ids=["no-gate", "no-section-for-task"],
)
def test_missing_gate_config_blesses_nothing(gate):
    verdict = evaluate_challenger(GOOD, task="classification", gate=gate)

    assert not verdict.blessed
    assert verdict.primary_metric is None
    assert "no gate thresholds are configured for classification" in verdict.reasons[0]
    assert "nothing is blessed" in verdict.reasons[0]


def test_metric_below_min_is_not_blessed_and_says_the_numbers():
    verdict = evaluate_challenger({**GOOD, "accuracy": 0.55}, task="classification", gate=GATE)

    assert not verdict.blessed
    assert failing(verdict) == ["fail: accuracy 0.55 is below min 0.6"]


def test_metric_above_max_is_not_blessed():
    verdict = evaluate_challenger({**GOOD_REGRESSION, "rmse": 12.5}, task="regression", gate=GATE)

    assert not verdict.blessed
    assert failing(verdict) == ["fail: rmse 12.5 is above max 10"]


def test_value_on_the_bound_passes():
    assert evaluate_challenger({**GOOD, "accuracy": 0.6}, task="classification", gate=GATE).blessed


@pytest.mark.parametrize("value", [None, math.nan, math.inf, "high"], ids=["missing", "nan", "inf", "text"])
def test_missing_or_nan_metric_fails_its_threshold(value):
    metrics = dict(GOOD)
    if value is None:
        del metrics["accuracy"]
    else:
        metrics["accuracy"] = value

    verdict = evaluate_challenger(metrics, task="classification", gate=GATE)

    assert not verdict.blessed
    assert any("accuracy is missing or not a finite number" in reason for reason in failing(verdict))
    json.dumps(verdict.to_dict(), allow_nan=False)


def test_any_failing_check_blocks_the_blessing():
    # Better than the champion on the primary metric, but under the accuracy threshold.
    verdict = evaluate_challenger(
        {**GOOD, "accuracy": 0.5},
        task="classification",
        gate=GATE,
        champion={**GOOD, "f1_macro": 0.7},
        champion_version=3,
    )
    assert not verdict.blessed
    assert len(failing(verdict)) == 1


def test_worse_challenger_is_rejected():
    verdict = evaluate_challenger(
        {**GOOD, "f1_macro": 0.75},
        task="classification",
        gate=GATE,
        champion={**GOOD, "f1_macro": 0.8},
        champion_version=3,
    )

    assert not verdict.blessed
    assert failing(verdict) == ["fail: f1_macro 0.75 < champion (version 3) 0.8 - margin 0 = 0.8 (higher is better)"]
    assert verdict.champion_version == 3 and verdict.champion_metrics["f1_macro"] == 0.8


def test_better_challenger_is_blessed():
    verdict = evaluate_challenger(
        {**GOOD, "f1_macro": 0.85}, task="classification", gate=GATE, champion=GOOD, champion_version=3
    )
    assert verdict.blessed


def test_tie_is_blessed():
    verdict = evaluate_challenger(GOOD, task="classification", gate=GATE, champion=dict(GOOD), champion_version=1)
    assert verdict.blessed


def test_tie_within_float_noise_is_blessed():
    champion = {**GOOD, "f1_macro": 0.1 + 0.2}
    verdict = evaluate_challenger(
        {**GOOD, "f1_macro": 0.3},
        task="classification",
        gate=GateConfig(margin=0.0, classification=TaskGate("f1_macro", ()), regression=None),
        champion=champion,
    )
    assert verdict.blessed


def test_margin_lets_a_slightly_worse_challenger_through_but_no_further():
    champion = {**GOOD, "f1_macro": 0.8}
    within = evaluate_challenger(
        {**GOOD, "f1_macro": 0.76}, task="classification", gate=with_margin(0.05), champion=champion
    )
    beyond = evaluate_challenger(
        {**GOOD, "f1_macro": 0.74}, task="classification", gate=with_margin(0.05), champion=champion
    )
    assert within.blessed
    assert not beyond.blessed
    assert "margin 0.05 = 0.75" in failing(beyond)[0]


def test_lower_is_better_metric_rejects_a_higher_value():
    champion = {**GOOD_REGRESSION, "rmse": 4.0}
    worse = evaluate_challenger({**GOOD_REGRESSION, "rmse": 4.5}, task="regression", gate=GATE, champion=champion)
    better = evaluate_challenger({**GOOD_REGRESSION, "rmse": 3.5}, task="regression", gate=GATE, champion=champion)

    assert not worse.blessed and better.blessed
    assert "(lower is better)" in failing(worse)[0]


def test_lower_is_better_margin():
    champion = {**GOOD_REGRESSION, "rmse": 4.0}
    within = evaluate_challenger(
        {**GOOD_REGRESSION, "rmse": 4.4}, task="regression", gate=with_margin(0.5), champion=champion
    )
    beyond = evaluate_challenger(
        {**GOOD_REGRESSION, "rmse": 4.6}, task="regression", gate=with_margin(0.5), champion=champion
    )
    assert within.blessed and not beyond.blessed


def test_log_loss_as_primary_metric_is_lower_is_better():
    gate = GateConfig(margin=0.0, classification=TaskGate("log_loss", ()), regression=None)
    champion = {"log_loss": 0.30}
    assert evaluate_challenger({"log_loss": 0.25}, task="classification", gate=gate, champion=champion).blessed
    assert not evaluate_challenger({"log_loss": 0.35}, task="classification", gate=gate, champion=champion).blessed


def test_champion_without_the_primary_metric_cannot_be_compared():
    verdict = evaluate_challenger(
        GOOD, task="classification", gate=GATE, champion={"accuracy": 0.9}, champion_version=7
    )

    assert not verdict.blessed
    assert failing(verdict) == ["fail: cannot compare with the champion (version 7): it has no finite f1_macro"]


def test_champion_with_nan_primary_metric_cannot_be_compared():
    verdict = evaluate_challenger(GOOD, task="classification", gate=GATE, champion={**GOOD, "f1_macro": math.nan})
    assert not verdict.blessed


def test_challenger_without_the_primary_metric_is_not_blessed():
    gate = GateConfig(
        margin=0.0, classification=TaskGate("roc_auc", (Threshold("accuracy", min=0.6),)), regression=None
    )
    assert not evaluate_challenger({"accuracy": 0.9}, task="classification", gate=gate).blessed
    assert not evaluate_challenger(
        {"accuracy": 0.9}, task="classification", gate=gate, champion={"roc_auc": 0.8}
    ).blessed


def test_default_config_gate():
    gate = load_config().gate
    assert evaluate_challenger(GOOD, task="classification", gate=gate).blessed
    assert evaluate_challenger(GOOD_REGRESSION, task="regression", gate=gate).blessed
    assert not evaluate_challenger({**GOOD_REGRESSION, "r2": 0.05}, task="regression", gate=gate).blessed
    assert not evaluate_challenger(GOOD, task="classification", gate=load_config("gate: null").gate).blessed


def test_to_dict_and_markdown():
    verdict = evaluate_challenger(
        {**GOOD, "f1_macro": 0.7}, task="classification", gate=GATE, champion=GOOD, champion_version=2
    )
    data = verdict.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["blessed"] is False and data["champion_version"] == 2

    markdown = verdict.to_markdown()
    assert markdown.startswith("## NOT BLESSED")
    assert "| f1_macro (primary) | 0.7 | 0.8 |" in markdown
    assert all(f"- {reason}" in markdown for reason in verdict.reasons)

    blessed = evaluate_challenger(GOOD, task="classification", gate=GATE).to_markdown()
    assert blessed.startswith("## BLESSED") and "| accuracy | 0.9 | — |" in blessed


def test_an_unreadable_config_reads_as_no_gate_with_the_reason():
    from shipyard.stages.gate import read_gate_config

    assert read_gate_config("") == (load_config().gate, "")
    assert read_gate_config("gate: null") == (None, "")
    gate, reason = read_gate_config("gate: {margin: -1}")
    assert gate is None and reason.startswith("fail: gate config unreadable: ") and "gate.margin" in reason
    assert not evaluate_challenger(GOOD, task="classification", gate=gate).blessed
