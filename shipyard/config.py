"""Typed, validated configuration for a training run.

The built-in defaults live in ``shipyard/defaults/config.yaml``; a user's YAML is merged over
them key by key. Nothing here touches the file system or network at import time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from shipyard.errors import ConfigError
from shipyard.estimators import ESTIMATORS

#: Direction of every metric the gate knows: True when higher is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}


@dataclass(frozen=True)
class ModelConfig:
    estimator: str = "hist_gradient_boosting"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationSettings:
    min_rows: int = 20
    max_unseen_category_fraction: float = 0.05
    max_out_of_range_fraction: float = 0.05
    max_missing_fraction_increase: float = 0.2


@dataclass(frozen=True)
class Threshold:
    metric: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class TaskGate:
    primary_metric: str
    thresholds: tuple[Threshold, ...]


@dataclass(frozen=True)
class GateConfig:
    margin: float
    classification: TaskGate | None
    regression: TaskGate | None

    def for_task(self, task: str) -> TaskGate | None:
        return self.classification if task == "classification" else self.regression


@dataclass(frozen=True)
class SmokeTestSettings:
    rows: int = 50
    max_latency_ms: float = 2000.0


@dataclass(frozen=True)
class ShipyardConfig:
    seed: int
    holdout_fraction: float
    model: ModelConfig
    validation: ValidationSettings
    gate: GateConfig | None  # None: no thresholds configured, so nothing is blessed
    smoke_test: SmokeTestSettings
    raw: Mapping[str, Any]  # the merged mapping, recorded as the run's parameters


def default_config_text() -> str:
    """The built-in configuration as YAML text (shipped inside the package)."""
    return resources.files("shipyard").joinpath("defaults/config.yaml").read_text(encoding="utf-8")


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _parse_yaml(text: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a YAML mapping, got {type(data).__name__}")
    return data


def _number(
    section: str, key: str, value: Any, *, low: float | None = None, high: float | None = None, integer: bool = False
) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"config key '{section}{key}' must be a number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(f"config key '{section}{key}' must be a whole number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"config key '{section}{key}' must be between {low} and {high}, got {value!r}")
    return int(value) if integer else float(value)


def _task_gate(task: str, data: Any) -> TaskGate | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"config key 'gate.{task}' must be a mapping")
    primary = data.get("primary_metric")
    if primary not in HIGHER_IS_BETTER:
        raise ConfigError(
            f"config key 'gate.{task}.primary_metric' must be one of {sorted(HIGHER_IS_BETTER)}, got {primary!r}"
        )
    thresholds = []
    for metric, bounds in (data.get("thresholds") or {}).items():
        if bounds is None:  # `f1_macro: null` drops a default threshold
            continue
        if metric not in HIGHER_IS_BETTER:
            raise ConfigError(
                f"config key 'gate.{task}.thresholds.{metric}': unknown metric; known: {sorted(HIGHER_IS_BETTER)}"
            )
        if not isinstance(bounds, dict) or not set(bounds) <= {"min", "max"} or not bounds:
            raise ConfigError(f"config key 'gate.{task}.thresholds.{metric}' must be {{min: X}} and/or {{max: Y}}")
        thresholds.append(
            Threshold(
                metric=metric,
                min=None
                if bounds.get("min") is None
                else _number(f"gate.{task}.thresholds.{metric}.", "min", bounds["min"]),
                max=None
                if bounds.get("max") is None
                else _number(f"gate.{task}.thresholds.{metric}.", "max", bounds["max"]),
            )
        )
    if not thresholds:
        # Comparing with the champion alone would bless any first model, however bad: no
        # absolute thresholds means no gate for this task, and nothing is blessed (fail closed).
        return None
    return TaskGate(primary_metric=primary, thresholds=tuple(thresholds))


def parse_gate_config(data: Any) -> GateConfig | None:
    """Reads the ``gate`` section; ``None`` or an empty mapping means no gate (bless nothing)."""
    if not data:
        return None
    if not isinstance(data, dict):
        raise ConfigError("config key 'gate' must be a mapping")
    margin = _number("gate.", "margin", data.get("margin", 0.0), low=0.0)
    gate = GateConfig(
        margin=margin,
        classification=_task_gate("classification", data.get("classification")),
        regression=_task_gate("regression", data.get("regression")),
    )
    if gate.classification is None and gate.regression is None:
        return None
    return gate


def load_config(text: str | None = None) -> ShipyardConfig:
    """Parses a user's YAML (or nothing) merged over the built-in defaults.

    Raises:
        ConfigError: the YAML is unreadable or a key has a wrong value; the message names the key.
    """
    merged = _merge(_parse_yaml(default_config_text(), "the built-in config"), _parse_yaml(text or "", "the config"))
    known = {"seed", "holdout_fraction", "model", "validation", "gate", "smoke_test"}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ConfigError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")

    model = merged.get("model") or {}
    estimator = model.get("estimator", "hist_gradient_boosting")
    if estimator not in ESTIMATORS:
        raise ConfigError(f"config key 'model.estimator' must be one of {list(ESTIMATORS)}, got {estimator!r}")
    params = model.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError("config key 'model.params' must be a mapping of estimator parameters")

    val = merged.get("validation") or {}
    smoke = merged.get("smoke_test") or {}
    return ShipyardConfig(
        seed=_number("", "seed", merged.get("seed", 42), low=0, integer=True),
        holdout_fraction=_number("", "holdout_fraction", merged.get("holdout_fraction", 0.2), low=0.05, high=0.5),
        model=ModelConfig(estimator=estimator, params=dict(params)),
        validation=ValidationSettings(
            min_rows=_number("validation.", "min_rows", val.get("min_rows", 20), low=2, integer=True),
            max_unseen_category_fraction=_number(
                "validation.",
                "max_unseen_category_fraction",
                val.get("max_unseen_category_fraction", 0.05),
                low=0,
                high=1,
            ),
            max_out_of_range_fraction=_number(
                "validation.", "max_out_of_range_fraction", val.get("max_out_of_range_fraction", 0.05), low=0, high=1
            ),
            max_missing_fraction_increase=_number(
                "validation.",
                "max_missing_fraction_increase",
                val.get("max_missing_fraction_increase", 0.2),
                low=0,
                high=1,
            ),
        ),
        gate=parse_gate_config(merged.get("gate")),
        smoke_test=SmokeTestSettings(
            rows=_number("smoke_test.", "rows", smoke.get("rows", 50), low=1, integer=True),
            max_latency_ms=_number("smoke_test.", "max_latency_ms", smoke.get("max_latency_ms", 2000), low=0),
        ),
        raw=merged,
    )
